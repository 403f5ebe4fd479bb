"""The Regress RPC on a SavedModelBundle (upstream's regressor.cc)."""

import numpy as np
from tensorflow.python.saved_model import signature_constants as sc

from tensorflow_serving.apis import regression_pb2
from tensorflow_serving.servables.tensorflow import tensor_util
from tensorflow_serving.servables.tensorflow import util
from tensorflow_serving.util import status


def get_regression_signature(bundle, model_spec):
    """(name, SignatureDef) of the regress signature the request names."""
    return util.get_signature(bundle, model_spec, sc.REGRESS_METHOD_NAME, "regression")


def _check_method(signature):
    util.check_method(signature, sc.REGRESS_METHOD_NAME, "regression")


def pre_process_regression(signature) -> tuple[str, tuple[str, ...]]:
    """Validates a regress signature; returns (input alias, output aliases)."""
    _check_method(signature)
    if len(signature.inputs) != 1:
        raise status.invalid_argument("Expected one input Tensor.")
    if len(signature.outputs) != 1:
        raise status.invalid_argument("Expected one output Tensor.")
    if sc.REGRESS_INPUTS not in signature.inputs:
        raise status.failed_precondition(
            f"No regression inputs found in SignatureDef: {signature}")
    if sc.REGRESS_OUTPUTS not in signature.outputs:
        raise status.failed_precondition(
            f"No regression outputs found in SignatureDef: {signature}")
    return sc.REGRESS_INPUTS, (sc.REGRESS_OUTPUTS,)


def post_process_regression_result(
        num_examples: int, outputs, result: regression_pb2.RegressionResult
) -> None:
    """Fills `result` from the "outputs" array: [batch] or [batch, 1] floats."""
    value = outputs[sc.REGRESS_OUTPUTS]
    if not (value.ndim == 1 or (value.ndim == 2 and value.shape[1] == 1)):
        raise status.invalid_argument(
            "Expected output Tensor shape to be either [batch_size] or "
            "[batch_size, 1] but got "
            f"[{','.join(str(d) for d in value.shape)}]")
    if value.shape[0] != num_examples:
        raise status.invalid_argument(
            "Input batch size did not match output batch size: "
            f"{num_examples} vs. {value.shape[0]}")
    if value.dtype != np.float32:
        got = tensor_util.numpy_to_dtype(value.dtype)
        raise status.invalid_argument(
            "Expected output Tensor of DT_FLOAT.  Got: "
            f"{tensor_util.dtype_name(got) if got is not None else value.dtype}")
    regressions = result.regressions
    for v in value.ravel().tolist():
        regressions.add().value = v


def regress(handle, request: regression_pb2.RegressionRequest
            ) -> regression_pb2.RegressionResponse:
    bundle = handle.servable
    name, signature = get_regression_signature(bundle, request.model_spec)
    input_alias, output_aliases = pre_process_regression(signature)
    examples = util.input_to_serialized_examples(request.input)
    outputs = bundle.run(name, {input_alias: examples}, output_aliases)
    response = regression_pb2.RegressionResponse()
    util.make_model_spec(response.model_spec, request.model_spec.name,
                         request.model_spec.signature_name, handle.id.version)
    post_process_regression_result(len(examples), outputs, response.result)
    return response
