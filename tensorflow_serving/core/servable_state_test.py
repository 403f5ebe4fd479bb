from absl.testing import absltest
from tensorflow_serving.apis import get_model_status_pb2

from tensorflow_serving.core.servable_state import ManagerState


class ServableStateTest(absltest.TestCase):

    def test_numbers_match_model_version_status(self):
        proto_state = get_model_status_pb2.ModelVersionStatus.State
        for state in ManagerState:
            self.assertEqual(state.model_version_status_state,
                             proto_state.Value(state.name))

    def test_is_a_string(self):
        self.assertEqual(ManagerState.AVAILABLE, "AVAILABLE")
        self.assertEqual(str(ManagerState.END), "END")
        self.assertIs(ManagerState("LOADING"), ManagerState.LOADING)


if __name__ == "__main__":
    absltest.main()
