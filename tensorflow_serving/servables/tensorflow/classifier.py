"""The Classify RPC on a SavedModelBundle (upstream's classifier.cc).

The signature's method name is checked only with
--enable_signature_method_name_check, as upstream: without it any signature
with one input "inputs" and a "classes" and/or "scores" output classifies,
which is how TF2 SavedModels (whose signatures all say "predict") serve it.
"""

import tensorflow as tf
from tensorflow.core.framework import types_pb2

from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.servables.tensorflow import tensor_util
from tensorflow_serving.servables.tensorflow import util
from tensorflow_serving.util import dtypes
from tensorflow_serving.util import status

CLASSIFY_INPUTS = tf.saved_model.CLASSIFY_INPUTS
CLASSIFY_OUTPUT_CLASSES = tf.saved_model.CLASSIFY_OUTPUT_CLASSES
CLASSIFY_OUTPUT_SCORES = tf.saved_model.CLASSIFY_OUTPUT_SCORES


def get_classification_signature(bundle, model_spec):
    """Upstream's GetClassificationSignatureDef: (name, SignatureDef)."""
    return util.find_signature(bundle, model_spec, util.CLASSIFY_METHOD_NAME,
                               "classification",
                               pre_process_classification)


def pre_process_classification(signature_def) -> tuple[str, list[str]]:
    """Upstream's PreProcessClassification: (input tensor, output tensors).

    Raises:
      ServingError: INVALID_ARGUMENT, with upstream's message, for a signature
        that is not a classification signature upstream would run.
    """
    util.check_method_name(signature_def, util.CLASSIFY_METHOD_NAME,
                           "classification")
    if len(signature_def.inputs) != 1:
        raise status.invalid_argument("Expected one input Tensor.")
    if len(signature_def.outputs) not in (1, 2):
        raise status.invalid_argument(
            "Expected one or two output Tensors, found "
            f"{len(signature_def.outputs)}")
    if CLASSIFY_INPUTS not in signature_def.inputs:
        raise status.invalid_argument(
            "No classification inputs found in SignatureDef: "
            + util.signature_debug_string(signature_def))
    outputs = signature_def.outputs
    if CLASSIFY_OUTPUT_CLASSES not in outputs and CLASSIFY_OUTPUT_SCORES not in outputs:
        raise status.invalid_argument(
            "Expected classification signature outputs to contain at least "
            f'one of "{CLASSIFY_OUTPUT_CLASSES}" or "{CLASSIFY_OUTPUT_SCORES}". '
            "Signature was: " + util.signature_debug_string(signature_def))
    names = [outputs[k].name for k in (CLASSIFY_OUTPUT_CLASSES, CLASSIFY_OUTPUT_SCORES)
             if k in outputs]
    return signature_def.inputs[CLASSIFY_INPUTS].name, names


def _check_output(what, value, dtype, num_examples):
    if value.ndim != 2:
        raise status.invalid_argument(
            "Expected Tensor shape: [batch_size num_classes] but got "
            + tensor_util.shape_debug_string(value.shape))
    got = dtypes.numpy_to_dtype(value.dtype)
    if got != dtype:
        raise status.invalid_argument(
            f"Expected {what} Tensor of {dtypes.dtype_enum_name(dtype)}. "
            f"Got: {dtypes.dtype_enum_name(got)}")
    if value.shape[0] != num_examples:
        raise status.invalid_argument(
            f"Expected {what} output batch size of {num_examples}. "
            f"Got: {value.shape[0]}")


def post_process_classification_result(
        signature_def, num_examples: int, outputs: dict,
        result: classification_pb2.ClassificationResult) -> None:
    """Upstream's PostProcessClassificationResult; `outputs` keyed by tensor name.

    Raises:
      ServingError: INVALID_ARGUMENT, with upstream's message, for outputs of
        the wrong shape or type.
    """
    classes_info = signature_def.outputs.get(CLASSIFY_OUTPUT_CLASSES)
    scores_info = signature_def.outputs.get(CLASSIFY_OUTPUT_SCORES)
    classes = outputs.get(classes_info.name) if classes_info is not None else None
    scores = outputs.get(scores_info.name) if scores_info is not None else None
    if classes is not None:
        _check_output("classes", classes, types_pb2.DT_STRING, num_examples)
    if scores is not None:
        _check_output("scores", scores, types_pb2.DT_FLOAT, num_examples)
    if classes is not None and scores is not None:
        if classes.shape[1] != scores.shape[1]:
            raise status.invalid_argument(
                "Tensors class and score should match in dim_size(1). Got "
                f"{classes.shape[1]} vs. {scores.shape[1]}")
    num_classes = 0
    if classes is not None:
        num_classes = classes.shape[1]
    elif scores is not None:
        num_classes = scores.shape[1]
    labels = None
    if classes is not None:
        labels = [[c.encode() if isinstance(c, str) else bytes(c) for c in row]
                  for row in classes.tolist()]
    score_rows = scores.tolist() if scores is not None else None
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
    """Upstream's RunClassify on a resolved handle."""
    bundle = handle.servable
    name, signature_def = get_classification_signature(bundle, request.model_spec)
    input_name, output_names = pre_process_classification(signature_def)
    response = classification_pb2.ClassificationResponse()
    util.make_model_spec(response.model_spec, request.model_spec.name,
                         request.model_spec.signature_name, handle.id.version)
    examples = util.input_to_serialized_examples(request.input)
    outputs = bundle.run({input_name: examples}, output_names,
                         batchable=bundle.signature(name).batchable)
    post_process_classification_result(signature_def, len(examples), outputs,
                                       response.result)
    return response
