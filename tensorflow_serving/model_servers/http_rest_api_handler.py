"""Upstream's REST API (/v1/models/...) as a transport-free request processor.

`process(method, path, body)` returns (http status, body bytes); http_server
owns sockets and threads. Errors are {"error": "..."} with upstream's HTTP
mapping of the gRPC code. Model runs get --rest_api_timeout_in_ms as their
RunOptions timeout, and every request is counted in upstream's request_count
(request_latency for the successful ones), labelled as upstream's REST
dispatcher labels them: the model name and the lowercase method of the path
("predict", "classify", "regress"; empty for GET).
"""

import re
import time

import grpc
from absl import logging
from google.protobuf import json_format

from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.apis import regression_pb2
from tensorflow_serving.model_servers import get_model_status_impl
from tensorflow_serving.servables.tensorflow import classifier
from tensorflow_serving.servables.tensorflow import get_model_metadata_impl
from tensorflow_serving.servables.tensorflow import predict_util
from tensorflow_serving.servables.tensorflow import regressor
from tensorflow_serving.servables.tensorflow import request_metrics
from tensorflow_serving.util import json_tensor
from tensorflow_serving.util import monitoring
from tensorflow_serving.util import run_options
from tensorflow_serving.util import status as status_lib

PATH_REGEX = re.compile(r"(?i)/v1/.*")
_PREDICTION_API = re.compile(
    r"(?i)/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?"
    r":(classify|regress|predict)")
_MODEL_STATUS_API = re.compile(
    r"(?i)/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?"
    r"(?:/(metadata))?")
_DEFAULT_SIGNATURE = "serving_default"
_INT64_MAX = 2**63 - 1


class HttpRestApiHandler:

    def __init__(self, core, timeout_in_ms: int = 0):
        self._core = core
        self._timeout = timeout_in_ms / 1000.0 if timeout_in_ms > 0 else None

    def process(self, method: str, path: str, body: bytes):
        """Returns (http_status, json body bytes)."""
        start = time.perf_counter()
        model, api, code = "", "", grpc.StatusCode.OK
        try:
            path = path.split("?", 1)[0]
            m = _PREDICTION_API.fullmatch(path) if method == "POST" else None
            if m:
                model, api = m.group(1), m.group(4)
                spec = self._spec(m.group(1), m.group(2), m.group(3))
                handler = getattr(self, "_" + api.lower())
                with run_options.scope(self._timeout, model, api.lower().capitalize()):
                    return 200, handler(spec, body)
            m = _MODEL_STATUS_API.fullmatch(path) if method == "GET" else None
            if m:
                model = m.group(1) or ""
                if not m.group(1):
                    raise status_lib.invalid_argument("Missing model name in request.")
                spec = self._spec(m.group(1), m.group(2), m.group(3))
                if m.group(4):
                    return 200, self._metadata(spec)
                return 200, self._status(spec)
            raise status_lib.invalid_argument(f"Malformed request: {method} {path}")
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
                        model, api, "REST", (time.perf_counter() - start) * 1e6)
                request_metrics.record_request_count(model, code)

    @staticmethod
    def _spec(name, version, label) -> model_pb2.ModelSpec:
        spec = model_pb2.ModelSpec(name=name)
        if version is not None:
            v = int(version)
            if v > _INT64_MAX:
                raise status_lib.invalid_argument(
                    f"Failed to convert version: {version} to numeric.")
            spec.version.value = v
        elif label is not None:
            spec.version_label = label
        return spec

    def _predict(self, spec, body) -> bytes:
        with self._core.servable_handle(spec) as handle:
            bundle = handle.servable

            def input_infos(signature_name):
                name = signature_name or _DEFAULT_SIGNATURE
                sig = bundle.signature_defs.get(name)
                if sig is None:
                    raise status_lib.invalid_argument(
                        f"Serving signature name: \"{name}\" not found in "
                        f"signature def")
                return {alias: info.dtype for alias, info in sig.inputs.items()}

            signature_name, inputs, fmt = json_tensor.parse_predict_request(
                body, input_infos)
            _, outputs = predict_util.predict_arrays(
                handle, signature_name or _DEFAULT_SIGNATURE, inputs, ())
        return json_tensor.make_predict_response(outputs, fmt)

    def _classify(self, spec, body) -> bytes:
        request = classification_pb2.ClassificationRequest()
        request.model_spec.CopyFrom(spec)
        json_tensor.fill_input_from_json(body, request)
        with self._core.servable_handle(request.model_spec) as handle:
            response = classifier.classify(handle, request)
        return json_tensor.make_classification_response(response.result)

    def _regress(self, spec, body) -> bytes:
        request = regression_pb2.RegressionRequest()
        request.model_spec.CopyFrom(spec)
        json_tensor.fill_input_from_json(body, request)
        with self._core.servable_handle(request.model_spec) as handle:
            response = regressor.regress(handle, request)
        return json_tensor.make_regression_response(response.result)

    def _status(self, spec) -> bytes:
        request = get_model_status_pb2.GetModelStatusRequest(model_spec=spec)
        response = get_model_status_impl.get_model_status(self._core, request)
        return json_format.MessageToJson(
            response, preserving_proto_field_name=True, indent=1,
            always_print_fields_with_no_presence=True).encode("utf-8")

    def _metadata(self, spec) -> bytes:
        request = get_model_metadata_pb2.GetModelMetadataRequest(model_spec=spec)
        request.metadata_field.append("signature_def")
        with self._core.servable_handle(spec) as handle:
            response = get_model_metadata_impl.get_model_metadata(handle, request)
        spec_json = json_format.MessageToJson(
            response.model_spec, preserving_proto_field_name=True, indent=1,
            always_print_fields_with_no_presence=True)
        parts = []
        for key, any_value in response.metadata.items():
            sig_map = get_model_metadata_pb2.SignatureDefMap()
            if not any_value.Unpack(sig_map):
                raise status_lib.internal(f"Unexpected metadata type for {key}")
            parts.append(f'"{key}": ' + json_format.MessageToJson(
                sig_map, preserving_proto_field_name=True, indent=1))
        text = ('{\n"model_spec":' + spec_json + ',\n"metadata": {' +
                ",".join(parts) + "}\n}\n")
        return text.encode("utf-8")
