"""REST requests of every route, with the answers the valid ones must get.

cases() gives RestCase(description, method, path, body, status, answer) on
the models inference_requests.server_args() serves (half_plus_two versions 1
and 2 with labels stable and canary, all_dtypes, inference): predict in both
layouts (every dtype JSON carries, defaults, edge numbers, NaN and Infinity,
base64 strings), classify and regress, model status and metadata, the
Prometheus page and a CORS preflight, each with the exact answer it gets;
and bad requests of every kind (unknown model, version, label, signature or
alias; wrong types; ragged or empty input; bad JSON) whose answer is a
client error. The fuzz test sends the valid ones among its mutations and
checks their answers; all of them are what it mutates.
"""

import dataclasses
import json
from typing import Any, Callable

METRICS_PATH = "/monitoring/prometheus/metrics"
# The answer of a case not checked exactly.
ANY = object()


@dataclasses.dataclass(frozen=True)
class RestCase:
    description: str
    method: str
    path: str
    body: bytes | None
    # For a valid case: its status and its answer, a JSON value (compared
    # with canonical()), or a predicate on the body's bytes. ANY for a bad
    # case, whose answer is any client error.
    status: int | None = None
    answer: Any = ANY

    @property
    def checked(self) -> bool:
        return self.answer is not ANY

    def matches(self, status: int, body: bytes) -> bool:
        """Whether (status, body) is this case's exact answer."""
        if status != self.status:
            return False
        if callable(self.answer):
            return self.answer(body)
        try:
            got = json.loads(body)
        except ValueError:
            return False
        return canonical(got) == canonical(self.answer)


def canonical(value) -> str:
    """JSON text two equal answers share (NaN equals NaN, key order ignored)."""
    return json.dumps(value, sort_keys=True, allow_nan=True)


def _json(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


def _predict(model, body, status=None, answer=ANY, *, description=None, version=None,
             label=None, verb="predict"):
    path = f"/v1/models/{model}"
    if version is not None:
        path += f"/versions/{version}"
    if label is not None:
        path += f"/labels/{label}"
    path += f":{verb}"
    data = body if isinstance(body, bytes) else _json(body)
    return RestCase(description or f"{verb} {path} {data[:60]!r}", "POST", path, data,
                    status, answer)


def _version_status(*versions):
    return {"model_version_status": [
        {"version": str(v), "state": "AVAILABLE",
         "status": {"error_code": "OK", "error_message": ""}} for v in versions]}


def _metadata_check(version: int, signatures) -> Callable[[bytes], bool]:
    def check(body: bytes) -> bool:
        try:
            got = json.loads(body)
            sigs = got["metadata"]["signature_def"]["signature_def"]
        except (ValueError, KeyError, TypeError):
            return False
        return (got["model_spec"] == {"name": "half_plus_two", "signature_name": "",
                                      "version": str(version)}
                and sorted(sigs) == sorted(signatures)
                and sigs["serving_default"]["inputs"]["x"]["dtype"] == "DT_FLOAT"
                and sigs["serving_default"]["outputs"]["y"]["name"] == "y:0")
    return check


def _metrics_check(body: bytes) -> bool:
    return b"# TYPE :tensorflow:serving:request_count" in body


def _hp2(x, b):
    return 0.5 * x + b


def valid_cases() -> list[RestCase]:
    """Valid requests and their exact answers (half_plus_two: y = x/2 + 2 at
    version 1, x/2 + 3 at version 2)."""
    hp2 = "half_plus_two"
    many = [float(i % 7) for i in range(20000)]  # a body over 64 KiB
    out = [
        _predict(hp2, {"instances": [[1.0], [2.0], [5.0]]}, 200,
                 {"predictions": [[3.5], [4.0], [5.5]]}),
        _predict(hp2, {"instances": [[1.0]]}, 200, {"predictions": [[2.5]]}, version=1),
        _predict(hp2, {"instances": [[1.0]]}, 200, {"predictions": [[2.5]]},
                 version="0001"),
        _predict(hp2, {"signature_name": "serving_default", "instances": [{"x": [4.0]}]},
                 200, {"predictions": [[4.0]]}, label="stable"),
        _predict(hp2, {"inputs": {"x": [[1.0], [3.0]]}}, 200,
                 {"outputs": [[3.5], [4.5]]}, label="canary"),
        _predict(hp2, {"inputs": [[0.0], [-4.0]]}, 200, {"outputs": [[2.0], [0.0]]},
                 version=1),
        _predict(hp2, {"instances": [[x] for x in many]}, 200,
                 {"predictions": [[_hp2(x, 3.0)] for x in many]},
                 description="predict 20000 rows"),
        # %68 is "h": names and labels are percent-decoded.
        _predict("%68alf_plus_two", {"instances": [[2.0]]}, 200, {"predictions": [[3.0]]},
                 label="%73table"),
        _predict(hp2, {"signature_name": "classify_x_to_classes",
                       "examples": [{"x": 1.0}, {"x": 2.0}]}, 200,
                 {"results": [[["2.5", 2.5]], [["3.0", 3.0]]]}, version=1, verb="classify"),
        _predict(hp2, {"signature_name": "regress_x_to_y", "context": {"y": "ignored"},
                       "examples": [{"x": 4.0}, {"x": -2.0}]}, 200,
                 {"results": [5.0, 2.0]}, verb="regress"),
        _predict(hp2, {"signature_name": "classify_x_to_y", "examples": [{"x": 6.0}]}, 200,
                 {"results": [[["", 5.0]]]}, label="stable", verb="classify"),
        _predict("inference", {"signature_name": "classify_both",
                               "examples": [{"x": [1.5, -2.0], "k": 3}, {}]}, 200,
                 {"results": [[["1.50", 1.5], ["-2.00", -2.0]],
                              [["0.00", 0.0], ["0.00", 0.0]]]}, verb="classify"),
        _predict("inference", {"signature_name": "regress_1d",
                               "context": {"x": [7.0, 8.0]}, "examples": [{}, {"k": -1}]},
                 200, {"results": [7.0, 7.0]}, verb="regress"),
        _predict("all_dtypes", {"signature_name": "with_defaults",
                                "inputs": {"a": [1.0, 2.0], "b": 10.0}}, 200,
                 {"outputs": {"doubled": [2.0, 4.0], "sum": [11.0, 12.0], "total": 23.0}}),
        _predict("all_dtypes", {"signature_name": "with_defaults",
                                "inputs": {"a": [1.0], "b": 0.5}}, 200,
                 {"outputs": {"doubled": [2.0], "sum": [1.5], "total": 1.5}}),
        _predict("all_dtypes", {"signature_name": "echo_float",
                                "inputs": {"x": [float("nan"), float("inf"),
                                                 float("-inf"), 0.1, -0.0, 3.0e38]}}, 200,
                 {"outputs": [float("nan"), float("inf"), float("-inf"), 0.1, -0.0, 3.0e38]}),
        _predict("all_dtypes", {"instances": [1.5, 2, -1e-7]}, 200,
                 {"predictions": [1.5, 2.0, -1e-7]}),
        _predict("all_dtypes", {"signature_name": "echo_double",
                                "inputs": {"x": [[1e300, -5e-324], [0.5, 2.0]]}}, 200,
                 {"outputs": [[1e300, -5e-324], [0.5, 2.0]]}),
        _predict("all_dtypes", {"signature_name": "echo_int64",
                                "inputs": {"x": [2**63 - 1, -2**63, 2**53 + 1]}}, 200,
                 {"outputs": [2**63 - 1, -2**63, 2**53 + 1]}),
        _predict("all_dtypes", {"signature_name": "echo_uint64",
                                "inputs": {"x": [2**64 - 1, 0]}}, 200,
                 {"outputs": [2**64 - 1, 0]}),
        _predict("all_dtypes", {"signature_name": "echo_int32",
                                "instances": [[2**31 - 1, -2**31]]}, 200,
                 {"predictions": [[2**31 - 1, -2**31]]}),
        _predict("all_dtypes", {"signature_name": "echo_uint8", "inputs": {"x": [255, 0]}},
                 200, {"outputs": [255, 0]}),
        _predict("all_dtypes", {"signature_name": "echo_int8", "inputs": {"x": [[-128, 127]]}},
                 200, {"outputs": [[-128, 127]]}),
        _predict("all_dtypes", {"signature_name": "echo_bool",
                                "instances": [True, False, True]}, 200,
                 {"predictions": [True, False, True]}),
        _predict("all_dtypes", {"signature_name": "echo_string",
                                "inputs": {"x": ["a", "é €", {"b64": "aGk="}, ""]}}, 200,
                 {"outputs": ["a", "é €", "hi", ""]}),
        _predict("all_dtypes", {"signature_name": "batch_float",
                                "instances": [[1.0, 2.0], [3.0, 4.0]]}, 200,
                 {"predictions": [{"rows": 3.0, "y": [2.0, 4.0]},
                                  {"rows": 7.0, "y": [6.0, 8.0]}]}),
        _predict("all_dtypes", {"signature_name": "echo_float", "inputs": {"x": []}}, 200,
                 {"outputs": []}),
        RestCase("status half_plus_two", "GET", f"/v1/models/{hp2}", None, 200,
                 _version_status(2, 1)),
        RestCase("status version 1", "GET", f"/v1/models/{hp2}/versions/1", None, 200,
                 _version_status(1)),
        RestCase("status all_dtypes", "GET", "/v1/models/all_dtypes", None, 200,
                 _version_status(1)),
        RestCase("metadata", "GET", f"/v1/models/{hp2}/metadata", None, 200,
                 _metadata_check(2, ["serving_default", "regress_x_to_y",
                                     "classify_x_to_y", "classify_x_to_classes"])),
        RestCase("metadata stable", "GET", f"/v1/models/{hp2}/labels/stable/metadata",
                 None, 200, _metadata_check(1, ["serving_default", "regress_x_to_y",
                                                "classify_x_to_y",
                                                "classify_x_to_classes"])),
        RestCase("prometheus", "GET", METRICS_PATH, None, 200, _metrics_check),
    ]
    return out


def error_cases() -> list[RestCase]:
    """Bad requests: each gets a client error, whatever it is."""
    hp2 = "half_plus_two"
    x = {"instances": [[1.0]]}
    return [
        _predict("nope", x),
        _predict(hp2, x, version=7),
        _predict(hp2, x, version="99999999999999999999"),
        _predict(hp2, x, label="nope"),
        _predict(hp2, x, verb="explode"),
        _predict(hp2, {"signature_name": "nope", "instances": [[1.0]]}),
        _predict(hp2, {"instances": [{"z": 1.0}]}),
        _predict(hp2, {"instances": [["a"]]}),
        _predict(hp2, {"instances": [[1.0], [1.0, 2.0]]}),
        _predict(hp2, {"instances": []}),
        _predict(hp2, {"inputs": {"x": [[1.0]]}, "instances": [[1.0]]}),
        _predict(hp2, {"foo": 1}),
        _predict(hp2, b'{"instances": [[1.0]'),
        _predict(hp2, b""),
        _predict(hp2, b"[]"),
        _predict(hp2, {"instances": [[1.0]]}, verb="regress"),
        _predict(hp2, {"signature_name": "regress_x_to_y"}, verb="regress"),
        _predict(hp2, {"signature_name": "classify_x_to_classes",
                       "examples": [{"x": "text"}, {"x": [1, 2.5]}]}, verb="classify"),
        _predict("all_dtypes", {"signature_name": "echo_half", "inputs": {"x": [1.0]}}),
        _predict("all_dtypes", {"signature_name": "echo_complex64", "inputs": {"x": [1.0]}}),
        _predict("all_dtypes", {"signature_name": "echo_uint16", "inputs": {"x": [1]}}),
        _predict("all_dtypes", {"signature_name": "echo_int32", "inputs": {"x": [2**31]}}),
        _predict("all_dtypes", {"signature_name": "echo_string",
                                "inputs": {"x": [{"b64": "!!"}, {"b64": 5}]}}),
        _predict("all_dtypes", {"signature_name": "with_defaults",
                                "instances": [{"a": 1.0, "b": 2.0}]}),
        _predict("all_dtypes", {"signature_name": "batch_float", "instances": [[[1.0]]]}),
        _predict("inference", {"signature_name": "classify_both",
                               "examples": [{"x": [1.0, 2.0, 3.0]}]}, verb="classify"),
        _predict("inference", {"signature_name": "regress_wrong_input",
                               "examples": [{}]}, verb="regress"),
        RestCase("status unknown model", "GET", "/v1/models/nope", None),
        RestCase("status unknown version", "GET", f"/v1/models/{hp2}/versions/5", None),
        RestCase("status no name", "GET", "/v1/models", None),
        RestCase("metadata unknown label", "GET", f"/v1/models/{hp2}/labels/x/metadata", None),
        RestCase("outside /v1", "GET", "/index.html", None),
        RestCase("prometheus with a query", "GET", METRICS_PATH + "?x=1", None),
    ]


def cases() -> list[RestCase]:
    return valid_cases() + error_cases()

