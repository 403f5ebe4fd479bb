from absl.testing import absltest

from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.core.servable_state import ManagerState
from tensorflow_serving.model_servers import get_model_status_impl
from tensorflow_serving.util import status

_State = get_model_status_pb2.ModelVersionStatus.State


class _Core:
    """model_version_states() of a ServerCore: [(version, state, error)]."""

    def __init__(self, states):
        self._states = states

    def model_version_states(self, name, version=None):
        del name
        if version is not None:
            return [s for s in self._states if s[0] == version]
        return list(self._states)


def _request(name, version=None):
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = name
    if version is not None:
        request.model_spec.version.value = version
    return request


class GetModelStatusTest(absltest.TestCase):

    def test_every_manager_state_is_reported_as_its_proto_state(self):
        core = _Core([(v, state, None) for v, state in enumerate(ManagerState)])
        response = get_model_status_impl.get_model_status(core, _request("m"))
        self.assertEqual([s.state for s in response.model_version_status],
                         [_State.Value(state.name) for state in ManagerState])

    def test_a_load_error_is_the_versions_status(self):
        core = _Core([(2, ManagerState.END, status.not_found("no saved_model.pb")),
                      (1, ManagerState.AVAILABLE, None)])
        response = get_model_status_impl.get_model_status(core, _request("m"))
        broken, good = response.model_version_status
        self.assertEqual((broken.version, broken.state), (2, _State.END))
        self.assertEqual(broken.status.error_code, 5)  # NOT_FOUND
        self.assertEqual(broken.status.error_message, "no saved_model.pb")
        self.assertEqual((good.version, good.state), (1, _State.AVAILABLE))
        self.assertEqual(good.status.error_code, 0)

    def test_a_request_without_model_spec_is_invalid(self):
        with self.assertRaises(status.ServingError) as cm:
            get_model_status_impl.get_model_status(
                _Core([]), get_model_status_pb2.GetModelStatusRequest())
        self.assertEqual(cm.exception, status.invalid_argument("Missing ModelSpec"))


if __name__ == "__main__":
    absltest.main()
