"""tensorflow.serving.ModelService: GetModelStatus and HandleReloadConfigRequest.

A reload can wait minutes for models to load, so HandleReloadConfigRequest
runs on a thread pool of its own (reloads apply one at a time anyway): however
many reloads wait, the threads serving predictions stay free. A reload waits
no longer than its call's deadline, and one whose caller has gone away by its
turn is not applied.
"""

import concurrent.futures
import time

import grpc
from absl import logging

from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import model_management_pb2
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.model_servers import get_model_status_impl
from tensorflow_serving.model_servers import grpc_status_util
from tensorflow_serving.util import status


class ModelServiceImpl(model_service_pb2_grpc.ModelServiceServicer):

    def __init__(self, core):
        self._core = core

    def GetModelStatus(self, request, context):
        try:
            return get_model_status_impl.get_model_status(self._core, request)
        except Exception as e:  # pylint: disable=broad-except
            grpc_status_util.abort_with(context, "GetModelStatus", e)

    def HandleReloadConfigRequest(self, request, context):
        config = request.config
        if config.WhichOneof("config") != "model_config_list":
            # Upstream refuses anything but a model_config_list, an empty
            # config included.
            grpc_status_util.abort_with(
                context, "HandleReloadConfigRequest", status.invalid_argument(
                    "ServerModelConfig type not supported by HandleReloadConfigRequest."
                    " Only ModelConfigList is currently supported"))
        remaining = context.time_remaining()
        deadline = None if remaining is None else time.monotonic() + remaining
        try:
            self._core.reload_config(config, deadline=deadline,
                                     cancelled=lambda: not context.is_active())
        except Exception as e:  # pylint: disable=broad-except
            logging.error("ReloadConfig failed: %s", e)
            grpc_status_util.abort_with(context, "HandleReloadConfigRequest", e)
        response = model_management_pb2.ReloadConfigResponse()
        response.status.SetInParent()  # OK, present as upstream sends it.
        return response


_SERVICE = "tensorflow.serving.ModelService"


def add_to_server(servicer: ModelServiceImpl, server) -> concurrent.futures.Executor:
    """Registers the service; HandleReloadConfigRequest gets its own thread.

    Returns the reload thread pool (shut it down after the server stops).
    """
    reload_pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=1, thread_name_prefix="model_config_reload")

    def reload(request, context):
        return servicer.HandleReloadConfigRequest(request, context)

    # grpcio runs a method on the pool its behavior names, if any.
    reload.experimental_thread_pool = reload_pool
    handlers = {
        "GetModelStatus": grpc.unary_unary_rpc_method_handler(
            servicer.GetModelStatus,
            request_deserializer=get_model_status_pb2.GetModelStatusRequest.FromString,
            response_serializer=get_model_status_pb2.GetModelStatusResponse.SerializeToString),
        "HandleReloadConfigRequest": grpc.unary_unary_rpc_method_handler(
            reload,
            request_deserializer=model_management_pb2.ReloadConfigRequest.FromString,
            response_serializer=model_management_pb2.ReloadConfigResponse.SerializeToString),
    }
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(_SERVICE, handlers),))
    server.add_registered_method_handlers(_SERVICE, handlers)
    return reload_pool
