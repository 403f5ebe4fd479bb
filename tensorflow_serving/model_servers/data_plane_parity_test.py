"""End-to-end: the native and the pure Python data planes answer alike.

Starts the server as built (native data plane) and its pure Python plane on the
same models, sends both the same requests of all five PredictionService
methods as raw bytes (Predict requests of every dtype, shape and value-list
length; Classify, Regress and MultiInference on signatures of every kind;
GetModelMetadata; and every kind of bad request) and requires the same status
code, the same message and the same response bytes. Then checks from the
native server's shutdown line that it answered them itself, relaying only
what it has no answer of its own for.
"""

import os
import re
import tempfile

import grpc
from absl.testing import absltest

from tensorflow_serving.model_servers.test_util import inference_requests
from tensorflow_serving.model_servers.test_util import server_runner

# Of each method's cases, the ones the native plane leaves to the Python
# plane: what its ServingMap cannot resolve (ServerCore's errors are the
# Python plane's) and what C++ protobuf cannot parse.
_RELAYED = re.compile(r"unknown (model|version|label)|no model name|no tasks|unparseable"
                      r"|truncated|MultiInference empty request")
_LINE = re.compile(r"(\w+) (\d+) native, (\d+) relayed")


class DataPlaneParityTest(absltest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if server_runner.expected_plane_line() != server_runner.NATIVE_PLANE_LINE:
            raise absltest.SkipTest("this build has no native data plane to compare")
        args = inference_requests.server_args(tempfile.mkdtemp())
        cls.servers = {}
        for plane in ("native", "python"):
            os.environ[server_runner.DATA_PLANE_ENV] = plane
            server = server_runner.ServerRunner(args, rest=False)
            cls.servers[plane] = server.start(models=inference_requests.MODELS)
            server.wait_for_version("half_plus_two", 1)
        del os.environ[server_runner.DATA_PLANE_ENV]

    @classmethod
    def tearDownClass(cls):
        for server in getattr(cls, "servers", {}).values():
            server.cleanup()
        super().tearDownClass()

    def call(self, plane, method, data):
        call = self.servers[plane].channel.unary_unary(method)  # bytes in, bytes out
        try:
            return ("OK", "", call(data, timeout=30))
        except grpc.RpcError as e:
            return (e.code().name, e.details(), b"")

    def call_stream(self, plane, method, messages):
        """A call whose client sends len(messages) messages (one is right)."""
        call = self.servers[plane].channel.stream_unary(method)
        try:
            return ("OK", "", call(iter(messages), timeout=30))
        except grpc.RpcError as e:
            return (e.code().name, e.details(), b"")

    def test_same_answers(self):
        cases = inference_requests.cases()
        differences = []
        sent = {method: 0 for method in inference_requests.METHODS}
        relayed = dict(sent)
        codes = {method: set() for method in inference_requests.METHODS}
        for description, method, data in cases:
            native = self.call("native", method, data)
            python = self.call("python", method, data)
            sent[method] += 1
            relayed[method] += bool(_RELAYED.search(description))
            codes[method].add(native[0])
            if native != python:
                differences.append(f"{description}:\n  native {native}\n  python {python}")
        for method in inference_requests.METHODS:
            data = next(d for _, m, d in cases if m == method)
            for count in (0, 2):
                native = self.call_stream("native", method, [data] * count)
                python = self.call_stream("python", method, [data] * count)
                sent[method] += 1
                if native != python:
                    differences.append(f"{method}, {count} messages:\n  native {native}\n"
                                       f"  python {python}")
        self.assertEmpty(differences, "\n".join(differences))
        # Each method's cases reached both answers and errors.
        for method in inference_requests.METHODS:
            self.assertIn("OK", codes[method], method)
            self.assertIn("INVALID_ARGUMENT", codes[method], method)

        # The native server answered every call itself but those it has no
        # answer for, so the above compared two implementations, not one with
        # itself.
        server = self.servers["native"]
        server.stop()
        line = re.search(r"Native data plane calls: (.*)", server.logs())
        self.assertIsNotNone(line, server.logs())
        counts = {m: (int(n), int(r)) for m, n, r in _LINE.findall(line.group(1))}
        for method in inference_requests.METHODS:
            name = method.rsplit("/", 1)[1]
            self.assertEqual(counts[name], (sent[method] - relayed[method], relayed[method]),
                             f"{name}: {line.group(0)}")


if __name__ == "__main__":
    absltest.main()
