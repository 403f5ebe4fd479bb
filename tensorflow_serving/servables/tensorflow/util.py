"""Helpers shared by the request handlers (upstream's servables/tensorflow/util.cc)."""

import threading

import numpy as np
import tensorflow as tf
from google.protobuf import text_format

from tensorflow_serving.apis import input_pb2
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.util import status

DEFAULT_SIGNATURE = tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY
PREDICT_METHOD_NAME = tf.saved_model.PREDICT_METHOD_NAME
CLASSIFY_METHOD_NAME = tf.saved_model.CLASSIFY_METHOD_NAME
REGRESS_METHOD_NAME = tf.saved_model.REGRESS_METHOD_NAME

# --enable_signature_method_name_check: process-wide, as upstream's flag.
_method_name_check = threading.Event()


def set_signature_method_name_check_feature(enabled: bool) -> None:
    """Upstream's SetSignatureMethodNameCheckFeature."""
    if enabled:
        _method_name_check.set()
    else:
        _method_name_check.clear()


def get_signature_method_name_check_feature() -> bool:
    """Upstream's GetSignatureMethodNameCheckFeature (off unless the flag is set)."""
    return _method_name_check.is_set()


def input_to_serialized_examples(inp: input_pb2.Input) -> np.ndarray:
    """Input -> 1-D object array of serialized tf.Examples.

    With example_list_with_context, each example is the serialized context
    followed by the serialized example: parsing that concatenation merges the
    two, the example's own features winning, exactly as upstream does.

    Raises ServingError INVALID_ARGUMENT "Input is empty." without examples.
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


def signature_debug_string(signature_def) -> str:
    """A SignatureDef in protobuf text format, as upstream's DebugString()."""
    return text_format.MessageToString(signature_def)


def check_method_name(signature_def, expected: str, kind: str) -> None:
    """With --enable_signature_method_name_check, INVALID_ARGUMENT unless the
    signature's method is `expected` (`kind`: "classification" or "regression")."""
    if (get_signature_method_name_check_feature()
            and signature_def.method_name != expected):
        raise status.invalid_argument(
            f"Expected {kind} signature method_name to be {expected}. "
            f"Was: {signature_def.method_name}")


def find_signature(bundle, model_spec, expected_method: str, kind: str,
                   pre_process) -> tuple:
    """Upstream's Get{Classification,Regression}SignatureDef: (name, SignatureDef).

    The method name is checked with --enable_signature_method_name_check;
    without it, `pre_process(signature_def)` checks the signature's inputs
    and outputs instead. Raises ServingError INVALID_ARGUMENT.
    """
    name = model_spec.signature_name or DEFAULT_SIGNATURE
    signature_def = bundle.signature_defs.get(name)
    if signature_def is None:
        raise status.invalid_argument(f"No signature was found with the name: {name}")
    if get_signature_method_name_check_feature():
        check_method_name(signature_def, expected_method, kind)
    else:
        pre_process(signature_def)
    return name, signature_def


def require_model_spec(request) -> None:
    """INVALID_ARGUMENT "Missing ModelSpec" for a request without one, as upstream."""
    if not request.HasField("model_spec"):
        raise status.invalid_argument("Missing ModelSpec")
