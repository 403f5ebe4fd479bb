"""GetModelStatus: every version's manager state and health, as upstream reports."""

from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.util import status as status_lib

_State = get_model_status_pb2.ModelVersionStatus


def _state_number(state) -> int:
    name = getattr(state, "name", None) or str(state)
    try:
        return _State.State.Value(str(name).upper())
    except ValueError:
        return _State.UNKNOWN


def _fill_status(proto, error) -> None:
    if error is None:
        proto.error_code = 0
        proto.error_message = ""
    else:
        proto.error_code = error.code.value[0]
        proto.error_message = error.message


def get_model_status(core, request) -> get_model_status_pb2.GetModelStatusResponse:
    """Raises ServingError: INVALID_ARGUMENT without a model spec, NOT_FOUND if unknown."""
    if not request.HasField("model_spec"):
        raise status_lib.invalid_argument("Missing ModelSpec")
    spec = request.model_spec
    if not spec.name:
        raise status_lib.invalid_argument("Missing model name in ModelSpec")
    version = spec.version.value if spec.HasField("version") else None
    if version is None and spec.version_label:
        # The REST API's /labels/<l> form: resolve the label like Predict does.
        version = core.version_labels(spec.name).get(spec.version_label)
        if version is None:
            raise status_lib.invalid_argument(
                f"Unrecognized servable version label: {spec.version_label}")
    try:
        states = core.model_version_states(spec.name, version)
    except status_lib.ServingError as e:
        if e.code.name != "NOT_FOUND":
            raise
        states = []
    if not states:
        if version is not None:
            raise status_lib.not_found(
                f"Could not find version {version} of model {spec.name}")
        raise status_lib.not_found(
            f"Could not find any versions of model {spec.name}")
    response = get_model_status_pb2.GetModelStatusResponse()
    # Upstream's monitor keeps versions in descending order.
    for v, state, error in sorted(states, key=lambda s: -s[0]):
        entry = response.model_version_status.add()
        entry.version = v
        entry.state = _state_number(state)
        _fill_status(entry.status, error)
    return response
