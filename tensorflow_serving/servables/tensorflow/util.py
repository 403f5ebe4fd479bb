"""Helpers shared by the Classify/Regress/MultiInference handlers (upstream's util.cc)."""

import numpy as np

from tensorflow_serving.apis import input_pb2
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.util import status

DEFAULT_SIGNATURE = "serving_default"


def input_to_serialized_examples(inp: input_pb2.Input) -> np.ndarray:
    """Input -> 1-D object array of serialized tf.Examples.

    With example_list_with_context, each example is the serialized context
    followed by the serialized example: parsing that concatenation merges the
    two, the example's own features winning, exactly as upstream does.
    """
    kind = inp.WhichOneof("kind")
    if kind == "example_list":
        examples = inp.example_list.examples
        prefix = b""
    elif kind == "example_list_with_context":
        examples = inp.example_list_with_context.examples
        prefix = inp.example_list_with_context.context.SerializeToString()
    else:
        examples = ()
        prefix = b""
    if not examples:
        raise status.invalid_argument("Input is empty.")
    out = np.empty(len(examples), dtype=object)
    for i, example in enumerate(examples):
        out[i] = prefix + example.SerializeToString()
    return out


def make_model_spec(model_spec: model_pb2.ModelSpec, name: str,
                    signature_name: str | None, version: int | None) -> None:
    """Fills a response's model_spec as upstream's MakeModelSpec."""
    model_spec.Clear()
    model_spec.name = name
    if signature_name is not None:
        model_spec.signature_name = signature_name or DEFAULT_SIGNATURE
    if version is not None:
        model_spec.version.value = version


def check_method(signature, method_name: str, kind: str) -> None:
    """INVALID_ARGUMENT unless `signature` is of `method_name` (upstream's text)."""
    if signature.method_name != method_name:
        raise status.invalid_argument(
            f"Expected {kind} signature method_name to be {method_name}. "
            f"Was: {signature.method_name}")


def get_signature(bundle, model_spec, method_name: str, kind: str):
    """(name, SignatureDef) the request names, checked to be of `method_name`."""
    name = model_spec.signature_name or DEFAULT_SIGNATURE
    signature = bundle.signature_defs.get(name)
    if signature is None:
        raise status.invalid_argument(
            f"No signature was found with the name: {name}")
    check_method(signature, method_name, kind)
    return name, signature
