"""The Predict RPC on a SavedModelBundle (upstream's predict_util.cc)."""

from typing import Mapping, Sequence

import numpy as np
from tensorflow.python.saved_model import signature_constants

from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.servables.tensorflow import tensor_util
from tensorflow_serving.servables.tensorflow import util
from tensorflow_serving.util import status

_ALLOWED_METHODS = (signature_constants.PREDICT_METHOD_NAME,
                    signature_constants.CLASSIFY_METHOD_NAME,
                    signature_constants.REGRESS_METHOD_NAME)


def _check_signature(bundle, signature_name: str, input_aliases) -> None:
    signature = bundle.signature(signature_name)  # FAILED_PRECONDITION
    if signature.method_name not in _ALLOWED_METHODS:
        raise status.internal(
            "Expected prediction signature method_name to be one of {"
            + ", ".join(_ALLOWED_METHODS) + "}. Was: "
            + signature.method_name)
    sent, expected = len(input_aliases), len(signature.inputs)
    if sent > expected or (sent < expected and not signature.defaults):
        request_inputs = sorted(input_aliases)
        signature_inputs = sorted(signature.inputs)
        extra = [a for a in request_inputs if a not in signature.inputs]
        missing = [a for a in signature_inputs if a not in input_aliases]
        raise status.invalid_argument(
            f"input size does not match signature: {sent}!={expected} "
            f"len({{{','.join(request_inputs)}}}) != "
            f"len({{{','.join(signature_inputs)}}}). "
            f"Sent extra: {{{','.join(extra)}}}. "
            f"Missing but required: {{{','.join(missing)}}}.")
    bundle.check_input_aliases(signature_name, input_aliases)


def _check_signature_once(bundle, signature_name: str, input_aliases) -> None:
    """_check_signature, remembered per bundle for (signature, aliases) that passed."""
    checked = getattr(bundle, "checked_requests", None)
    if checked is None:
        _check_signature(bundle, signature_name, input_aliases)
        return
    key = (signature_name, tuple(input_aliases))
    if key not in checked:
        _check_signature(bundle, signature_name, input_aliases)
        if len(checked) >= 1024:
            checked.clear()
        checked.add(key)


def predict_arrays(handle, signature_name: str,
                   inputs: Mapping[str, np.ndarray],
                   output_filter: Sequence[str] = ()
                   ) -> tuple[str, dict[str, np.ndarray]]:
    """Array-level Predict (the REST path); returns (signature used, outputs)."""
    signature_name = signature_name or util.DEFAULT_SIGNATURE
    bundle = handle.servable
    _check_signature_once(bundle, signature_name, inputs)
    return signature_name, bundle.run(signature_name, inputs, output_filter)


def predict(handle, request: predict_pb2.PredictRequest
            ) -> predict_pb2.PredictResponse:
    # The hot path of the gRPC API: keep it short.
    model_spec = request.model_spec
    signature_name = model_spec.signature_name or util.DEFAULT_SIGNATURE
    bundle = handle.servable
    request_inputs = request.inputs
    _check_signature_once(bundle, signature_name, request_inputs)
    to_ndarray = tensor_util.to_ndarray
    inputs = {alias: to_ndarray(proto, alias)
              for alias, proto in request_inputs.items()}
    outputs = bundle.run(signature_name, inputs, request.output_filter)
    response = predict_pb2.PredictResponse()
    util.make_model_spec(response.model_spec, model_spec.name,
                         signature_name, handle.id.version)
    response_outputs = response.outputs
    from_ndarray = tensor_util.from_ndarray
    for alias, value in outputs.items():
        from_ndarray(value, response_outputs[alias], name=alias)
    return response
