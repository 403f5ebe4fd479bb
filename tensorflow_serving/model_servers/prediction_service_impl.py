"""tensorflow.serving.PredictionService over ServerCore and the TFS handlers.

Each RPC resolves a ServableHandle (which pins the version for the call) and
hands it to the TensorFlow handler. ServingErrors become the matching gRPC
status; anything else becomes INTERNAL and is logged, so a bug in one request
never takes the server down.
"""

import time

import grpc
from absl import logging

from tensorflow_serving.apis import model_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc
from tensorflow_serving.model_servers import metrics as metrics_lib
from tensorflow_serving.servables.tensorflow import classifier
from tensorflow_serving.servables.tensorflow import get_model_metadata_impl
from tensorflow_serving.servables.tensorflow import multi_inference
from tensorflow_serving.servables.tensorflow import predict_util
from tensorflow_serving.servables.tensorflow import regressor
from tensorflow_serving.servables.tensorflow import util
from tensorflow_serving.util.status import ServingError


def _model_spec_of_multi_inference(request) -> model_pb2.ModelSpec:
    # Upstream's GetModelSpecFromRequest: the first task's spec, else an empty
    # one (which ServerCore refuses: "ModelSpec has no name specified.").
    if request.tasks and request.tasks[0].HasField("model_spec"):
        return request.tasks[0].model_spec
    return model_pb2.ModelSpec()


def abort_with(context, api: str, error: BaseException):
    """Turns an exception into the call's gRPC status (never returns)."""
    if isinstance(error, ServingError):
        logging.vlog(1, "%s failed: %s", api, error.message)
        context.abort(error.code, error.message)
    logging.exception("%s failed with an unexpected error", api)
    context.abort(grpc.StatusCode.INTERNAL,
                  f"{api} failed: {type(error).__name__}: {error}")


class PredictionServiceImpl(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Serves Predict/Classify/Regress/MultiInference/GetModelMetadata."""

    def __init__(self, core, metrics: "metrics_lib.Metrics | None" = None):
        self._core = core
        self._metrics = metrics

    def _call(self, api, handler, request, context, model_spec,
              check=util.require_model_spec):
        """check(request), then handler(handle, request) on the version asked for."""
        metrics = self._metrics
        start = time.perf_counter() if metrics is not None else 0.0
        code = "OK"
        try:
            if check is not None:
                check(request)
            with self._core.servable_handle(model_spec) as handle:
                return handler(handle, request)
        except Exception as e:  # pylint: disable=broad-except
            code = e.code.name if isinstance(e, ServingError) else "INTERNAL"
            abort_with(context, api, e)
        finally:
            if metrics is not None:
                metrics.record(model_spec.name, api, "GRPC", code,
                               time.perf_counter() - start)

    def Predict(self, request, context):
        # The hot path: kept free of anything optional.
        if self._metrics is None:
            try:
                if not request.HasField("model_spec"):
                    util.require_model_spec(request)
                with self._core.servable_handle(request.model_spec) as handle:
                    return predict_util.predict(handle, request)
            except Exception as e:  # pylint: disable=broad-except
                abort_with(context, "Predict", e)
        return self._call("Predict", predict_util.predict, request, context,
                          request.model_spec)

    def Classify(self, request, context):
        return self._call("Classify", classifier.classify, request, context,
                          request.model_spec)

    def Regress(self, request, context):
        return self._call("Regress", regressor.regress, request, context,
                          request.model_spec)

    def MultiInference(self, request, context):
        return self._call("MultiInference", multi_inference.run_multi_inference,
                          request, context, _model_spec_of_multi_inference(request),
                          check=None)

    def GetModelMetadata(self, request, context):
        return self._call("GetModelMetadata",
                          get_model_metadata_impl.get_model_metadata, request,
                          context, request.model_spec,
                          check=get_model_metadata_impl.validate_request)
