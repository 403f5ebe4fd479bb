"""JsonWorker: the worker's answers are json_tensor's, errors included."""

import json

import grpc
import numpy as np
from absl.testing import absltest
import tensorflow as tf

from tensorflow_serving.model_servers import json_worker
from tensorflow_serving.util import dtypes
from tensorflow_serving.util import json_tensor
from tensorflow_serving.util import status

_FLOAT = dtypes.DataType.DT_FLOAT
_SIGNATURES = {"serving_default": {"x": _FLOAT}, "other": {"images": _FLOAT}}


class JsonWorkerTest(absltest.TestCase):

    def test_default_signature_is_tensorflows(self):
        self.assertEqual(json_worker._DEFAULT_SIGNATURE,  # pylint: disable=protected-access
                         tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY)

    def setUp(self):
        super().setUp()
        self.pool = json_worker.JsonWorker()
        self.addCleanup(self.pool.close)

    def test_same_answer_as_inline(self):
        rows = np.arange(12, dtype=np.float32).reshape(4, 3).tolist()
        body = json.dumps({"signature_name": "other", "instances": rows}).encode()
        name, tensors, fmt = self.pool.parse_predict_request(body, _SIGNATURES)
        inline = json_tensor.parse_predict_request(body, lambda n: _SIGNATURES[n])
        self.assertEqual(("other", json_tensor.JsonPredictRequestFormat.ROW), (name, fmt))
        np.testing.assert_array_equal(inline[1]["images"], tensors["images"])
        self.assertEqual(np.float32, tensors["images"].dtype)

    def test_writes_the_same_answer_as_inline(self):
        outputs = {"y": np.linspace(0, 1, 300, dtype=np.float32).reshape(100, 3)}
        for fmt in json_tensor.JsonPredictRequestFormat:
            self.assertEqual(json_tensor.make_predict_response(outputs, fmt),
                             self.pool.make_predict_response(outputs, fmt))
        self.assertTrue(json_worker.is_large_output(
            {"y": np.zeros(1 << 20, np.float32)}))
        self.assertFalse(json_worker.is_large_output(outputs))

    def test_errors_keep_upstreams_order(self):
        lookup = status.not_found("Servable not found for request: Latest(m)")
        for body, signatures, error, code, message in [
                (b"{bad", None, lookup, grpc.StatusCode.INVALID_ARGUMENT,
                 "JSON Parse error: Missing a name for object member. at offset: 1"),
                (b'{"instances": [1.0]}', None, lookup, grpc.StatusCode.NOT_FOUND,
                 "Servable not found for request: Latest(m)"),
                (b'{"signature_name": "nope", "instances": [1.0]}', _SIGNATURES, None,
                 grpc.StatusCode.INVALID_ARGUMENT,
                 'Serving signature name: "nope" not found in signature def')]:
            with self.assertRaises(status.ServingError) as cm:
                self.pool.parse_predict_request(body, signatures, error)
            self.assertEqual((code, message), (cm.exception.code, cm.exception.message))


if __name__ == "__main__":
    absltest.main()
