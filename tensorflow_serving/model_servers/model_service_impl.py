"""tensorflow.serving.ModelService: GetModelStatus and HandleReloadConfigRequest.

The native gRPC server hands each call's request bytes to the control plane
(native_data_plane.py), which answers here with the response's bytes or a
ServingError. A reload can wait minutes for models; the control plane runs
reloads on a thread of their own (they apply one at a time anyway). A reload
waits no longer than its call's deadline, and one whose caller has gone away
by its turn is not applied.
"""

import time

from absl import logging

from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import model_management_pb2
from tensorflow_serving.model_servers import get_model_status_impl
from tensorflow_serving.util import status


def _parse(message_type, request: bytes):
    try:
        return message_type.FromString(request)
    except Exception:  # pylint: disable=broad-except
        # grpcio's words for a request it cannot decode.
        raise status.internal("Exception deserializing request!") from None


class ModelServiceImpl:

    def __init__(self, core):
        self._core = core

    def get_model_status(self, request: bytes, call) -> bytes:
        """A serialized GetModelStatusRequest's answer, serialized."""
        del call
        request = _parse(get_model_status_pb2.GetModelStatusRequest, request)
        return get_model_status_impl.get_model_status(
            self._core, request).SerializeToString()

    def handle_reload_config_request(self, request: bytes, call) -> bytes:
        """Applies a serialized ReloadConfigRequest; `call` gives its caller's
        deadline (remaining()) and whether the caller has gone (cancelled())."""
        request = _parse(model_management_pb2.ReloadConfigRequest, request)
        config = request.config
        if config.WhichOneof("config") != "model_config_list":
            # Upstream refuses anything but a model_config_list, an empty
            # config included.
            raise status.invalid_argument(
                "ServerModelConfig type not supported by HandleReloadConfigRequest."
                " Only ModelConfigList is currently supported")
        remaining = call.remaining()
        deadline = None if remaining is None else time.monotonic() + remaining
        try:
            self._core.reload_config(config, deadline=deadline, cancelled=call.cancelled)
        except status.ServingError as e:
            logging.error("ReloadConfig failed: %s", e)
            raise
        response = model_management_pb2.ReloadConfigResponse()
        response.status.SetInParent()  # OK, present as upstream sends it.
        return response.SerializeToString()
