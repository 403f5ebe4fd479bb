import pickle

from absl.testing import absltest
from absl.testing import parameterized
import grpc

from tensorflow_serving.util import status


class StatusTest(parameterized.TestCase):

    @parameterized.parameters(
        (status.invalid_argument, grpc.StatusCode.INVALID_ARGUMENT),
        (status.not_found, grpc.StatusCode.NOT_FOUND),
        (status.unavailable, grpc.StatusCode.UNAVAILABLE),
        (status.failed_precondition, grpc.StatusCode.FAILED_PRECONDITION),
        (status.internal, grpc.StatusCode.INTERNAL),
        (status.resource_exhausted, grpc.StatusCode.RESOURCE_EXHAUSTED),
        (status.unimplemented, grpc.StatusCode.UNIMPLEMENTED),
        (status.already_exists, grpc.StatusCode.ALREADY_EXISTS),
    )
    def test_constructors(self, make, code):
        e = make("boom")
        self.assertIsInstance(e, status.ServingError)
        self.assertIsInstance(e, Exception)
        self.assertEqual(e.code, code)
        self.assertEqual(e.message, "boom")
        self.assertEqual(str(e), "boom")

    def test_raise_and_catch(self):
        with self.assertRaises(status.ServingError) as cm:
            raise status.not_found("Servable not found for request: Latest(foo)")
        self.assertEqual(cm.exception.code, grpc.StatusCode.NOT_FOUND)

    def test_equality_and_pickle(self):
        e = status.invalid_argument("x")
        self.assertEqual(e, status.invalid_argument("x"))
        self.assertNotEqual(e, status.not_found("x"))
        self.assertEqual(pickle.loads(pickle.dumps(e)), e)

    def test_from_exception(self):
        e = status.internal("a")
        self.assertIs(status.from_exception(e), e)
        u = status.from_exception(ValueError("bad"))
        self.assertEqual(u.code, grpc.StatusCode.UNKNOWN)
        self.assertEqual(u.message, "bad")

    @parameterized.parameters(
        (grpc.StatusCode.OK, 200),
        (grpc.StatusCode.CANCELLED, 499),
        (grpc.StatusCode.UNKNOWN, 500),
        (grpc.StatusCode.INVALID_ARGUMENT, 400),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 504),
        (grpc.StatusCode.NOT_FOUND, 404),
        (grpc.StatusCode.ALREADY_EXISTS, 409),
        (grpc.StatusCode.PERMISSION_DENIED, 403),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
        (grpc.StatusCode.FAILED_PRECONDITION, 400),
        (grpc.StatusCode.ABORTED, 409),
        (grpc.StatusCode.OUT_OF_RANGE, 400),
        (grpc.StatusCode.UNIMPLEMENTED, 501),
        (grpc.StatusCode.INTERNAL, 500),
        (grpc.StatusCode.UNAVAILABLE, 503),
        (grpc.StatusCode.DATA_LOSS, 500),
        (grpc.StatusCode.UNAUTHENTICATED, 401),
    )
    def test_http_status(self, code, expected):
        self.assertEqual(status.http_status(code), expected)

    def test_every_grpc_code_is_mapped(self):
        for code in grpc.StatusCode:
            self.assertIn(status.http_status(code), range(200, 600))


if __name__ == "__main__":
    absltest.main()
