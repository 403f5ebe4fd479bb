from absl.testing import absltest

from tensorflow_serving.core.servable_state import ManagerState


class ServableStateTest(absltest.TestCase):

    def test_is_a_string(self):
        self.assertEqual(ManagerState.AVAILABLE, "AVAILABLE")
        self.assertEqual(str(ManagerState.END), "END")
        self.assertIs(ManagerState("LOADING"), ManagerState.LOADING)


if __name__ == "__main__":
    absltest.main()
