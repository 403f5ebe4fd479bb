from absl.testing import absltest
import grpc

from tensorflow_serving.model_servers import grpc_status_util
from tensorflow_serving.util import status


class _Aborted(Exception):
    pass


class _Context:
    """Records the status a call is aborted with; aborts by raising, as grpcio."""

    def __init__(self):
        self.code = self.details = None

    def abort(self, code, details):
        self.code, self.details = code, details
        raise _Aborted()


class AbortWithTest(absltest.TestCase):

    def test_serving_error_keeps_its_code_and_message(self):
        context = _Context()
        with self.assertRaises(_Aborted):
            grpc_status_util.abort_with(
                context, "Predict", status.not_found("Servable not found"))
        self.assertEqual(context.code, grpc.StatusCode.NOT_FOUND)
        self.assertEqual(context.details, "Servable not found")

    def test_anything_else_is_internal_and_names_the_api(self):
        context = _Context()
        with self.assertLogs(level="ERROR"):
            with self.assertRaises(_Aborted):
                grpc_status_util.abort_with(context, "Classify", KeyError("x"))
        self.assertEqual(context.code, grpc.StatusCode.INTERNAL)
        self.assertEqual(context.details, "Classify failed: KeyError: 'x'")


if __name__ == "__main__":
    absltest.main()
