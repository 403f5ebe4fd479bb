"""GetModelStatus: every version's manager state and health, as upstream reports."""

from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.util import status as status_lib

_State = get_model_status_pb2.ModelVersionStatus


def _state_number(state) -> int:
    """The ModelVersionStatus.State of a ManagerState: the same name."""
    return _State.State.Value(state.name)


def _fill_status(proto, error) -> None:
    if error is None:
        proto.error_code = 0
        proto.error_message = ""
    else:
        proto.error_code = error.code.value[0]
        proto.error_message = error.message


def get_model_status(core, request) -> get_model_status_pb2.GetModelStatusResponse:
    """Every version the manager has seen of the model, or the one asked for.

    As upstream, a version label is not resolved: without `version` every
    version is reported. Raises ServingError: INVALID_ARGUMENT without a model
    spec, NOT_FOUND when the model (even an empty name) or version is unknown.
    """
    if not request.HasField("model_spec"):
        raise status_lib.invalid_argument("Missing ModelSpec")
    spec = request.model_spec
    version = spec.version.value if spec.HasField("version") else None
    states = core.model_version_states(spec.name, version)
    response = get_model_status_pb2.GetModelStatusResponse()
    for v, state, error in states:
        entry = response.model_version_status.add()
        entry.version = v
        entry.state = _state_number(state)
        _fill_status(entry.status, error)
    return response
