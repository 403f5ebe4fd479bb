"""The Predict RPC on a SavedModelBundle (upstream's predict_util.cc).

Upstream's checks, in upstream's order, and nothing more: the signature must
exist, the request may not send more inputs than the signature has (nor fewer
unless it has defaults), every signature input comes from the request or the
signature's defaults and must decode as TensorFlow decodes it, and every
request input must name a signature input. Dtypes and shapes are TensorFlow's
business when the model runs.
"""

from typing import Mapping, Sequence

import numpy as np

from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.servables.tensorflow import tensor_util
from tensorflow_serving.servables.tensorflow import util
from tensorflow_serving.util import status

_ALLOWED_METHODS = (util.PREDICT_METHOD_NAME, util.CLASSIFY_METHOD_NAME,
                    util.REGRESS_METHOD_NAME)


def _signature(bundle, signature_name: str):
    signature = bundle.signature(signature_name)
    if signature is None:
        raise status.failed_precondition(
            f'Serving signature key "{signature_name}" not found.')
    if (util.get_signature_method_name_check_feature()
            and signature.method_name not in _ALLOWED_METHODS):
        raise status.internal(
            "Expected prediction signature method_name to be one of {"
            + ", ".join(_ALLOWED_METHODS) + "}. Was: " + signature.method_name)
    return signature


def _check_input_count(signature, request_aliases) -> None:
    sent, expected = len(request_aliases), len(signature.inputs)
    if sent > expected or (sent < expected and not signature.defaults):
        request_inputs = sorted(request_aliases)
        signature_inputs = [alias for alias, _ in signature.inputs]
        extra = [a for a in request_inputs if a not in signature_inputs]
        missing = [a for a in signature_inputs if a not in request_aliases]
        raise status.invalid_argument(
            f"input size does not match signature: {sent}!={expected} "
            f"len({{{','.join(request_inputs)}}}) != "
            f"len({{{','.join(signature_inputs)}}}). "
            f"Sent extra: {{{','.join(extra)}}}. "
            f"Missing but required: {{{','.join(missing)}}}.")


def _decode(value, alias: str) -> np.ndarray:
    if type(value) is np.ndarray:
        return value
    try:
        array = tensor_util.to_ndarray(value)
    except tensor_util.FillTooLarge as e:
        raise status.invalid_argument(f"tensor parsing error: {alias}: {e}") from None
    if array is None:
        raise status.invalid_argument(f"tensor parsing error: {alias}")
    return array


def _input_values(signature, request_inputs: Mapping) -> dict[str, np.ndarray]:
    """TensorFlow's saved_model::GetInputValues: feeds keyed by tensor name."""
    feeds = {}
    seen = 0
    for alias, tensor_name in signature.inputs:
        value = request_inputs.get(alias)
        if value is None:
            value = signature.defaults.get(alias)
            if value is None:
                raise status.invalid_argument(
                    f"Signature input alias: {alias}(feed name: {tensor_name}) not "
                    "found in request and no default value provided. Inputs "
                    f"expected to be in the request {{{','.join(sorted(request_inputs))}}}"
                    ", or default input alias set: "
                    f"{','.join(sorted(signature.defaults))}")
        else:
            seen += 1
        feeds[tensor_name] = _decode(value, alias)
    if request_inputs and seen != len(request_inputs):
        used = sorted(alias for alias, _ in signature.inputs if alias in request_inputs)
        raise status.invalid_argument(
            f"Inputs contains invalid name. Used request inputs: {','.join(used)}, "
            f"request input: {','.join(sorted(request_inputs))}")
    return feeds


def _output_names(signature, output_filter: Sequence[str]
                  ) -> tuple[list[str], list[str]]:
    """(aliases, tensor names) to fetch: the filter's, or every output."""
    if not output_filter:
        return list(signature.outputs), list(signature.outputs.values())
    seen = set()
    names = []
    for alias in output_filter:
        name = signature.outputs.get(alias)
        if name is None:
            raise status.invalid_argument(
                f"output tensor alias not found in signature: {alias} Outputs "
                f"expected to be in the set {{{','.join(sorted(signature.outputs))}}}.")
        if alias in seen:
            raise status.invalid_argument(f"duplicate output tensor alias: {alias}")
        seen.add(alias)
        names.append(name)
    return list(output_filter), names


def run_predict(bundle, signature_name: str, inputs: Mapping,
                output_filter: Sequence[str] = ()
                ) -> tuple[str, dict[str, np.ndarray]]:
    """Predict on arrays or TensorProtos keyed by alias; returns (signature, outputs).

    Raises ServingError with upstream's codes and messages, and TensorFlow's
    own errors from the run.
    """
    signature_name = signature_name or util.DEFAULT_SIGNATURE
    signature = _signature(bundle, signature_name)
    _check_input_count(signature, inputs)
    feeds = _input_values(signature, inputs)
    aliases, names = _output_names(signature, output_filter)
    values = bundle.run(feeds, names, batchable=signature.batchable)
    return signature_name, {alias: values[name] for alias, name in zip(aliases, names)}


def predict(handle, request: predict_pb2.PredictRequest,
            tensor_content: bool = False) -> predict_pb2.PredictResponse:
    """The gRPC Predict on a resolved handle.

    Outputs are written as upstream's AsProtoField (typed value fields), or
    with `tensor_content` (--enable_serialization_as_tensor_content) as its
    AsProtoTensorContent.
    """
    model_spec = request.model_spec
    signature_name, outputs = run_predict(
        handle.servable, model_spec.signature_name, request.inputs,
        request.output_filter)
    response = predict_pb2.PredictResponse()
    util.make_model_spec(response.model_spec, model_spec.name,
                         signature_name, handle.id.version)
    response_outputs = response.outputs
    from_ndarray = tensor_util.from_ndarray
    for alias, value in outputs.items():
        from_ndarray(value, response_outputs[alias], use_tensor_content=tensor_content)
    return response
