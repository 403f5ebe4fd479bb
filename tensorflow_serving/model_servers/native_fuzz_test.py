"""Fuzz: thousands of mutated requests never crash or hang the server.

gRPC: takes the valid and invalid requests of all five PredictionService
methods (inference_requests.cases()) as seeds, mutates them with a fixed
seed, most of the time field by field (Predict: dtypes, dims, ranks,
tensor_content, filters, aliases; Classify, Regress and MultiInference:
examples and their features, contexts, tasks, method names;
GetModelMetadata: metadata fields; and every method's names, versions and
labels) and else byte by byte (bit flips, byte changes, insertions,
deletions, truncations, duplicated and spliced ranges), and sends them as raw
bytes, eight at a time, to the server's native data plane, some with
deadlines so short that calls are cancelled mid-flight. Any answer is fine;
the server must keep running, answer every call before its deadline, and
still serve valid requests correctly at the end.

REST: takes the requests of every route (rest_requests.cases()) and sends
them over raw sockets, eight connections at a time: some valid, framed in
every valid way (chunked, gzip, Expect, HTTP/1.0, pipelined, in pieces...),
whose answers must be exactly right; the others with their JSON bodies
mutated (structure, numbers at the edges, deep nesting, wrong types, huge
strings, invalid UTF-8, base64 objects), their request line mutated
(methods, paths, versions, labels, verbs, HTTP versions), their headers and
framing mutated (Content-Length, chunked, gzip bodies valid, cut short, bad
or bombs, Expect, Connection) or their bytes mutated. Every request must get
well-formed HTTP answers (or, when it never arrived whole, a close), never a
5xx but upstream's 501s (a method evhttp does not know, a transfer coding
that is not chunked, a dtype JSON cannot carry), and no other connection may
notice: a steady client calls the server throughout, and sees no failure and
no stall.
"""

import collections
import concurrent.futures
import dataclasses
import gzip
import json
import os
import random
import re
import socket
import struct
import tempfile
import zlib

import grpc
from absl.testing import absltest

from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.model_servers.test_util import inference_requests
from tensorflow_serving.model_servers.test_util import predict_requests
from tensorflow_serving.model_servers.test_util import rest_requests
from tensorflow_serving.model_servers import server_launcher
from tensorflow_serving.model_servers.test_util import steady_client
from tensorflow_serving.util.net_http import test_client

NUM_REQUESTS = 6000
SEED = 20261130
# Every call gets this long, except the share that gets a deadline so short it
# expires while the server works on the call.
DEADLINE_S = 60.0
SHORT_DEADLINE_S = 0.002
SHORT_SHARE = 0.05


_SIGNATURES = ("", "with_defaults", "echo_string", "nope", "echo_bool", "classify_both",
               "classify_scores", "classify_first_row", "classify_same_tensor", "regress_1d",
               "regress_2d", "regress_wide", "regress_wrong_input", "classify_x_to_y",
               "regress_x_to_y", "serving_default")
_MODELS = ("all_dtypes", "half_plus_two", "inference", "", "nope")


def mutate(rng: random.Random, method: str, data: bytes, seeds) -> bytes:
    """Mostly at the protobuf level (parseable requests reach the native
    plane's checks and runs), else at the byte level."""
    if rng.random() < 0.6:
        mutated = mutate_fields(rng, method, data)
        if mutated is not None:
            return mutated
    return mutate_bytes(rng, data, seeds)


def mutate_fields(rng: random.Random, method: str, data: bytes):
    """A parseable request with some fields changed, or None."""
    request = inference_requests.REQUEST_TYPES[method]()
    try:
        request.ParseFromString(data)
    except Exception:  # pylint: disable=broad-except
        return None
    mutate_message = {
        inference_requests.PREDICT: _mutate_predict,
        inference_requests.CLASSIFY: _mutate_examples_request,
        inference_requests.REGRESS: _mutate_examples_request,
        inference_requests.MULTI_INFERENCE: _mutate_multi_inference,
        inference_requests.GET_MODEL_METADATA: _mutate_metadata,
    }[method]
    for _ in range(rng.randint(1, 2)):
        mutate_message(rng, request)
    return request.SerializeToString()


def _mutate_spec(rng: random.Random, spec) -> None:
    choice = rng.randrange(4)
    if choice == 0:
        spec.signature_name = rng.choice(_SIGNATURES)
    elif choice == 1:
        spec.version.value = rng.choice((0, 1, 2, -1, 2**62))
    elif choice == 2:
        spec.version_label = rng.choice(("stable", "canary", "", "nope"))
    else:
        spec.name = rng.choice(_MODELS)


def _random_feature(rng: random.Random, feature) -> None:
    kind = rng.randrange(4)
    count = rng.choice((0, 1, 2, 2, 3, 50))
    if kind == 0:
        feature.float_list.value.extend(rng.uniform(-1e6, 1e6) for _ in range(count))
    elif kind == 1:
        feature.int64_list.value.extend(rng.randint(-2**63, 2**63 - 1) for _ in range(count))
    elif kind == 2:
        feature.bytes_list.value.extend(
            bytes(rng.randrange(256) for _ in range(rng.randint(0, 9))) for _ in range(count))
    # else: a feature of no kind


def _random_example(rng: random.Random, example) -> None:
    for _ in range(rng.randint(0, 3)):
        name = rng.choice(("x", "k", "z", "", "x" * 40))
        feature = example.features.feature[name]
        feature.Clear()
        if name == "x" and rng.random() < 0.6:  # what the inference model parses
            feature.float_list.value.extend(rng.uniform(-9, 9) for _ in range(2))
        elif name == "k" and rng.random() < 0.6:
            feature.int64_list.value.append(rng.randint(-9, 9))
        else:
            _random_feature(rng, feature)


def _mutate_input(rng: random.Random, input_message) -> None:
    op = rng.randrange(5)
    if op == 0:  # more examples
        for _ in range(rng.randint(1, 40)):
            target = (input_message.example_list_with_context
                      if input_message.HasField("example_list_with_context")
                      else input_message.example_list)
            _random_example(rng, target.examples.add())
    elif op == 1 and input_message.WhichOneof("kind"):  # change one
        target = getattr(input_message, input_message.WhichOneof("kind"))
        if target.examples:
            _random_example(rng, rng.choice(target.examples))
    elif op == 2:  # a context, moving the examples along
        examples = list(input_message.example_list.examples)
        if examples:
            input_message.example_list_with_context.examples.extend(examples)
        _random_example(rng, input_message.example_list_with_context.context)
    elif op == 3:
        input_message.Clear()
    else:
        target = (input_message.example_list_with_context
                  if input_message.HasField("example_list_with_context")
                  else input_message.example_list)
        del target.examples[rng.randrange(len(target.examples) + 1):]


def _mutate_examples_request(rng: random.Random, request) -> None:
    if rng.random() < 0.4:
        _mutate_spec(rng, request.model_spec)
    elif rng.random() < 0.1:
        request.ClearField("model_spec")
    else:
        _mutate_input(rng, request.input)


def _mutate_multi_inference(rng: random.Random, request) -> None:
    op = rng.randrange(4)
    if op == 0 or not request.tasks:
        task = request.tasks.add()
        task.model_spec.name = rng.choice(_MODELS[:3])
        task.model_spec.signature_name = rng.choice(_SIGNATURES)
        task.method_name = rng.choice(("tensorflow/serving/classify",
                                       "tensorflow/serving/regress", "nope"))
    elif op == 1:
        _mutate_spec(rng, rng.choice(request.tasks).model_spec)
    elif op == 2:
        del request.tasks[rng.randrange(len(request.tasks))]
    else:
        _mutate_input(rng, request.input)


def _mutate_metadata(rng: random.Random, request) -> None:
    if rng.random() < 0.5:
        _mutate_spec(rng, request.model_spec)
    else:
        request.metadata_field.append(rng.choice(("signature_def", "", "nope")))


def _mutate_predict(rng: random.Random, request) -> None:
    op = rng.randrange(7)
    tensors = list(request.inputs.values())
    if op == 0 and tensors:  # dtype, including unknown ones
        rng.choice(tensors).dtype = rng.randrange(32)
    elif op == 1 and tensors:  # a dim: zero, negative, bigger (bounded)
        shape = rng.choice(tensors).tensor_shape
        if shape.dim:
            rng.choice(shape.dim).size = rng.choice((0, -1, -7, 1, 2, 17, 1000))
        else:
            shape.dim.add(size=rng.randint(0, 50))
    elif op == 2 and tensors:  # unknown rank, or rank changes
        shape = rng.choice(tensors).tensor_shape
        if rng.random() < 0.3:
            shape.unknown_rank = not shape.unknown_rank
        elif shape.dim and rng.random() < 0.5:
            del shape.dim[-1]
        else:
            shape.dim.add(size=rng.randint(0, 4))
    elif op == 3 and tensors:  # random tensor_content
        rng.choice(tensors).tensor_content = bytes(
            rng.randrange(256) for _ in range(rng.choice((0, 1, 3, 4, 8, 12, 33))))
    elif op == 4:  # names and versions
        _mutate_spec(rng, request.model_spec)
    elif op == 5:  # output filters
        request.output_filter.append(rng.choice(("y", "sum", "total", "x", "")))
    elif op == 6:  # inputs added or renamed
        alias = rng.choice(("x", "a", "b", "inputs", "z"))
        source = rng.choice(tensors) if tensors else predict_pb2.PredictRequest().inputs[""]
        request.inputs[alias].CopyFrom(source)


def mutate_bytes(rng: random.Random, data: bytes, seeds) -> bytes:
    data = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        op = rng.randrange(8)
        if op <= 2 and data:  # flip bits
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(len(data))
                data[i] ^= 1 << rng.randrange(8)
        elif op == 3 and data:  # overwrite a byte, often with an edge value
            data[rng.randrange(len(data))] = rng.choice((0x00, 0x7F, 0x80, 0xFF,
                                                         rng.randrange(256)))
        elif op == 4:  # insert random bytes
            i = rng.randrange(len(data) + 1)
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 5 and data:  # delete a range
            i = rng.randrange(len(data))
            del data[i:i + rng.randint(1, 16)]
        elif op == 6 and data:  # truncate
            del data[rng.randrange(len(data)):]
        elif op == 7:  # duplicate a range, or splice in part of another seed
            other = rng.choice(seeds) if rng.random() < 0.5 else bytes(data)
            if other:
                i = rng.randrange(len(other))
                piece = other[i:i + rng.randint(1, 64)]
                j = rng.randrange(len(data) + 1)
                data[j:j] = piece
    return bytes(data)


# ---------------------------------------------------------------- REST

NUM_HTTP_EXCHANGES = 5000
HTTP_SEED = SEED + 2
MAX_BODY = 1 << 20  # --rest_api_max_body_bytes: 413s and bombs stay cheap
_HTTP_TIMEOUT_S = 60.0
# Upstream's 5xx answers to requests it cannot serve: evhttp's for a method
# it does not know or a transfer coding other than chunked, and
# UNIMPLEMENTED for a dtype JSON cannot carry (half, complex...).
_ALLOWED_501 = re.compile(rb"Method .* not implemented|Unsupported Transfer-Encoding: "
                          rb'|"Conversion of JSON Value: ')

_EDGE_NUMBERS = (0, 1, -1, 0.5, -0.0, 1e-45, 5e-324, 3.4028235e38, 3.5e38,
                 1.7976931348623157e308, -1.7976931348623157e308, 2**31 - 1, 2**31, -2**31,
                 -2**31 - 1, 2**32, 2**53 + 1, 2**63 - 1, 2**63, -2**63, -2**63 - 1,
                 2**64 - 1, 2**64, 10**30, 127, 128, -129, 255, 256, 65535, 65536,
                 float("nan"), float("inf"), float("-inf"))
_EDGE_STRINGS = ("", "x", "a", "é", "\u0000", "\ud800", "\U0001f600", "nope", "stable",
                 "serving_default", "echo_string", "classify_both", "regress_x_to_y",
                 "with_defaults", "x" * 300, "b64")
_KEYS = ("instances", "inputs", "signature_name", "examples", "context", "b64", "x", "a",
         "b", "k", "y", "")
_BAD_NUMBERS = (b"1e400", b"-", b"01", b"1.", b".5", b"0x10", b"+1", b"1e", b"nan", b"inf",
                b"-Infinity", b"NaN", b"Infinity", b"1E+2", b"-0", b"1" * 400,
                b"0." + b"0" * 400 + b"1", b"9" * 30, b"-9" + b"9" * 25, b"1e-400", b"truE",
                b"nul")
_BAD_UTF8 = (b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80",
             b"\xe2\x82", b"\x80", b"\xf0\x9f\x98")
_METHODS = (b"GET", b"POST", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"PATCH", b"post",
            b"TRACE", b"CONNECT", b"BREW", b"", b"G\x00T", b"P" * 300, b"POST ")
_VERSIONS = (b"HTTP/1.0", b"HTTP/1.1", b"HTTP/2.0", b"HTTP/1", b"HTTP/1.1.1", b"http/1.1",
             b"HTTP/9.9", b"HTTP/01.01", b"HTTP/1.10", b"", b"HTTP/1.1 ", b"HTTP/0.9")
_NAMES = ("half_plus_two", "all_dtypes", "inference", "nope", "", "%68alf_plus_two", "%zz",
          "%", "half%00two", "a" * 3000, "h\xe9", "x y", "%2F", "half_plus_two%", "..")
_SEGMENTS = ("", "/versions/1", "/versions/2", "/versions/0", "/versions/-1",
             "/versions/99999999999999999999", "/versions/0001", "/versions/", "/versions/a",
             "/versions/1.5", "/labels/stable", "/labels/canary", "/labels/nope", "/labels/",
             "/labels/%73table", "/labels/stable/versions/1", "/metadata", "/versions/1/metadata")
_VERBS = ("", ":predict", ":classify", ":regress", ":PREDICT", ":Classify", ":explode", ":",
          ":predict:predict", "/metadata", ":metadata", "/", "?x=1", "#f")


@dataclasses.dataclass
class Exchange:
    """One connection's requests and what may be said of their answers."""
    kind: str
    pieces: list
    # The requests, when they are all valid and the answers must be theirs.
    cases: list = dataclasses.field(default_factory=list)
    # Every answer must be the REST API's JSON.
    json_only: bool = False
    # "close": half-close and read to the end; "one": read one answer, then
    # reset; "abandon": close at once, reading nothing.
    mode: str = "close"

    @property
    def raw(self) -> bytes:
        return b"".join(self.pieces)


def _render(method: bytes, target: bytes, headers, body: bytes, *, version=b"HTTP/1.1",
            eol=b"\r\n", leading=b"") -> bytes:
    lines = [method + b" " + target + b" " + version]
    lines += [name + b": " + value for name, value in headers]
    return leading + eol.join(lines) + eol + eol + body


def _gzip(data: bytes, rng: random.Random) -> bytes:
    return gzip.compress(data, compresslevel=rng.choice((1, 6, 9)), mtime=0)


def _bomb(size: int) -> bytes:
    """gzip of `size` zero bytes (a kilobyte per megabyte)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    parts = [compressor.compress(block) for _ in range(size >> 20)]
    return b"".join(parts) + compressor.flush()


_BOMBS = {}


def _cached_bomb(size: int) -> bytes:
    if size not in _BOMBS:
        _BOMBS[size] = _bomb(size)
    return _BOMBS[size]


def _with_declared_size(gz: bytes, size: int) -> bytes:
    return gz[:-4] + (size & 0xFFFFFFFF).to_bytes(4, "little")


def _chunked(rng: random.Random, body: bytes, *, extensions=False, trailer=False) -> bytes:
    out = b""
    pos = 0
    while pos < len(body):
        size = rng.randint(1, max(1, len(body) - pos))
        if rng.random() < 0.3:
            size = min(size, rng.randint(1, 16))
        text = f"{size:x}" if rng.random() < 0.7 else f"{size:X}".rjust(4, "0")
        if extensions and rng.random() < 0.5:
            text += ";ext=1"
        out += text.encode() + b"\r\n" + body[pos:pos + size] + b"\r\n"
        pos += size
    out += b"0\r\n"
    if trailer:
        out += b"X-Trailer: t\r\n"
    return out + b"\r\n"


def _split(rng: random.Random, raw: bytes) -> list:
    """`raw` in 1 to 5 pieces, each sent by itself."""
    if len(raw) < 2 or rng.random() < 0.7:
        return [raw]
    cuts = sorted(rng.sample(range(1, len(raw)), min(len(raw) - 1, rng.randint(1, 4))))
    return [raw[a:b] for a, b in zip([0] + cuts, cuts + [len(raw)])]


def _valid_request(rng: random.Random, case: rest_requests.RestCase, *, last=True):
    """`case` in one of the many valid ways to send it: (bytes, keeps alive)."""
    method = case.method.encode()
    target = case.path.encode()
    body = case.body if case.body is not None else b""
    headers = []
    version = b"HTTP/1.1"
    eol = b"\r\n"
    leading = b""
    keep_alive = True
    style = rng.randrange(12)
    framed = False
    if style == 1:  # chunked, with extensions and trailers
        headers.append((b"Transfer-Encoding", rng.choice((b"chunked", b"Chunked",
                                                          b"identity, chunked"))))
        body = _chunked(rng, body, extensions=True, trailer=rng.random() < 0.5)
        framed = True
    elif style == 2 and case.body:  # gzip, by length or chunked
        headers.append((b"Content-Encoding", rng.choice((b"gzip", b"x-gzip"))))
        body = _gzip(body, rng)
        if rng.random() < 0.5:
            headers.append((b"Transfer-Encoding", b"chunked"))
            body = _chunked(rng, body)
            framed = True
    elif style == 3 and case.body:
        headers.append((b"Expect", b"100-continue"))
    elif style == 4:
        version = b"HTTP/1.0"
        if rng.random() < 0.5 and not last:
            headers.append((b"Connection", b"keep-alive"))
        else:
            keep_alive = False
    elif style == 5:
        headers += [(b"User-Agent", b"fuzz/1.0"), (b"Accept", b"*/*"),
                    (b"Content-Type", b"application/json"), (b"X-Latin-1", b"caf\xe9"),
                    (b"X-Fold", b"a\r\n  b")]
        headers += [(f"X-N{i}".encode(), b"v" * rng.randint(0, 40))
                    for i in range(rng.choice((1, 10, 200)))]
    elif style == 6:
        eol = b"\n"
    elif style == 7:
        leading = rng.choice((b"\r\n", b"\n", b"\r\n\r\n"))
    elif style == 8:
        target = b"http://localhost" + target
    elif style == 9 and case.path.startswith("/v1/models/"):
        target = b"/V1/MODELS/" + target[len(b"/v1/models/"):]
        target = re.sub(rb":(predict|classify|regress)$", lambda m: m.group(0).upper(), target)
    elif style == 10:
        headers.append((b"Transfer-Encoding", b"identity"))
    if not framed and (body or rng.random() < 0.5):
        length = str(len(body)).encode()
        if rng.random() < 0.1:
            length = b"00" + length
        headers.append((b"Content-Length", length))
    if last and keep_alive and rng.random() < 0.3:
        headers.append((b"Connection", b"close"))
        keep_alive = False
    rng.shuffle(headers)
    if eol == b"\n":
        headers = [(n, v.replace(b"\r\n", b"\n")) for n, v in headers]
    return _render(method, target, headers, body, version=version, eol=eol,
                   leading=leading), keep_alive


def _valid_exchange(rng: random.Random, valid) -> Exchange:
    count = rng.choice((1, 1, 1, 1, 2, 3))
    cases = []
    raw = b""
    for i in range(count):
        case = rng.choice(valid)
        if case.body and len(case.body) > 65536 and count > 1:
            case = valid[0]  # pipelines stay small: their answers wait unread
        request, keep_alive = _valid_request(rng, case, last=i == count - 1)
        raw += request
        cases.append(case)
        if not keep_alive:
            break
    mode = "one" if len(cases) == 1 and rng.random() < 0.15 else "close"
    return Exchange("valid", _split(rng, raw), cases=cases, mode=mode)


# ------------------------------------------------------------ JSON bodies

def _random_json(rng: random.Random, depth=0):
    kind = rng.randrange(10)
    if kind < 3:
        return rng.choice(_EDGE_NUMBERS)
    if kind == 3:
        return rng.choice(_EDGE_STRINGS)
    if kind == 4:
        return rng.choice((True, False, None))
    if kind == 5:
        return rng.choice(({"b64": "aGk="}, {"b64": "!!"}, {"b64": ""}, {"b64": 5},
                           {"b64": "aGk=", "x": 1}, {"b64": "YQ"}, {"B64": "aGk="},
                           {"b64": "AAEC/w=="}))
    if kind == 6 and depth < 3:
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if kind == 7 and depth < 3:
        return {rng.choice(_KEYS): _random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    if kind == 8:
        return rng.choice(([], {}, [[]], [{}], [[1.0], [1.0, 2.0]], [[[1.0]]], [1] * 1000,
                           [[0.5]] * 300))
    return rng.choice(_EDGE_NUMBERS + _EDGE_STRINGS)


def _pick(rng: random.Random, doc):
    """A random (container, key) in `doc`, or (None, None) for the root."""
    parent, key = None, None
    node = doc
    while isinstance(node, (list, dict)) and node and rng.random() < 0.8:
        keys = list(node) if isinstance(node, dict) else range(len(node))
        k = rng.choice(list(keys))
        parent, key, node = node, k, node[k]
    return parent, key


_DEEP = "@@deep@@"


def _mutate_doc(rng: random.Random, doc, deep: list):
    """Changes `doc` in place where possible; returns the (new) root."""
    parent, key = _pick(rng, doc)
    node = doc if parent is None else parent[key]
    op = rng.randrange(10)
    new = node
    if op <= 2:
        new = _random_json(rng)
    elif op == 3 and not deep:  # deep nesting, balanced or not, lists or objects
        depth = rng.choice((64, 65, 1000, 10000, 100000))
        kind = rng.randrange(4)
        if kind == 0:
            text = "[" * depth + "1.0" + "]" * depth
        elif kind == 1:
            text = '{"a":' * depth + "1" + "}" * depth
        elif kind == 2:
            text = "[" * depth
        else:
            text = "[{" * min(depth, 1000) + '"x":1' + "}]" * min(depth, 1000)
        deep.append(text)
        new = _DEEP
    elif op == 4:  # wrap in a few lists
        for _ in range(rng.randint(1, 4)):
            new = [new]
    elif op == 5 and parent is not None:  # delete
        del parent[key]
        return doc
    elif op == 6 and isinstance(node, list):  # grow, ragged or not
        extra = rng.choice((node[:1], node[-1:], [_random_json(rng)], node * 3))
        node.extend(extra)
        return doc
    elif op == 7 and isinstance(node, dict):  # a key added or renamed
        name = rng.choice(_KEYS)
        if node and rng.random() < 0.5:
            node[name] = node.pop(rng.choice(list(node)))
        else:
            node[name] = _random_json(rng)
        return doc
    elif op == 8:  # type swaps
        if isinstance(node, dict):
            new = list(node.values())
        elif isinstance(node, list):
            new = {"x": node} if rng.random() < 0.5 else (node[0] if node else None)
        else:
            new = [node] * rng.choice((0, 2, 1000 if len(json.dumps(node)) < 100 else 3))
    else:  # huge strings
        new = rng.choice(("a" * 100000, "\u0000" * 1000, "é" * 5000, "\ud800" * 100,
                          "%" * 10000))
    if parent is None:
        return new
    parent[key] = new
    return doc


def _mutate_text(rng: random.Random, text: bytes) -> bytes:
    op = rng.randrange(7)
    if op == 0:  # a number token that is no JSON number
        numbers = list(re.finditer(rb"-?\d+(\.\d+)?([eE][-+]?\d+)?", text))
        if numbers:
            m = rng.choice(numbers)
            return text[:m.start()] + rng.choice(_BAD_NUMBERS) + text[m.end():]
    if op == 1:  # invalid UTF-8 inside a string, or anywhere
        quotes = [m.start() for m in re.finditer(rb'"', text)]
        i = rng.choice(quotes) + 1 if quotes and rng.random() < 0.8 else rng.randrange(
            len(text) + 1)
        return text[:i] + rng.choice(_BAD_UTF8) + text[i:]
    if op == 2:  # anything after the root, or a byte order mark before it
        return rng.choice((text + rng.choice((b"garbage", b"{}", b"\x00", b" ]")),
                           b"\xef\xbb\xbf" + text, b" \t\n" + text))
    if op == 3:
        return text.replace(b'"', b"'", rng.randint(1, 3))
    if op == 4 and text:  # cut short
        return text[:rng.randrange(len(text))]
    return mutate_bytes(rng, text, [text])


def mutate_json(rng: random.Random, body: bytes) -> bytes:
    try:
        doc = json.loads(body)
    except ValueError:
        return _mutate_text(rng, body)
    deep = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        doc = _mutate_doc(rng, doc, deep)
    text = json.dumps(doc, allow_nan=True, ensure_ascii=rng.random() < 0.5)
    text = text.encode("utf-8", "surrogatepass")
    if deep:
        text = text.replace(json.dumps(_DEEP).encode(), deep[0].encode(), 1)
    if rng.random() < 0.3:
        text = _mutate_text(rng, text)
    # Within a little of the body limit, so bodies stay cheap to send.
    return text[:MAX_BODY + 100]


def _json_exchange(rng: random.Random, posts) -> Exchange:
    case = rng.choice(posts)
    body = mutate_json(rng, case.body)
    mutated = dataclasses.replace(case, body=body)
    raw, _ = _valid_request(rng, mutated)
    return Exchange("json", _split(rng, raw), json_only=len(body) <= MAX_BODY)


# ------------------------------------------------------- request lines

def _request_line_exchange(rng: random.Random, cases) -> Exchange:
    case = rng.choice(cases)
    method = case.method.encode()
    target = case.path.encode()
    version = b"HTTP/1.1"
    for _ in range(rng.randint(1, 2)):
        op = rng.randrange(6)
        if op == 0:
            method = rng.choice(_METHODS)
        elif op == 1:
            path = (f"/v1/models/{rng.choice(_NAMES)}{rng.choice(_SEGMENTS)}"
                    f"{rng.choice(_VERBS)}")
            target = path.encode("latin-1")
        elif op == 2:
            version = rng.choice(_VERSIONS)
        elif op == 3:
            target = rng.choice((b"", b"*", b"/", b"//v1/models/half_plus_two",
                                 b"/v1/models/half_plus_two/", b"/v2/models/half_plus_two",
                                 b"/v1", b"/v1/", b"/v1/models/", b"/v1/models",
                                 b"/v1/models/half_plus_two\x00:predict",
                                 b"/v1/models/half plus two", b"/" + b"a" * 70000,
                                 b"/v1/models/" + b"x" * 20000 + b":predict",
                                 b"https://h:1/v1/models/half_plus_two",
                                 b"http://h", b"HTTP://h?x", rest_requests.METRICS_PATH.encode()
                                 + rng.choice((b"?", b"/", b"x", b"#")),
                                 rest_requests.METRICS_PATH.upper().encode()))
        elif op == 4:
            target = target + rng.choice((b"?x=1", b"/", b"#frag", b"%", b"%00", b"\xff",
                                          b";x", b" x"))
        else:
            target = target.replace(b"/", rng.choice((b"//", b"\\", b"/./")), 1)
    body = case.body or b""
    headers = [(b"Content-Length", str(len(body)).encode())] if body else []
    raw = _render(method, target, headers, body, version=version)
    return Exchange("request line", _split(rng, raw))


# ---------------------------------------------------------- framing

def _framing_exchange(rng: random.Random, cases, posts) -> Exchange:
    case = rng.choice(posts if rng.random() < 0.8 else cases)
    body = case.body or b""
    method, target = case.method.encode(), case.path.encode()
    headers = []
    op = rng.randrange(16)
    if op == 0:  # a length that does not fit the body
        headers.append((b"Content-Length", str(max(0, len(body) + rng.choice(
            (-len(body), -5, -1, 1, 100, MAX_BODY)))).encode()))
    elif op == 1:  # a length that is no length, or several
        value = rng.choice((b"-1", b"abc", b"1e3", b"", b"+5", b" 5 ", b"0x10", b"9" * 30,
                            b"5, 5", b"5, 6", b"\xff"))
        headers.append((b"Content-Length", value))
        if rng.random() < 0.5:
            headers.append((b"content-length", str(len(body)).encode()))
    elif op == 2:  # both framings
        headers += [(b"Content-Length", str(len(body)).encode()),
                    (b"Transfer-Encoding", b"chunked")]
        body = _chunked(rng, body)
    elif op == 3:  # transfer codings
        headers.append((b"Transfer-Encoding", rng.choice(
            (b"gzip, chunked", b"chunked, gzip", b"gzip", b"chunked, chunked", b"x",
             b"chunked;q=1", b"identity", b" chunked ", b"\xffchunked"))))
        if rng.random() < 0.7:
            body = _chunked(rng, body)
    elif op == 4:  # chunked bodies that are not
        headers.append((b"Transfer-Encoding", b"chunked"))
        chunked = _chunked(rng, body)
        bad = rng.randrange(7)
        if bad == 0:
            body = chunked[:-5]  # no last chunk
        elif bad == 1:
            body = b"zz\r\n" + body + b"\r\n0\r\n\r\n"
        elif bad == 2:
            body = b"-1\r\n" + body
        elif bad == 3:
            body = b"1" * 17 + b"\r\n" + body
        elif bad == 4:
            body = f"{len(body) + 3:x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
        elif bad == 5:
            body = f"{MAX_BODY + 1:x}\r\n".encode() + body
        else:
            body = chunked[:-2] + (b"X: y\r\n" * 5000) + b"\r\n"
    elif op in (5, 6, 7):  # gzip bodies: cut short, corrupt, lying, bombs, not gzip
        headers.append((b"Content-Encoding", rng.choice((b"gzip", b"x-gzip", b"deflate, gzip"))))
        gz = _gzip(body, rng)
        kind = rng.randrange(9)
        if kind == 0:
            body = gz[:rng.randrange(len(gz))]
        elif kind == 1:
            i = rng.randrange(10, len(gz))
            body = gz[:i] + bytes([gz[i] ^ 0x10]) + gz[i + 1:]
        elif kind == 2:
            body = _with_declared_size(gz, len(gz) + rng.choice((-1, 1, 1000)))
        elif kind == 3:  # honest footer over the limit: 413
            body = _cached_bomb(16 << 20)
        elif kind == 4:  # footer declaring little, or the limit, for 16 MiB
            body = _with_declared_size(_cached_bomb(16 << 20), rng.choice((100, MAX_BODY)))
        elif kind == 5:
            body = body + b"\x00"  # not gzip at all
        elif kind == 6:
            body = gz + gz
        elif kind == 7:
            body = _with_declared_size(gz, 2**32 - 1)
        else:
            body = gz + b"trailing"
    elif op == 8:
        headers.append((b"Expect", rng.choice((b"100-continue", b"100-Continue", b"nope",
                                               b"", b"100-continue, x"))))
    elif op == 9:
        headers.append((b"Connection", rng.choice((b"close", b"keep-alive", b"Upgrade",
                                                   b"close, keep-alive", b"\x00"))))
    elif op == 10:  # heads too large
        if rng.random() < 0.5:
            headers.append((b"X-Big", b"v" * 70000))
        else:
            headers += [(b"X-Many", b"v" * 20)] * 3000
    elif op == 11:  # header lines that are not
        line = rng.choice((b"No-Colon", b"Space : x", b" Lead: x", b"X\x00Y: z", b": x",
                           b"X-Ctl: a\x00b", b"X-Bad-\xff: y"))
        head = (method + b" " + target + b" HTTP/1.1\r\n" + line + b"\r\n" +
                f"Content-Length: {len(body)}\r\n\r\n".encode())
        return Exchange("framing", _split(rng, head + body))
    elif op == 12:  # line endings
        raw = _render(method, target, [(b"Content-Length", str(len(body)).encode())], body,
                      eol=rng.choice((b"\r", b"\n\r", b"\r\r\n")))
        return Exchange("framing", _split(rng, raw))
    elif op == 13:  # a body with no framing at all
        pass
    elif op == 14:  # huge bodies, within or over the limit
        size = rng.choice((MAX_BODY, MAX_BODY + 1))
        body = (body + b" " * size)[:size]
        headers.append((b"Content-Length", str(size).encode()))
    else:  # a body for a GET, a HEAD
        method = rng.choice((b"GET", b"HEAD"))
    if not any(n.lower() in (b"content-length", b"transfer-encoding") for n, _ in headers) \
            and op not in (13,) and body:
        headers.append((b"Content-Length", str(len(body)).encode()))
    raw = _render(method, target, headers, body)
    return Exchange("framing", _split(rng, raw))


def _bytes_exchange(rng: random.Random, valid, raw_seeds) -> Exchange:
    raw, _ = _valid_request(rng, rng.choice(valid))
    return Exchange("bytes", _split(rng, mutate_bytes(rng, raw, raw_seeds)))


def _abandon_exchange(rng: random.Random, valid) -> Exchange:
    raw, _ = _valid_request(rng, rng.choice(valid))
    if rng.random() < 0.5:
        raw = raw[:rng.randrange(1, len(raw) + 1)]
    return Exchange("abandoned", [raw], mode="abandon")


def _pipeline_exchange(rng: random.Random, valid, posts) -> Exchange:
    """A valid request, then a mutated one, then a valid one."""
    first, _ = _valid_request(rng, valid[0], last=False)
    case = rng.choice(posts)
    middle = _json_exchange(rng, [case]).raw if rng.random() < 0.5 else \
        _framing_exchange(rng, [case], [case]).raw
    last, _ = _valid_request(rng, valid[1])
    return Exchange("pipelined", _split(rng, first + middle + last))


def http_exchanges(rng: random.Random, count: int):
    """Yields `count` exchanges, made as they are needed (some bodies are
    a megabyte)."""
    cases = rest_requests.cases()
    valid = rest_requests.valid_cases()
    posts = [c for c in cases if c.method == "POST" and c.body]
    raw_seeds = [_valid_request(random.Random(i), c)[0] for i, c in enumerate(cases)]
    for _ in range(count):
        r = rng.random()
        if r < 0.15:
            yield _valid_exchange(rng, valid)
        elif r < 0.45:
            yield _json_exchange(rng, posts)
        elif r < 0.60:
            yield _request_line_exchange(rng, cases)
        elif r < 0.82:
            yield _framing_exchange(rng, cases, posts)
        elif r < 0.92:
            yield _bytes_exchange(rng, valid, raw_seeds)
        elif r < 0.96:
            yield _pipeline_exchange(rng, valid, posts)
        else:
            yield _abandon_exchange(rng, valid)


def bounded_map(pool, fn, items, window=64):
    """pool.map(fn, items), in order, with at most `window` items made and
    not yet consumed."""
    pending = collections.deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


# --------------------------------------------------------- the oracle

def _first_request_arrives(raw: bytes) -> bool:
    """Whether `raw` holds a whole first request (head and body), as the
    server frames it, so that it must get an answer. Anything this cannot
    frame (bad lengths, codings, chunks) the server answers with an error."""
    pos = 0
    while raw.startswith(b"\r\n", pos) or raw.startswith(b"\n", pos):
        pos += 2 if raw.startswith(b"\r\n", pos) else 1
    line_end = raw.find(b"\n", pos)
    if line_end < 0:
        return False
    ends = [i for i in (raw.find(b"\n\n", line_end), raw.find(b"\n\r\n", line_end)) if i >= 0]
    if not ends:
        return False
    end = min(ends)
    body_start = end + (2 if raw.startswith(b"\n\n", end) else 3)
    headers = []
    for line in raw[line_end + 1:end].split(b"\n"):
        name, colon, value = line.rstrip(b"\r").partition(b":")
        if colon:
            headers.append((name.lower(), value.strip(b" \t")))
    body = raw[body_start:]
    codings = [c.strip(b" \t").lower() for n, v in headers if n == b"transfer-encoding"
               for c in v.split(b",") if c.strip(b" \t")]
    codings = [c for c in codings if c != b"identity"]
    if codings:
        if codings != [b"chunked"]:
            return True  # refused
        return _chunked_complete(body)
    lengths = [item.strip(b" \t") for n, v in headers if n == b"content-length"
               for item in v.split(b",")]
    if not lengths:
        return True
    if not all(item.isdigit() for item in lengths) or len({int(i) for i in lengths}) != 1:
        return True  # refused
    length = int(lengths[0])
    return length > MAX_BODY or len(body) >= length


def _chunked_complete(body: bytes) -> bool:
    pos = 0
    while True:
        nl = body.find(b"\n", pos)
        if nl < 0:
            return len(body) - pos > 4096  # a size line too long is refused
        size_text = body[pos:nl].rstrip(b"\r").split(b";")[0].strip(b" \t")
        if not re.fullmatch(rb"[0-9a-fA-F]{1,16}", size_text):
            return True  # refused
        size = int(size_text, 16)
        pos = nl + 1
        if size == 0:
            while True:  # trailers up to an empty line
                nl = body.find(b"\n", pos)
                if nl < 0:
                    return False
                line = body[pos:nl].rstrip(b"\r")
                pos = nl + 1
                if not line:
                    return True
        if size > MAX_BODY:
            return True  # refused
        if len(body) < pos + size + 1:
            return False
        pos += size
        if body.startswith(b"\r\n", pos):
            pos += 2
        elif body.startswith(b"\n", pos):
            pos += 1
        elif body[pos:] == b"\r":
            return False
        else:
            return True  # refused


def check_exchange(exchange: Exchange, conversation) -> list:
    """What is wrong with the answers `exchange` got: [] when nothing."""
    raw = exchange.raw
    data = conversation.data
    problems = []
    try:
        responses = test_client.parse_responses(data, head_method=b"HEAD" in raw)
    except ValueError as e:
        return [f"malformed answer ({e}); got {data[:400]!r}"]
    interim = [r for r in responses if r.status < 200]
    final = [r for r in responses if r.status >= 200]
    if interim and (b"100-continue" not in raw.lower() or
                    any(r.status != 100 or r.headers for r in interim)):
        problems.append(f"interim answers {interim}")
    if not final and _first_request_arrives(raw):
        problems.append("no answer to a request that arrived whole")
    for i, response in enumerate(final):
        body = response.body
        ctype = (response.header("Content-Type") or [""])[0]
        if not response.header("Date") or not response.header("Content-Type"):
            problems.append(f"no Date or Content-Type: {response.headers}")
        if response.status >= 500 and not (response.status == 501 and
                                           _ALLOWED_501.search(body)):
            problems.append(f"a server error: {response!r}")
        if response.status != 200 and not 400 <= response.status < 500 and \
                response.status != 501:
            problems.append(f"status {response.status}")
        if "close" in [v.lower() for v in response.header("Connection")] and i != len(final) - 1:
            problems.append("answers after Connection: close")
        if ctype == "application/json" and body:
            try:
                value = json.loads(body.decode("utf-8", "surrogateescape"))
            except ValueError as e:
                problems.append(f"JSON that does not parse ({e}): {body[:300]!r}")
                continue
            if response.status != 200 and (not isinstance(value, dict) or list(value) != ["error"]
                                            or not isinstance(value["error"], str)):
                problems.append(f"an error that is not {{'error': ...}}: {body[:300]!r}")
            if response.header("Access-Control-Allow-Origin") != ["*"]:
                problems.append(f"no CORS headers: {response.headers}")
        elif exchange.json_only and response.status not in (413, 100):
            problems.append(f"not the REST API's JSON: {response!r}")
        elif ctype == "text/html" and body and not body.startswith(
                f"<HTML><HEAD>\n<TITLE>{response.status} ".encode()):
            problems.append(f"not an error page: {response!r}")
    if exchange.cases:
        if len(final) != len(exchange.cases) and not (exchange.mode == "one" and len(final) == 1):
            problems.append(f"{len(final)} answers to {len(exchange.cases)} requests")
        for case, response in zip(exchange.cases, final):
            if not case.matches(response.status, response.body):
                problems.append(f"{case.description}: wrong answer {response!r}")
    return problems


def _one_answer(data: bytes) -> bool:
    try:
        return any(r.status >= 200 for r in test_client.parse_responses(data))
    except ValueError:
        return False


def converse(port: int, exchange: Exchange):
    if exchange.mode == "abandon":
        with socket.create_connection(("127.0.0.1", port), timeout=_HTTP_TIMEOUT_S) as sock:
            sock.sendall(exchange.raw)
            if len(exchange.raw) % 2:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return None
    return test_client.converse(port, exchange.pieces, timeout=_HTTP_TIMEOUT_S,
                                until=_one_answer if exchange.mode == "one" else None)



class NativeFuzzTest(absltest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        tmp = tempfile.mkdtemp()
        monitoring = os.path.join(tmp, "monitoring.config")
        with open(monitoring, "w", encoding="utf-8") as f:
            f.write('prometheus_config { enable: true path: "%s" }\n'
                    % rest_requests.METRICS_PATH)
        cls.server = server_launcher.ServerRunner(
            inference_requests.server_args(tmp) + [
                f"--monitoring_config_file={monitoring}", "--rest_api_enable_cors_support",
                f"--rest_api_max_body_bytes={MAX_BODY}"])
        cls.server.start(models=inference_requests.MODELS)
        cls.server.wait_for_version("half_plus_two", 1)
        if os.environ.get("MODEL_SERVER_ASAN"):  # --config=asan: really under ASan?
            with open(f"/proc/{cls.server.process.pid}/maps", encoding="utf-8") as f:
                assert "libasan" in f.read(), "the server runs without ASan"

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        super().tearDownClass()

    def test_mutated_http_requests(self):
        print(f"HTTP seed {HTTP_SEED}")
        exchanges = http_exchanges(random.Random(HTTP_SEED), NUM_HTTP_EXCHANGES)
        port = self.server.rest_port

        def run(exchange):
            try:
                conversation = converse(port, exchange)
            except (TimeoutError, OSError) as e:
                return exchange, None, [f"no end: {e!r}"]
            if conversation is None:
                return exchange, None, []
            return exchange, conversation, check_exchange(exchange, conversation)

        statuses = collections.Counter()
        kinds = collections.Counter()
        unanswered = collections.Counter()
        server_errors = collections.Counter()
        failures = []
        exact = 0
        with steady_client.SteadyClient(self.server, "half_plus_two") as steady:
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                for exchange, conversation, problems in bounded_map(pool, run, exchanges):
                    kinds[exchange.kind] += 1
                    if problems:
                        failures.append(f"{exchange.kind} {exchange.raw[:300]!r}: {problems}")
                    if conversation is None:
                        continue
                    try:
                        answers = test_client.parse_responses(
                            conversation.data, head_method=b"HEAD" in exchange.raw)
                    except ValueError:
                        continue
                    final = [r for r in answers if r.status >= 200]
                    unanswered[exchange.kind] += not final
                    for response in final:
                        statuses[response.status] += 1
                        if response.status >= 500:
                            allowed = _ALLOWED_501.search(response.body)
                            what = allowed.group(0) if allowed else response.body[:100]
                            server_errors[f"{response.status} {what.decode(errors='replace')}"] += 1
                    if exchange.cases and not problems:
                        exact += len(exchange.cases)
        summary = (f"{NUM_HTTP_EXCHANGES} connections ({dict(kinds)}): statuses "
                   + ", ".join(f"{code} {n}" for code, n in sorted(statuses.items()))
                   + f"; closed unanswered {dict(unanswered)}; 501s {dict(server_errors)}; "
                   f"{exact} valid answers checked; steady client: {steady.calls} calls, "
                   f"longest {steady.longest:.2f} s")
        print(summary)
        self.assertIsNone(self.server.process.poll(),
                          f"the server died: {summary}\n{self.server.logs()}")
        self.assertFalse(failures, f"{len(failures)} failures, the first: \n"
                         + "\n".join(failures[:40]) + f"\n{summary}")
        steady.check(self)
        # The mix reaches every kind of answer, and many exact ones.
        for code in (200, 400, 404, 413, 501):
            self.assertGreater(statuses[code], 10, summary)
        self.assertGreater(exact, NUM_HTTP_EXCHANGES // 10, summary)
        self.assertServesRest()
        self.assertServes()

    def assertServesRest(self):
        """Every valid REST request still gets its exact answer."""
        for case in rest_requests.valid_cases():
            raw = _render(case.method.encode(), case.path.encode(),
                          [(b"Content-Length", str(len(case.body or b"")).encode())],
                          case.body or b"")
            responses = test_client.parse_responses(
                test_client.converse(self.server.rest_port, [raw]).data)
            self.assertLen(responses, 1, case.description)
            self.assertTrue(case.matches(responses[0].status, responses[0].body),
                            (case.description, responses[0]))

    def test_mutated_requests(self):
        seeds = collections.defaultdict(list)
        for _, method, data in inference_requests.cases():
            seeds[method].append(data)
        seed_bytes = [data for _, _, data in inference_requests.cases()]
        rng = random.Random(SEED)
        calls = []
        for _ in range(NUM_REQUESTS):
            short = rng.random() < SHORT_SHARE
            method = rng.choice(inference_requests.METHODS)  # each as often
            calls.append((method, mutate(rng, method, rng.choice(seeds[method]), seed_bytes),
                          SHORT_DEADLINE_S if short else DEADLINE_S))
        stubs = {method: self.server.channel.unary_unary(method)
                 for method in inference_requests.METHODS}

        def send(call):
            method, data, deadline = call
            try:
                stubs[method](data, timeout=deadline)
                return method, "OK", deadline
            except grpc.RpcError as e:
                return method, e.code().name, deadline

        codes = collections.Counter()
        ok = collections.Counter()
        hung = 0
        with steady_client.SteadyClient(self.server, "half_plus_two") as steady:
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                for method, code, deadline in pool.map(send, calls):
                    codes[code] += 1
                    ok[method] += code == "OK"
                    if code == "DEADLINE_EXCEEDED" and deadline == DEADLINE_S:
                        hung += 1
        steady.check(self)
        summary = ", ".join(f"{code} {n}" for code, n in codes.most_common())
        print(f"{NUM_REQUESTS} mutated requests: {summary}; OK by method: "
              + ", ".join(f"{m.rsplit('/', 1)[1]} {n}" for m, n in ok.items()))
        self.assertIsNone(self.server.process.poll(),
                          f"the server died: {summary}\n{self.server.logs()}")
        self.assertEqual(hung, 0, f"calls that never got an answer: {summary}")
        self.assertNotIn("UNAVAILABLE", codes, summary)
        # Mutations of valid requests stay valid often enough to reach a run,
        # for every method.
        self.assertGreater(codes["OK"], NUM_REQUESTS // 20, summary)
        for method in inference_requests.METHODS:
            self.assertGreater(ok[method], NUM_REQUESTS // 200, (method, dict(ok)))
        self.assertServes()

    def assertServes(self):
        """Every method still answers a valid request correctly."""
        stub = self.server.prediction_stub
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "half_plus_two"
        request.inputs["x"].CopyFrom(predict_requests.tensor("float", [2.0], [1, 1]))
        response = stub.Predict(request, timeout=30)
        self.assertEqual(list(response.outputs["y"].float_val), [4.0])
        self.assertEqual(response.model_spec.version.value, 2)
        examples = [inference_requests.example([1.5, -2.0]), inference_requests.example()]
        classification = stub.Classify(classification_pb2.ClassificationRequest.FromString(
            inference_requests.classify("classify_both", examples)), timeout=30)
        self.assertEqual([[(c.label, c.score) for c in cl.classes]
                          for cl in classification.result.classifications],
                         [[("1.50", 1.5), ("-2.00", -2.0)], [("0.00", 0.0), ("0.00", 0.0)]])
        regression = stub.Regress(inference_requests.REQUEST_TYPES[
            inference_requests.REGRESS].FromString(
                inference_requests.regress("regress_1d", examples)), timeout=30)
        self.assertEqual([r.value for r in regression.result.regressions], [1.5, 0.0])
        multi = stub.MultiInference(inference_requests.REQUEST_TYPES[
            inference_requests.MULTI_INFERENCE].FromString(inference_requests.multi(
                [("inference", "regress_2d", "tensorflow/serving/regress")], examples)),
                                    timeout=30)
        self.assertEqual([r.value for r in multi.results[0].regression_result.regressions],
                         [1.5, 0.0])
        metadata = stub.GetModelMetadata(inference_requests.REQUEST_TYPES[
            inference_requests.GET_MODEL_METADATA].FromString(
                inference_requests.metadata()), timeout=30)
        self.assertEqual(metadata.model_spec.version.value, 1)


    def test_wrong_message_counts_cancellations_and_methods(self):
        # Calls the data plane or ModelService answers, each with 0 to 3 request
        # messages where exactly one is right, some cancelled while running.
        methods = list(inference_requests.METHODS) + [
            "/tensorflow.serving.ModelService/GetModelStatus",
            "/grpc.health.v1.Health/Check", "/no.such.Service/Method"]
        seeds = [data for _, _, data in inference_requests.cases()]
        rng = random.Random(SEED + 1)

        def send(i):
            method = self.server.channel.stream_unary(methods[i % len(methods)])
            messages = [rng.choice(seeds) for _ in range(i % 4)]
            timeout = SHORT_DEADLINE_S if i % 5 == 0 else DEADLINE_S
            try:
                method(iter(messages), timeout=timeout)
                return "OK", timeout
            except grpc.RpcError as e:
                return e.code().name, timeout

        codes = collections.Counter()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for code, timeout in pool.map(send, range(40 * len(methods))):
                codes[code] += 1
                self.assertFalse(code == "DEADLINE_EXCEEDED" and timeout == DEADLINE_S)
        summary = ", ".join(f"{code} {n}" for code, n in codes.most_common())
        self.assertIsNone(self.server.process.poll(),
                          f"the server died: {summary}\n{self.server.logs()}")
        self.assertNotIn("UNAVAILABLE", codes, summary)
        self.assertIn("OK", codes, summary)
        self.assertServes()


if __name__ == "__main__":
    absltest.main()
