"""tensorflow.serving.ModelService: GetModelStatus and HandleReloadConfigRequest."""

import grpc
from absl import logging

from tensorflow_serving.apis import model_management_pb2
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.model_servers import get_model_status_impl
from tensorflow_serving.model_servers.prediction_service_impl import abort_with
from tensorflow_serving.util.status import ServingError


class ModelServiceImpl(model_service_pb2_grpc.ModelServiceServicer):

    def __init__(self, core):
        self._core = core

    def GetModelStatus(self, request, context):
        try:
            return get_model_status_impl.get_model_status(self._core, request)
        except Exception as e:  # pylint: disable=broad-except
            abort_with(context, "GetModelStatus", e)

    def HandleReloadConfigRequest(self, request, context):
        response = model_management_pb2.ReloadConfigResponse()
        config = request.config
        which = config.WhichOneof("config")
        if which != "model_config_list":
            code = grpc.StatusCode.UNIMPLEMENTED
            message = ("ServerCore::HandleReloadConfigRequest only supports "
                       "reloading model_config_list configs.")
            if which is None:
                code = grpc.StatusCode.INVALID_ARGUMENT
                message = "ReloadConfigRequest has no config (expected model_config_list)"
            response.status.error_code = code.value[0]
            response.status.error_message = message
            context.abort(code, message)
        try:
            self._core.reload_config(config)
        except Exception as e:  # pylint: disable=broad-except
            err = e if isinstance(e, ServingError) else None
            logging.error("ReloadConfig failed: %s", e)
            if err is None:
                abort_with(context, "HandleReloadConfigRequest", e)
            context.abort(err.code, err.message)
        response.status.error_code = 0
        response.status.error_message = ""
        return response
