"""Requests of all five PredictionService methods, as raw bytes, for the data plane tests.

cases() gives (description, method path, request bytes): predict_requests'
Predict cases, and Classify, Regress, MultiInference and GetModelMetadata
requests on the inference test model (every kind of classify and regress
signature), half_plus_two and all_dtypes: valid ones (examples with and
without context, defaults, several tasks sharing a run) and every kind of
bad one (a missing model spec, unknown model, version, label or signature,
empty input, signatures and outputs upstream refuses, features of the wrong
type or length, unparseable bytes). The parity test sends them to both data
planes; the fuzz test mutates them.
"""

import os

from tensorflow.core.example import example_pb2
from tensorflow.core.framework import tensor_pb2
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import inference_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import regression_pb2
from tensorflow_serving.model_servers.test_util import predict_requests
from tensorflow_serving.servables.tensorflow.testdata import saved_model_inference

_SERVICE = "/tensorflow.serving.PredictionService/"
PREDICT = predict_requests.PREDICT
CLASSIFY = _SERVICE + "Classify"
REGRESS = _SERVICE + "Regress"
MULTI_INFERENCE = _SERVICE + "MultiInference"
GET_MODEL_METADATA = _SERVICE + "GetModelMetadata"
METHODS = (PREDICT, CLASSIFY, REGRESS, MULTI_INFERENCE, GET_MODEL_METADATA)
# The message each method takes, to parse and mutate requests.
REQUEST_TYPES = {
    PREDICT: predict_pb2.PredictRequest,
    CLASSIFY: classification_pb2.ClassificationRequest,
    REGRESS: regression_pb2.RegressionRequest,
    MULTI_INFERENCE: inference_pb2.MultiInferenceRequest,
    GET_MODEL_METADATA: get_model_metadata_pb2.GetModelMetadataRequest,
}

MODELS = predict_requests.MODELS + ["inference"]
_CONFIG_INFERENCE = """
  config {{
    name: "inference" base_path: "{base}/inference" model_platform: "tensorflow"
  }}
}}
"""

_CLASSIFY_METHOD = "tensorflow/serving/classify"
_REGRESS_METHOD = "tensorflow/serving/regress"


def server_args(base: str) -> list[str]:
    """Exports the three test models under `base`; the server flags that serve them."""
    args = predict_requests.server_args(base)
    saved_model_inference.export_inference(os.path.join(base, "inference", "1"))
    config = os.path.join(base, "models.config")
    with open(config, encoding="utf-8") as f:
        text = f.read().rstrip()
    assert text.endswith("}"), text
    with open(config, "w", encoding="utf-8") as f:
        f.write(text[:-1] + _CONFIG_INFERENCE.format(base=base))
    return args


def example(x=None, k=None, extra=None) -> example_pb2.Example:
    """An Example with float "x", int64 "k" and other features as given."""
    e = example_pb2.Example()
    if x is not None:
        e.features.feature["x"].float_list.value.extend(x)
    if k is not None:
        e.features.feature["k"].int64_list.value.extend(k)
    for name, feature in (extra or {}).items():
        e.features.feature[name].CopyFrom(feature)
    return e


def _spec(spec, model, signature, version, label):
    spec.name = model
    if signature:
        spec.signature_name = signature
    if version is not None:
        spec.version.value = version
    if label is not None:
        spec.version_label = label


def _fill_input(input_message, examples, context):
    if context is None:
        input_message.example_list.examples.extend(examples)
    else:
        input_message.example_list_with_context.examples.extend(examples)
        input_message.example_list_with_context.context.CopyFrom(context)


def classify(signature="", examples=(), *, model="inference", version=None, label=None,
             context=None, spec=True) -> bytes:
    r = classification_pb2.ClassificationRequest()
    if spec:
        _spec(r.model_spec, model, signature, version, label)
    _fill_input(r.input, examples, context)
    return r.SerializeToString()


def regress(signature="", examples=(), *, model="inference", version=None, label=None,
            context=None, spec=True) -> bytes:
    r = regression_pb2.RegressionRequest()
    if spec:
        _spec(r.model_spec, model, signature, version, label)
    _fill_input(r.input, examples, context)
    return r.SerializeToString()


def multi(tasks, examples=(), *, context=None, version=None, label=None) -> bytes:
    """tasks: (model, signature, method) triples."""
    r = inference_pb2.MultiInferenceRequest()
    for model, signature, method in tasks:
        task = r.tasks.add()
        _spec(task.model_spec, model, signature, version, label)
        task.method_name = method
    _fill_input(r.input, examples, context)
    return r.SerializeToString()


def metadata(model="inference", fields=("signature_def",), *, version=None, label=None,
             spec=True) -> bytes:
    r = get_model_metadata_pb2.GetModelMetadataRequest()
    if spec:
        _spec(r.model_spec, model, "", version, label)
    r.metadata_field.extend(fields)
    return r.SerializeToString()


def _classify_cases():
    two = [example([1.5, -2.0], [3]), example([0.25, 7.0])]
    out = [
        ("classify default signature", classify("", two)),
        ("classify both, one example", classify("classify_both", [example([1.0, 2.0])])),
        ("classify both, three examples", classify("classify_both", two + [example()])),
        ("classify empty example", classify("classify_both", [example()])),
        ("classify with context", classify(
            "classify_both", [example(k=[1]), example([9.0, 8.0])],
            context=example([4.0, 5.0], [2]))),
        ("classify context only", classify("classify_both", [example()],
                                           context=example([4.0, 5.0]))),
        ("classify context without examples", classify("classify_both", [],
                                                       context=example([4.0, 5.0]))),
        ("classify no input", classify("classify_both", [])),
        ("classify no model spec", classify(examples=two, spec=False)),
        ("classify unknown signature", classify("nope", two)),
        ("classify unknown model", classify("classify_both", two, model="nope")),
        ("classify unknown version", classify("classify_both", two, version=7)),
        ("classify unknown label", classify("classify_both", two, label="nope")),
        ("classify no model name", classify("classify_both", two, model="")),
        ("classify x of wrong type", classify("classify_both", [example(k=[1], extra={
            "x": example(k=[1, 2]).features.feature["k"]})])),
        ("classify x too long", classify("classify_both", [example([1.0, 2.0, 3.0])])),
        ("classify unknown feature", classify("classify_both", [example(
            [1.0, 2.0], extra={"z": example(k=[5]).features.feature["k"]})])),
        ("classify half_plus_two classes", classify(
            "classify_x_to_classes", [example(extra={"x": _float_feature(2.0)})],
            model="half_plus_two")),
        ("classify half_plus_two default", classify(
            "", [example(extra={"x": _float_feature(2.0)})], model="half_plus_two",
            version=1)),
        ("classify all_dtypes default", classify("", [example()], model="all_dtypes")),
    ]
    for name in ("classify_scores", "classify_classes", "classify_predict_method",
                 "classify_same_tensor", "classify_scores_3d", "classify_scalar",
                 "classify_scores_int32", "classify_scores_double", "classify_classes_float",
                 "classify_first_row", "classify_mismatch", "classify_no_classes",
                 "classify_three_outputs", "classify_two_inputs", "classify_wrong_input",
                 "classify_wrong_outputs", "classify_float_input", "classify_other_input",
                 "regress_1d", "regress_2d"):
        out.append((f"classify on {name}", classify(name, two)))
    out.append(("classify first_row, one example", classify("classify_first_row", two[:1])))
    return out


def _float_feature(value):
    e = example_pb2.Example()
    e.features.feature["x"].float_list.value.append(value)
    return e.features.feature["x"]


def _regress_cases():
    two = [example([1.5, -2.0], [3]), example([0.25, 7.0], [-4])]
    out = [
        ("regress 1d", regress("regress_1d", two)),
        ("regress 2d with context", regress("regress_2d", two, context=example([6.0, 6.0]))),
        ("regress k", regress("regress_k", two + [example()])),
        ("regress no input", regress("regress_1d", [])),
        ("regress no model spec", regress(examples=two, spec=False)),
        ("regress default signature", regress("", two)),
        ("regress unknown signature", regress("nope", two)),
        ("regress unknown model", regress("regress_1d", two, model="nope")),
        ("regress unknown version", regress("regress_1d", two, version=3)),
        ("regress k of wrong type", regress("regress_k", [example(extra={
            "k": _float_feature(1.0)})])),
        ("regress half_plus_two", regress(
            "regress_x_to_y", [example(extra={"x": _float_feature(2.0)})],
            model="half_plus_two", label="stable")),
        ("regress half_plus_two classify signature", regress(
            "classify_x_to_classes", [example(extra={"x": _float_feature(2.0)})],
            model="half_plus_two")),
    ]
    for name in ("regress_wide", "regress_scalar", "regress_double", "regress_first_row",
                 "regress_two_outputs", "regress_wrong_input", "regress_wrong_output",
                 "regress_other_input", "classify_scores", "classify_both"):
        out.append((f"regress on {name}", regress(name, two)))
    out.append(("regress first_row, one example", regress("regress_first_row", two[:1])))
    return out


def _multi_cases():
    two = [example([1.5, -2.0], [3]), example([0.25, 7.0], [-4])]
    c, r = _CLASSIFY_METHOD, _REGRESS_METHOD
    m = "inference"
    return [
        ("multi classify and regress", multi(
            [(m, "classify_both", c), (m, "regress_1d", r)], two)),
        ("multi shared outputs", multi(
            [(m, "classify_scores", c), (m, "classify_both", c), (m, "regress_k", r)], two,
            context=example(k=[8]))),
        ("multi two input tensors", multi(
            [(m, "regress_other_input", r), (m, "classify_classes", c), (m, "", c)], two)),
        ("multi one task", multi([(m, "regress_2d", r)], [example()])),
        ("multi version 1", multi([(m, "regress_2d", r)], two, version=1)),
        ("multi unknown version", multi([(m, "regress_2d", r)], two, version=5)),
        ("multi unknown label", multi([(m, "regress_2d", r)], two, label="nope")),
        ("multi no tasks", multi([], two)),
        ("multi unknown model", multi([("nope", "regress_2d", r)], two)),
        ("multi empty model name", multi([(m, "regress_2d", r), ("", "regress_1d", r)], two)),
        ("multi two models", multi([(m, "regress_2d", r), ("all_dtypes", "x", r)], two)),
        ("multi duplicate signature", multi([(m, "regress_2d", r), (m, "regress_2d", c)],
                                            two)),
        ("multi duplicate default", multi([(m, "", c), (m, "serving_default", c)], two)),
        ("multi unknown signature", multi([(m, "regress_2d", r), (m, "nope", r)], two)),
        ("multi predict method", multi([(m, "regress_2d", r), (m, "classify_both",
                                                               "tensorflow/serving/predict")],
                                       two)),
        ("multi regress on classify", multi([(m, "classify_both", r)], two)),
        ("multi bad output", multi([(m, "regress_1d", r), (m, "classify_scores_int32", c)],
                                   two)),
        ("multi no input", multi([(m, "regress_1d", r)], [])),
        ("multi half_plus_two", multi([("half_plus_two", "classify_x_to_y", c),
                                       ("half_plus_two", "regress_x_to_y", r)],
                                      [example(extra={"x": _float_feature(4.0)})])),
    ]


def _metadata_cases():
    return [
        ("metadata inference", metadata()),
        ("metadata half_plus_two", metadata("half_plus_two")),
        ("metadata half_plus_two version 1", metadata("half_plus_two", version=1)),
        ("metadata half_plus_two label canary", metadata("half_plus_two", label="canary")),
        ("metadata all_dtypes", metadata("all_dtypes")),
        ("metadata signature_def twice", metadata(fields=("signature_def", "signature_def"))),
        ("metadata no model spec", metadata(spec=False)),
        ("metadata no fields", metadata(fields=())),
        ("metadata unknown field", metadata(fields=("signature_def", "nope"))),
        ("metadata unknown model", metadata("nope")),
        ("metadata bad field of a missing model", metadata("nope", fields=("x",))),
        ("metadata unknown version", metadata(version=9)),
        ("metadata unknown label", metadata(label="nope")),
    ]


def _string_tensor(values):
    t = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING)
    t.tensor_shape.dim.add(size=len(values))
    t.string_val.extend(values)
    return t


def _predict_cases():
    """Predict on the inference model's tf.Example signatures."""
    out = []
    for name, values in (("examples", [example([1.0, 2.0]).SerializeToString()]),
                         ("garbage bytes", [b"\xff\xfe\x00not an example \xc3"]),
                         ("utf-8 garbage", ["no example é".encode()])):
        r = predict_pb2.PredictRequest()
        r.model_spec.name = "inference"
        r.inputs["inputs"].CopyFrom(_string_tensor(values))
        out.append((f"predict inference {name}", r.SerializeToString()))
    return out


def cases():
    """(description, method path, request bytes) for both planes to answer alike."""
    out = [(d, PREDICT, data) for d, data in predict_requests.cases() + _predict_cases()]
    out += [(d, CLASSIFY, data) for d, data in _classify_cases()]
    out += [(d, REGRESS, data) for d, data in _regress_cases()]
    out += [(d, MULTI_INFERENCE, data) for d, data in _multi_cases()]
    out += [(d, GET_MODEL_METADATA, data) for d, data in _metadata_cases()]
    for method in METHODS[1:]:
        name = method.rsplit("/", 1)[1]
        first = next(data for _, m, data in out if m == method)
        out += [(f"{name} unparseable", method, b"\xff\xff\xff"),
                (f"{name} empty request", method, b""),
                (f"{name} truncated", method, first[:-2])]
    return out
