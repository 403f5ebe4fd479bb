"""MultiInference: several classify/regress tasks sharing one input and one run.

Upstream's multi_inference.cc: every task names the same model and a distinct
signature; the request's examples are fed to every signature's input tensor
and all requested outputs are fetched in a single Session run (after which
request_example_counts is recorded, as upstream records it); then each task's
result is built, in request order.
"""

from tensorflow_serving.apis import inference_pb2
from tensorflow_serving.servables.tensorflow import classifier
from tensorflow_serving.servables.tensorflow import regressor
from tensorflow_serving.servables.tensorflow import request_metrics
from tensorflow_serving.servables.tensorflow import util
from tensorflow_serving.util import monitoring
from tensorflow_serving.util import status


def run_multi_inference(handle, request: inference_pb2.MultiInferenceRequest
                        ) -> inference_pb2.MultiInferenceResponse:
    """Upstream's TensorFlowMultiInferenceRunner::Infer on a resolved handle.

    Raises:
      ServingError: INVALID_ARGUMENT for tasks upstream refuses (an empty or
        other model name, a signature twice, inputs that differ), UNIMPLEMENTED
        for a method other than classify or regress; a task's own error.
    """
    bundle = handle.servable
    model_name = ""
    seen = set()
    input_names = set()
    output_names = set()
    for task in request.tasks:
        if not task.model_spec.name:
            raise status.invalid_argument("Found ModelSpec with an empty model name.")
        if not model_name:
            model_name = task.model_spec.name
        elif model_name != task.model_spec.name:
            raise status.invalid_argument(
                "All ModelSpecs in a MultiInferenceRequest must access the same "
                "model name.")
        name = task.model_spec.signature_name or util.DEFAULT_SIGNATURE
        if name in seen:
            raise status.invalid_argument(f"Duplicate evaluation of signature: {name}")
        seen.add(name)
        signature_def = bundle.signature_defs.get(name)
        if signature_def is None:
            raise status.invalid_argument(
                f"Requested signature not found in model graph: {name}")
        if task.method_name == util.CLASSIFY_METHOD_NAME:
            input_name, names = classifier.pre_process_classification(signature_def)
        elif task.method_name == util.REGRESS_METHOD_NAME:
            input_name, names = regressor.pre_process_regression(signature_def)
        else:
            raise status.unimplemented(
                f"Unsupported signature method_name: {task.method_name}")
        input_names.add(input_name)
        output_names.update(names)

    examples = util.input_to_serialized_examples(request.input)
    outputs = bundle.run({name: examples for name in sorted(input_names)},
                         sorted(output_names))
    if monitoring.enabled():
        request_metrics.record_request_example_count(model_name, len(examples))
    response = inference_pb2.MultiInferenceResponse()
    for task in request.tasks:
        signature_def = bundle.signature_defs[
            task.model_spec.signature_name or util.DEFAULT_SIGNATURE]
        result = response.results.add()
        if task.method_name == util.CLASSIFY_METHOD_NAME:
            classifier.post_process_classification_result(
                signature_def, len(examples), outputs, result.classification_result)
        else:
            regressor.post_process_regression_result(
                signature_def, len(examples), outputs, result.regression_result)
        util.make_model_spec(result.model_spec, task.model_spec.name,
                             task.model_spec.signature_name, handle.id.version)
    return response
