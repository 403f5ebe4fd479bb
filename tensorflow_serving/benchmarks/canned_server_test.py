"""Tests for canned_server: Predict gets the canned bytes, other methods do not."""

import grpc
from absl.testing import absltest

from tensorflow_serving.benchmarks import canned_server


class CannedServerTest(absltest.TestCase):

    def setUp(self):
        super().setUp()
        self.server, port = canned_server.make_server(0, b"canned", max_workers=2)
        self.addCleanup(self.server.stop, None)
        self.channel = grpc.insecure_channel(f"localhost:{port}")
        self.addCleanup(self.channel.close)

    def test_predict_returns_the_canned_bytes_whatever_the_request(self):
        call = self.channel.unary_unary(canned_server.PREDICT_METHOD)
        self.assertEqual(call(b"anything", timeout=10), b"canned")
        self.assertEqual(call(b"", timeout=10), b"canned")

    def test_other_methods_are_unimplemented(self):
        call = self.channel.unary_unary("/tensorflow.serving.PredictionService/Classify")
        with self.assertRaises(grpc.RpcError) as raised:
            call(b"", timeout=10)
        self.assertEqual(raised.exception.code(), grpc.StatusCode.UNIMPLEMENTED)


if __name__ == "__main__":
    absltest.main()
