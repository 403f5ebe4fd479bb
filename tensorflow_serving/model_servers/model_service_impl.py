"""tensorflow.serving.ModelService: GetModelStatus and HandleReloadConfigRequest."""

from absl import logging

from tensorflow_serving.apis import model_management_pb2
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.model_servers import get_model_status_impl
from tensorflow_serving.model_servers.prediction_service_impl import abort_with
from tensorflow_serving.util import status


class ModelServiceImpl(model_service_pb2_grpc.ModelServiceServicer):

    def __init__(self, core):
        self._core = core

    def GetModelStatus(self, request, context):
        try:
            return get_model_status_impl.get_model_status(self._core, request)
        except Exception as e:  # pylint: disable=broad-except
            abort_with(context, "GetModelStatus", e)

    def HandleReloadConfigRequest(self, request, context):
        config = request.config
        if config.WhichOneof("config") != "model_config_list":
            # Upstream refuses anything but a model_config_list, an empty
            # config included.
            abort_with(context, "HandleReloadConfigRequest", status.invalid_argument(
                "ServerModelConfig type not supported by HandleReloadConfigRequest."
                " Only ModelConfigList is currently supported"))
        try:
            self._core.reload_config(config)
        except Exception as e:  # pylint: disable=broad-except
            logging.error("ReloadConfig failed: %s", e)
            abort_with(context, "HandleReloadConfigRequest", e)
        response = model_management_pb2.ReloadConfigResponse()
        response.status.SetInParent()  # OK, present as upstream sends it.
        return response
