"""tensorflow.serving.PredictionService over ServerCore and the TFS handlers.

Each RPC resolves a ServableHandle (which pins the version for the call) and
hands it to the TensorFlow handler, inside a RunOptions scope whose timeout is
what is left of the call's deadline (upstream's DeadlineToTimeoutMillis).
ServingErrors become the matching gRPC status; anything else becomes INTERNAL
and is logged, so a bug in one request never takes the server down. Predict,
Classify and Regress record upstream's request_count and request_latency.
"""

import time

import grpc

from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import inference_pb2
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc
from tensorflow_serving.apis import regression_pb2
from tensorflow_serving.model_servers import grpc_status_util
from tensorflow_serving.servables.tensorflow import classifier
from tensorflow_serving.servables.tensorflow import get_model_metadata_impl
from tensorflow_serving.servables.tensorflow import multi_inference
from tensorflow_serving.servables.tensorflow import predict_util
from tensorflow_serving.servables.tensorflow import regressor
from tensorflow_serving.servables.tensorflow import request_metrics
from tensorflow_serving.servables.tensorflow import util
from tensorflow_serving.util import deterministic_serialization
from tensorflow_serving.util import monitoring
from tensorflow_serving.util import run_options
from tensorflow_serving.util.status import ServingError

# An already expired deadline still gets a (tiny) timeout rather than none.
_MIN_TIMEOUT_SECONDS = 1e-3


def _model_spec_of_multi_inference(request) -> model_pb2.ModelSpec:
    # Upstream's GetModelSpecFromRequest: the first task's spec, else an empty
    # one (which ServerCore refuses: "ModelSpec has no name specified.").
    if request.tasks and request.tasks[0].HasField("model_spec"):
        return request.tasks[0].model_spec
    return model_pb2.ModelSpec()


def deadline_timeout(context):
    """Seconds left before the call's deadline (None: the call has none)."""
    remaining = context.time_remaining()
    if remaining is None:
        return None
    return max(remaining, _MIN_TIMEOUT_SECONDS)


_SERVICE = "tensorflow.serving.PredictionService"


def add_to_server(servicer, server) -> None:
    """Registers the service with responses serialized deterministically.

    Map entries (e.g. PredictResponse.outputs) then come out sorted by key, as
    the native data plane's C++ protobuf writes them, so both planes answer
    with the same bytes.
    """
    types = {
        "Classify": classification_pb2.ClassificationRequest,
        "Regress": regression_pb2.RegressionRequest,
        "Predict": predict_pb2.PredictRequest,
        "MultiInference": inference_pb2.MultiInferenceRequest,
        "GetModelMetadata": get_model_metadata_pb2.GetModelMetadataRequest,
    }
    handlers = {
        method: grpc.unary_unary_rpc_method_handler(
            getattr(servicer, method), request_deserializer=request.FromString,
            response_serializer=deterministic_serialization.serialize)
        for method, request in types.items()}
    # Generic handlers only: grpcio then names the method in its answer to a
    # call without a request message, as the native plane does.
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(_SERVICE, handlers),))


class PredictionServiceImpl(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Serves Predict/Classify/Regress/MultiInference/GetModelMetadata."""

    def __init__(self, core, enforce_session_run_timeout: bool = True,
                 serialize_as_tensor_content: bool = False):
        self._core = core
        self._enforce_timeout = enforce_session_run_timeout
        self._tensor_content = serialize_as_tensor_content

    def _call(self, api, handler, request, context, model_spec, record=True,
              check=util.require_model_spec):
        """check(request), then handler(handle, request) on the version asked for."""
        timeout = deadline_timeout(context) if self._enforce_timeout else None
        start = time.perf_counter()
        try:
            if check is not None:
                check(request)
            with run_options.scope(timeout, model_spec.name, api):
                with self._core.servable_handle(model_spec) as handle:
                    response = handler(handle, request)
        except Exception as e:  # pylint: disable=broad-except
            if record and monitoring.enabled():
                request_metrics.record_request_count(
                    model_spec.name, e.code if isinstance(e, ServingError)
                    else grpc.StatusCode.INTERNAL)
            grpc_status_util.abort_with(context, api, e)
        if record and monitoring.enabled():
            request_metrics.record_request_latency(
                model_spec.name, api, "GRPC", (time.perf_counter() - start) * 1e6)
            request_metrics.record_request_count(model_spec.name, grpc.StatusCode.OK)
        return response

    def Predict(self, request, context):
        return self._call("Predict", self._predict, request, context,
                          request.model_spec)

    def _predict(self, handle, request):
        return predict_util.predict(handle, request,
                                    tensor_content=self._tensor_content)

    def Classify(self, request, context):
        return self._call("Classify", classifier.classify, request, context,
                          request.model_spec)

    def Regress(self, request, context):
        return self._call("Regress", regressor.regress, request, context,
                          request.model_spec)

    def MultiInference(self, request, context):
        return self._call("MultiInference", multi_inference.run_multi_inference,
                          request, context, _model_spec_of_multi_inference(request),
                          record=False, check=None)

    def GetModelMetadata(self, request, context):
        return self._call("GetModelMetadata",
                          get_model_metadata_impl.get_model_metadata, request,
                          context, request.model_spec, record=False,
                          check=get_model_metadata_impl.validate_request)
