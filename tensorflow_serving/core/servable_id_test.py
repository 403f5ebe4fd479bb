from absl.testing import absltest

from tensorflow_serving.core.servable_id import ServableId


class ServableIdTest(absltest.TestCase):

    def test_prints_like_upstream(self):
        self.assertEqual(str(ServableId("mnist", 1)), "{name: mnist version: 1}")

    def test_is_a_hashable_tuple(self):
        sid = ServableId(name="m", version=3)
        self.assertEqual(sid, ("m", 3))
        self.assertEqual({sid: 1}[ServableId("m", 3)], 1)
        self.assertLess(ServableId("m", 2), ServableId("m", 10))


if __name__ == "__main__":
    absltest.main()
