"""End-to-end: the native and the pure Python data planes answer alike.

Starts the server as built (native data plane) and its pure Python plane on the
same models, sends both the same Predict requests as raw bytes (valid ones of
every dtype, shape and value-list length, and every kind of bad one) and
requires the same status code, the same message and the same response bytes.
"""

import os
import re
import tempfile

import grpc
from absl.testing import absltest

from tensorflow_serving.model_servers.test_util import predict_requests
from tensorflow_serving.model_servers.test_util import server_runner


class DataPlaneParityTest(absltest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if server_runner.expected_plane_line() != server_runner.NATIVE_PLANE_LINE:
            raise absltest.SkipTest("this build has no native data plane to compare")
        args = predict_requests.server_args(tempfile.mkdtemp())
        cls.servers = {}
        for plane in ("native", "python"):
            os.environ[server_runner.DATA_PLANE_ENV] = plane
            server = server_runner.ServerRunner(args, rest=False)
            cls.servers[plane] = server.start(models=predict_requests.MODELS)
            server.wait_for_version("half_plus_two", 1)
        del os.environ[server_runner.DATA_PLANE_ENV]

    @classmethod
    def tearDownClass(cls):
        for server in getattr(cls, "servers", {}).values():
            server.cleanup()
        super().tearDownClass()

    def call(self, plane, data):
        method = self.servers[plane].channel.unary_unary(predict_requests.PREDICT)  # bytes in, bytes out
        try:
            return ("OK", "", method(data, timeout=30))
        except grpc.RpcError as e:
            return (e.code().name, e.details(), b"")

    def call_stream(self, plane, messages):
        """A Predict call whose client sends len(messages) messages (one is right)."""
        method = self.servers[plane].channel.stream_unary(predict_requests.PREDICT)
        try:
            return ("OK", "", method(iter(messages), timeout=30))
        except grpc.RpcError as e:
            return (e.code().name, e.details(), b"")

    def test_same_answers(self):
        cases = predict_requests.cases()
        differences = []
        for description, data in cases:
            native = self.call("native", data)
            python = self.call("python", data)
            if native != python:
                differences.append(f"{description}:\n  native {native}\n  python {python}")
        data = dict(cases)["half_plus_two latest"]
        for count in (0, 2):
            native = self.call_stream("native", [data] * count)
            python = self.call_stream("python", [data] * count)
            if native != python:
                differences.append(f"{count} messages:\n  native {native}\n  python {python}")
        self.assertEmpty(differences, "\n".join(differences))
        # The native server answered most of them itself (it relays only what
        # its ServingMap cannot resolve or C++ cannot parse), so the above
        # compared two implementations, not one with itself.
        server = self.servers["native"]
        server.stop()
        counts = re.search(r"Native data plane: (\d+) Predict calls answered natively, "
                           r"(\d+) relayed", server.logs())
        self.assertIsNotNone(counts, server.logs())
        native, relayed = int(counts.group(1)), int(counts.group(2))
        self.assertEqual(native + relayed, len(cases) + 1)  # + the 2-message call
        self.assertGreater(native, len(cases) * 3 // 4)


if __name__ == "__main__":
    absltest.main()
