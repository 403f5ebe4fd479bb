"""Upstream's REST API (/v1/models/...) as a transport-free request processor.

`process(method, path, body)` returns (http status, JSON body bytes), as
upstream's HttpRestApiHandler::ProcessRequest: the path (query included, as
upstream matches it) selects the API with upstream's regular expressions, the
model name and label are percent-decoded, and errors are {"error": "..."}
with upstream's HTTP mapping of the status code. Model runs get
--rest_api_timeout_in_ms as their RunOptions timeout, and every request is
counted in upstream's request_count (request_latency for the successful
ones), labelled as upstream's REST dispatcher labels them: the model name and
the path's lowercase method ("predict", "classify", "regress"; empty for GET).
http_server owns sockets, threads, CORS and the Prometheus page.
"""

import json
import re
import time
import urllib.parse

import grpc
from absl import logging
from google.protobuf import json_format

from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import regression_pb2
from tensorflow_serving.model_servers import get_model_status_impl
from tensorflow_serving.model_servers import json_worker
from tensorflow_serving.servables.tensorflow import classifier
from tensorflow_serving.servables.tensorflow import get_model_metadata_impl
from tensorflow_serving.servables.tensorflow import predict_util
from tensorflow_serving.servables.tensorflow import regressor
from tensorflow_serving.servables.tensorflow import request_metrics
from tensorflow_serving.servables.tensorflow import util
from tensorflow_serving.util import json_tensor
from tensorflow_serving.util import monitoring
from tensorflow_serving.util import run_options
from tensorflow_serving.util import status as status_lib

# Upstream's kHTTPRestApiHandlerPathRegex and the two API expressions; RE2's
# \d is an ASCII digit.
PATH_REGEX = re.compile(r"(?i)/v1/.*", re.DOTALL)
_PREDICTION_API = re.compile(
    r"(?i)/v1/models/([^/:]+)(?:(?:/versions/([0-9]+))|(?:/labels/([^/:]+)))?"
    r":(classify|regress|predict)", re.DOTALL)
_MODEL_STATUS_API = re.compile(
    r"(?i)/v1/models(?:/([^/:]+))?(?:(?:/versions/([0-9]+))|(?:/labels/([^/:]+)))?"
    r"(?:/(metadata))?", re.DOTALL)
_INT64_MAX = 2**63 - 1
_INT64_MAX_DIGITS = len(str(_INT64_MAX))


def _decode_arg(text: str) -> str:
    """curl_easy_unescape: %XX sequences only ('+' stays); bytes kept as sent."""
    raw = urllib.parse.unquote_to_bytes(text.encode("latin-1"))
    return raw.decode("utf-8", "surrogateescape")


def _proto_json(message) -> str:
    """Protobuf's C++ JSON printer as upstream runs it: whitespace, every field
    printed, proto field names, a trailing newline, and its field order (a
    message's plain fields by number, then the members of its oneofs)."""
    value = json_format.MessageToDict(
        message, preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True)
    return json.dumps(_cpp_order(message.DESCRIPTOR, value), indent=1,
                      ensure_ascii=False) + "\n"


def _cpp_order(descriptor, value: dict) -> dict:
    if descriptor.full_name in _JSON_LEAF_TYPES:
        return value
    fields = sorted(descriptor.fields,
                    key=lambda f: (f.containing_oneof is not None, f.number))
    ordered = {}
    for field in fields:
        if field.name not in value:
            continue
        item = value[field.name]
        message_type = field.message_type
        if message_type is not None and message_type.GetOptions().map_entry:
            value_field = message_type.fields_by_name["value"]
            if value_field.message_type is not None:
                item = {k: _cpp_order(value_field.message_type, v)
                        for k, v in item.items()}
        elif message_type is not None:
            if isinstance(item, list):
                item = [_cpp_order(message_type, v) for v in item]
            elif isinstance(item, dict):
                item = _cpp_order(message_type, item)
        ordered[field.name] = item
    return ordered


# Messages whose JSON form is not an object of their fields.
_JSON_LEAF_TYPES = frozenset({
    "google.protobuf.Any", "google.protobuf.Struct", "google.protobuf.Value",
    "google.protobuf.ListValue", "google.protobuf.Timestamp",
    "google.protobuf.Duration", "google.protobuf.FieldMask",
    "google.protobuf.Int64Value", "google.protobuf.UInt64Value",
    "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
    "google.protobuf.BoolValue", "google.protobuf.StringValue",
    "google.protobuf.BytesValue", "google.protobuf.FloatValue",
    "google.protobuf.DoubleValue"})


class HttpRestApiHandler:
    """Dispatches /v1/ requests to the model APIs."""

    def __init__(self, core, timeout_in_ms: int = 0):
        self._core = core
        self._timeout = timeout_in_ms / 1000.0 if timeout_in_ms > 0 else None
        self._json_worker = json_worker.JsonWorker()
        self._apis = {
            ("POST", "predict"): ("Predict", self._predict),
            ("POST", "classify"): ("Classify", self._classify),
            ("POST", "regress"): ("Regress", self._regress),
            ("GET", "metadata"): ("GetModelMetadata", self._metadata),
            ("GET", ""): ("GetModelStatus", self._status),
        }

    def process(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        """Returns (http_status, JSON body bytes); errors are answers too.

        `path` is the request target as sent (a latin-1 string of its bytes).
        """
        start = time.perf_counter()
        model, verb, code = "", "", grpc.StatusCode.OK
        try:
            model, spec, key = self._parse(method, path)
            entry = self._apis.get(key)
            if entry is None:
                raise status_lib.invalid_argument(f"Malformed request: {method} {path}")
            api, run = entry
            if method == "GET":
                if not model:
                    raise status_lib.invalid_argument("Missing model name in request.")
                return 200, run(spec, body)
            verb = key[1]
            return 200, run(spec, body)
        except status_lib.ServingError as e:
            code = e.code
            return status_lib.http_status(e.code), json_tensor.error_json(e.message)
        except Exception as e:  # pylint: disable=broad-except
            code = grpc.StatusCode.INTERNAL
            logging.exception("REST %s %s failed", method, path)
            return 500, json_tensor.error_json(f"{type(e).__name__}: {e}")
        finally:
            if monitoring.enabled():
                if code is grpc.StatusCode.OK:
                    request_metrics.record_request_latency(
                        model, verb, "REST", (time.perf_counter() - start) * 1e6)
                request_metrics.record_request_count(model, code)

    @staticmethod
    def _parse(method: str, path: str):
        """Upstream's ParseModelInfo: (model name, ModelSpec, (method, API))."""
        if method == "POST":
            m = _PREDICTION_API.fullmatch(path)
            api = m.group(4).lower() if m else None
        elif method == "GET":
            m = _MODEL_STATUS_API.fullmatch(path)
            api = (m.group(4) or "").lower() if m else None
        else:
            m = api = None
        if m is None:
            return "", None, None
        name = _decode_arg(m.group(1)) if m.group(1) else ""
        spec = model_pb2.ModelSpec(name=name)
        if m.group(2) is not None:
            # absl::SimpleAtoi's int64 range. Leading zeros are fine; the
            # length check comes first, since Python refuses to convert more
            # than 4,300 digits at all.
            digits = m.group(2)
            significant = digits.lstrip("0") or "0"
            if len(significant) > _INT64_MAX_DIGITS or int(significant) > _INT64_MAX:
                raise status_lib.invalid_argument(
                    f"Failed to convert version: {digits} to numeric.")
            spec.version.value = int(significant)
        elif m.group(3) is not None:
            spec.version_label = _decode_arg(m.group(3))
        return name, spec, (method, api)

    # --------------------------------------------------------------- APIs

    def _predict(self, spec, body) -> bytes:
        request = predict_pb2.PredictRequest(model_spec=spec)
        if len(body) >= json_worker.LARGE_BODY_BYTES:
            # Parsed in a worker process, so it never stalls other requests.
            signatures, error = self._signature_dtypes(spec)
            signature_name, inputs, fmt = self._json_worker.parse_predict_request(
                body, signatures, error)
        else:
            signature_name, inputs, fmt = json_tensor.parse_predict_request(
                body, lambda name: self._input_dtypes(spec, name))
        request.model_spec.signature_name = signature_name
        with self._run_scope(spec, "Predict"), \
                self._core.servable_handle(request.model_spec) as handle:
            _, outputs = predict_util.run_predict(handle.servable, signature_name,
                                                  inputs)
        if json_worker.is_large_output(outputs):
            return self._json_worker.make_predict_response(outputs, fmt)
        return json_tensor.make_predict_response(outputs, fmt)

    def _run_scope(self, spec, api: str):
        """--rest_api_timeout_in_ms for the model run, as upstream's RunOptions:
        it starts when the body has been read, not when the request arrived."""
        return run_options.scope(self._timeout, spec.name, api)

    def _input_dtypes(self, spec, signature_name):
        """Upstream's GetInfoMap: its own handle, released before Predict."""
        with self._core.servable_handle(spec) as handle:
            name = signature_name or util.DEFAULT_SIGNATURE
            signature_def = handle.servable.signature_defs.get(name)
            if signature_def is None:
                raise status_lib.invalid_argument(
                    f'Serving signature name: "{name}" not found in signature def')
            return {alias: info.dtype for alias, info in signature_def.inputs.items()}

    def _signature_dtypes(self, spec):
        """({signature: {alias: dtype}}, None), or (None, the lookup's error)."""
        try:
            with self._core.servable_handle(spec) as handle:
                return {name: {alias: info.dtype for alias, info in sd.inputs.items()}
                        for name, sd in handle.servable.signature_defs.items()}, None
        except status_lib.ServingError as e:
            return None, e

    def close(self) -> None:
        """Stops the JSON worker, if one was started."""
        self._json_worker.close()

    def _classify(self, spec, body) -> bytes:
        request = classification_pb2.ClassificationRequest(model_spec=spec)
        json_tensor.fill_classify_regress_request(body, request)
        with self._run_scope(spec, "Classify"), \
                self._core.servable_handle(request.model_spec) as handle:
            response = classifier.classify(handle, request)
        return json_tensor.make_classification_response(response.result)

    def _regress(self, spec, body) -> bytes:
        request = regression_pb2.RegressionRequest(model_spec=spec)
        json_tensor.fill_classify_regress_request(body, request)
        with self._run_scope(spec, "Regress"), \
                self._core.servable_handle(request.model_spec) as handle:
            response = regressor.regress(handle, request)
        return json_tensor.make_regression_response(response.result)

    def _status(self, spec, body) -> bytes:
        del body
        request = get_model_status_pb2.GetModelStatusRequest(model_spec=spec)
        response = get_model_status_impl.get_model_status(self._core, request)
        return _proto_json(response).encode("utf-8")

    def _metadata(self, spec, body) -> bytes:
        del body
        if not spec.name:
            raise status_lib.invalid_argument("Missing model name in request.")
        request = get_model_metadata_pb2.GetModelMetadataRequest(model_spec=spec)
        request.metadata_field.append(get_model_metadata_impl.SIGNATURE_DEF)
        get_model_metadata_impl.validate_request(request)
        with self._core.servable_handle(spec) as handle:
            response = get_model_metadata_impl.get_model_metadata(handle, request)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata[get_model_metadata_impl.SIGNATURE_DEF].Unpack(signature_map)
        # Upstream prints the two parts separately and joins them.
        text = ('{\n"model_spec":' + _proto_json(response.model_spec) + ",\n"
                '"metadata": {"signature_def": ' + _proto_json(signature_map)
                + "}\n}\n")
        return text.encode("utf-8")
