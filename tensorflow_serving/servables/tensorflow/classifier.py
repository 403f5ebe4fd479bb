"""The Classify RPC on a SavedModelBundle (upstream's classifier.cc)."""

import numpy as np
from tensorflow.python.saved_model import signature_constants as sc

from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.servables.tensorflow import tensor_util
from tensorflow_serving.servables.tensorflow import util
from tensorflow_serving.util import status


def get_classification_signature(bundle, model_spec):
    """(name, SignatureDef) of the classify signature the request names."""
    return util.get_signature(bundle, model_spec, sc.CLASSIFY_METHOD_NAME, "classification")


def _check_method(signature):
    util.check_method(signature, sc.CLASSIFY_METHOD_NAME, "classification")


def pre_process_classification(signature) -> tuple[str, tuple[str, ...]]:
    """Validates a classify signature; returns (input alias, output aliases)."""
    _check_method(signature)
    if len(signature.inputs) != 1:
        raise status.invalid_argument("Expected one input Tensor.")
    if len(signature.outputs) not in (1, 2):
        raise status.invalid_argument(
            "Expected one or two output Tensors, found "
            f"{len(signature.outputs)}")
    if sc.CLASSIFY_INPUTS not in signature.inputs:
        raise status.failed_precondition(
            f"No classification inputs found in SignatureDef: {signature}")
    outputs = tuple(k for k in (sc.CLASSIFY_OUTPUT_CLASSES,
                                sc.CLASSIFY_OUTPUT_SCORES)
                    if k in signature.outputs)
    if not outputs:
        raise status.failed_precondition(
            "Expected classification signature outputs to contain at least "
            f'one of "{sc.CLASSIFY_OUTPUT_CLASSES}" or '
            f'"{sc.CLASSIFY_OUTPUT_SCORES}". Signature was: {signature}')
    return sc.CLASSIFY_INPUTS, outputs


def _check_output(what, value, dtype_kinds, dtype_name, num_examples):
    if value.ndim != 2:
        raise status.invalid_argument(
            "Expected Tensor shape: [batch_size num_classes] but got "
            f"[{','.join(str(d) for d in value.shape)}]")
    if value.dtype.kind not in dtype_kinds or (
            dtype_name == "DT_FLOAT" and value.dtype != np.float32):
        got = tensor_util.numpy_to_dtype(value.dtype)
        raise status.invalid_argument(
            f"Expected {what} Tensor of {dtype_name}. Got: "
            f"{tensor_util.dtype_name(got) if got is not None else value.dtype}")
    if value.shape[0] != num_examples:
        raise status.invalid_argument(
            f"Expected {what} output batch size of {num_examples}. "
            f"Got: {value.shape[0]}")


def post_process_classification_result(
        num_examples: int, outputs, result: classification_pb2.ClassificationResult
) -> None:
    """Fills `result` from the "classes"/"scores" arrays in `outputs`."""
    classes = outputs.get(sc.CLASSIFY_OUTPUT_CLASSES)
    scores = outputs.get(sc.CLASSIFY_OUTPUT_SCORES)
    if classes is not None:
        _check_output("classes", classes, "OSU", "DT_STRING", num_examples)
    if scores is not None:
        _check_output("scores", scores, "f", "DT_FLOAT", num_examples)
    if classes is not None and scores is not None:
        if classes.shape[1] != scores.shape[1]:
            raise status.invalid_argument(
                "Tensors class and score should match in dim_size(1). Got "
                f"{classes.shape[1]} vs. {scores.shape[1]}")
    labels = None
    if classes is not None:
        labels = [[c.encode() if isinstance(c, str) else bytes(c)
                   for c in row] for row in classes.tolist()]
    score_rows = scores.tolist() if scores is not None else None
    num_classes = (classes if classes is not None else scores).shape[1]
    for i in range(num_examples):
        classifications = result.classifications.add()
        for c in range(num_classes):
            cl = classifications.classes.add()
            if labels is not None:
                cl.label = labels[i][c]
            if score_rows is not None:
                cl.score = score_rows[i][c]


def classify(handle, request: classification_pb2.ClassificationRequest
             ) -> classification_pb2.ClassificationResponse:
    bundle = handle.servable
    name, signature = get_classification_signature(bundle, request.model_spec)
    input_alias, output_aliases = pre_process_classification(signature)
    examples = util.input_to_serialized_examples(request.input)
    outputs = bundle.run(name, {input_alias: examples}, output_aliases)
    response = classification_pb2.ClassificationResponse()
    util.make_model_spec(response.model_spec, request.model_spec.name,
                         request.model_spec.signature_name, handle.id.version)
    post_process_classification_result(len(examples), outputs,
                                       response.result)
    return response
