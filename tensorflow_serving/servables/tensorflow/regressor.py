"""The Regress RPC on a SavedModelBundle (upstream's regressor.cc).

As for Classify, the signature's method name is checked only with
--enable_signature_method_name_check; otherwise any signature with one input
"inputs" and one output "outputs" regresses.
"""

import tensorflow as tf
from tensorflow.core.framework import types_pb2

from tensorflow_serving.apis import regression_pb2
from tensorflow_serving.servables.tensorflow import tensor_util
from tensorflow_serving.servables.tensorflow import util
from tensorflow_serving.util import dtypes
from tensorflow_serving.util import status

REGRESS_INPUTS = tf.saved_model.REGRESS_INPUTS
REGRESS_OUTPUTS = tf.saved_model.REGRESS_OUTPUTS


def get_regression_signature(bundle, model_spec):
    """Upstream's GetRegressionSignatureDef: (name, SignatureDef)."""
    return util.find_signature(bundle, model_spec, util.REGRESS_METHOD_NAME,
                               "regression",
                               pre_process_regression)


def pre_process_regression(signature_def) -> tuple[str, list[str]]:
    """Upstream's PreProcessRegression: (input tensor, [output tensor]).

    Raises:
      ServingError: INVALID_ARGUMENT, with upstream's message, for a signature
        that is not a regression signature upstream would run.
    """
    util.check_method_name(signature_def, util.REGRESS_METHOD_NAME,
                           "regression")
    if len(signature_def.inputs) != 1:
        raise status.invalid_argument("Expected one input Tensor.")
    if len(signature_def.outputs) != 1:
        raise status.invalid_argument("Expected one output Tensor.")
    if REGRESS_INPUTS not in signature_def.inputs:
        raise status.invalid_argument(
            "No regression inputs found in SignatureDef: "
            + util.signature_debug_string(signature_def))
    if REGRESS_OUTPUTS not in signature_def.outputs:
        raise status.invalid_argument(
            "No regression outputs found in SignatureDef: "
            + util.signature_debug_string(signature_def))
    return (signature_def.inputs[REGRESS_INPUTS].name,
            [signature_def.outputs[REGRESS_OUTPUTS].name])


def post_process_regression_result(
        signature_def, num_examples: int, outputs: dict,
        result: regression_pb2.RegressionResult) -> None:
    """Upstream's PostProcessRegressionResult; `outputs` keyed by tensor name.

    Raises:
      ServingError: INVALID_ARGUMENT (FAILED_PRECONDITION where upstream's is)
        with upstream's message, for outputs of the wrong shape or type.
    """
    info = signature_def.outputs.get(REGRESS_OUTPUTS)
    if info is None:
        raise status.failed_precondition(
            "No regression outputs found in SignatureDef: "
            + util.signature_debug_string(signature_def))
    value = outputs.get(info.name)
    if value is None:
        raise status.invalid_argument(f"Could not find output tensor '{info.name}'")
    if not (value.ndim == 1 or (value.ndim == 2 and value.shape[1] == 1)):
        raise status.invalid_argument(
            "Expected output Tensor shape to be either [batch_size] or "
            "[batch_size, 1] but got " + tensor_util.shape_debug_string(value.shape))
    if value.shape[0] != num_examples:
        raise status.invalid_argument(
            "Input batch size did not match output batch size: "
            f"{num_examples} vs. {value.shape[0]}")
    got = dtypes.numpy_to_dtype(value.dtype)
    if got != types_pb2.DT_FLOAT:
        raise status.invalid_argument(
            "Expected output Tensor of DT_FLOAT.  Got: "
            f"{dtypes.dtype_enum_name(got)}")
    if value.size != num_examples:
        raise status.invalid_argument(
            f"Expected output batch size to be {num_examples}.  Got: {value.size}")
    regressions = result.regressions
    for v in value.ravel().tolist():
        regressions.add().value = v


def regress(handle, request: regression_pb2.RegressionRequest
            ) -> regression_pb2.RegressionResponse:
    """Upstream's RunRegress on a resolved handle."""
    bundle = handle.servable
    name, signature_def = get_regression_signature(bundle, request.model_spec)
    input_name, output_names = pre_process_regression(signature_def)
    response = regression_pb2.RegressionResponse()
    util.make_model_spec(response.model_spec, request.model_spec.name,
                         request.model_spec.signature_name, handle.id.version)
    examples = util.input_to_serialized_examples(request.input)
    outputs = bundle.run({input_name: examples}, output_names,
                         batchable=bundle.signature(name).batchable)
    post_process_regression_result(signature_def, len(examples), outputs,
                                   response.result)
    return response
