import itertools

from absl.testing import absltest

from tensorflow_serving.util import wait


class WaitForTest(absltest.TestCase):

    def test_returns_the_first_true_value(self):
        values = iter([0, None, "", "ready"])
        self.assertEqual(wait.wait_for(lambda: next(values), "ready"), "ready")

    def test_times_out_naming_what_it_waited_for(self):
        calls = itertools.count()
        with self.assertRaisesRegex(AssertionError, "waiting for the moon"):
            wait.wait_for(lambda: next(calls) < 0, "the moon", timeout=0.05)
        self.assertGreater(next(calls), 1)  # it kept asking until the deadline


if __name__ == "__main__":
    absltest.main()
