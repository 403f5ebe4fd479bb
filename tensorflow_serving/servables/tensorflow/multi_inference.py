"""MultiInference: several classify/regress tasks sharing one input and one run.

Upstream's multi_inference.cc: every task must name the same model and feed
the same input tensor; all requested outputs are fetched in a single Session
run, then each task's result is built in request order.
"""

from tensorflow.python.saved_model import signature_constants as sc

from tensorflow_serving.apis import inference_pb2
from tensorflow_serving.servables.tensorflow import classifier
from tensorflow_serving.servables.tensorflow import regressor
from tensorflow_serving.servables.tensorflow import util
from tensorflow_serving.util import status


def run_multi_inference(handle, request: inference_pb2.MultiInferenceRequest
                        ) -> inference_pb2.MultiInferenceResponse:
    bundle = handle.servable
    if not request.tasks:
        raise status.invalid_argument(
            "MultiInferenceRequest must contain at least one task.")
    model_name = ""
    input_tensor = ""
    seen = set()
    plans = []  # (task, {alias: tensor name})
    fetches = {}  # tensor name -> index, in first-seen order
    for task in request.tasks:
        if not task.model_spec.name:
            raise status.invalid_argument(
                "Found ModelSpec with an empty model name.")
        if not model_name:
            model_name = task.model_spec.name
        elif model_name != task.model_spec.name:
            raise status.invalid_argument(
                "All ModelSpecs in a MultiInferenceRequest must access the "
                "same model name.")
        name = task.model_spec.signature_name or util.DEFAULT_SIGNATURE
        if name in seen:
            raise status.invalid_argument(
                f"Duplicate evaluation of signature: {name}")
        seen.add(name)
        signature = bundle.signature_defs.get(name)
        if signature is None:
            raise status.invalid_argument(
                f"Requested signature not found in model graph: {name}")
        if task.method_name == sc.CLASSIFY_METHOD_NAME:
            input_alias, output_aliases = (
                classifier.pre_process_classification(signature))
        elif task.method_name == sc.REGRESS_METHOD_NAME:
            input_alias, output_aliases = (
                regressor.pre_process_regression(signature))
        else:
            raise status.unimplemented(
                f"Unsupported signature method_name: {task.method_name}")
        tensor = signature.inputs[input_alias].name
        if not input_tensor:
            input_tensor = tensor
        elif input_tensor != tensor:
            raise status.invalid_argument(
                "Input tensor must be the same for all Signatures.")
        names = {}
        for alias in output_aliases:
            names[alias] = signature.outputs[alias].name
            fetches.setdefault(names[alias], len(fetches))
        plans.append((task, names))

    examples = util.input_to_serialized_examples(request.input)
    values = bundle.run_tensors({input_tensor: examples}, tuple(fetches))
    response = inference_pb2.MultiInferenceResponse()
    for task, names in plans:
        result = response.results.add()
        outputs = {alias: values[fetches[t]] for alias, t in names.items()}
        if task.method_name == sc.CLASSIFY_METHOD_NAME:
            classifier.post_process_classification_result(
                len(examples), outputs, result.classification_result)
        else:
            regressor.post_process_regression_result(
                len(examples), outputs, result.regression_result)
        util.make_model_spec(result.model_spec, task.model_spec.name,
                             task.model_spec.signature_name,
                             handle.id.version)
    return response
