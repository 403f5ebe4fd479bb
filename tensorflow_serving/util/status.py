"""The serving error model: a gRPC status code plus a message.

Everything below model_servers raises ServingError; the gRPC and REST edges
turn it into a gRPC status or an HTTP status (with upstream's mapping) so both
APIs report the same failure the same way.
"""

import grpc


class ServingError(Exception):
    """An error carrying a gRPC status code; raised below model_servers, mapped at the edge."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self):
        return self.message

    def __repr__(self):
        return f"ServingError({self.code.name}, {self.message!r})"

    def __eq__(self, other):
        return (isinstance(other, ServingError) and self.code == other.code
                and self.message == other.message)

    def __hash__(self):
        return hash((self.code, self.message))

    def __reduce__(self):
        return (ServingError, (self.code, self.message))


def invalid_argument(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.NOT_FOUND, message)


def unavailable(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.UNAVAILABLE, message)


def failed_precondition(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.FAILED_PRECONDITION, message)


def internal(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.INTERNAL, message)


def resource_exhausted(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.RESOURCE_EXHAUSTED, message)


def unimplemented(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.UNIMPLEMENTED, message)


def already_exists(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.ALREADY_EXISTS, message)


def cancelled(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.CANCELLED, message)


def deadline_exceeded(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.DEADLINE_EXCEEDED, message)


def unknown(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.UNKNOWN, message)


def data_loss(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.DATA_LOSS, message)


def from_exception(e: BaseException) -> ServingError:
    """Keeps a ServingError as is; anything else becomes UNKNOWN with its text."""
    if isinstance(e, ServingError):
        return e
    return unknown(str(e) or type(e).__name__)


# Upstream's ToHTTPStatusCode (model_servers/http_server.cc).
_HTTP_STATUS = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,  # CLIENT_CLOSED_REQUEST
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}


def http_status(code: grpc.StatusCode) -> int:
    """Upstream's ToHTTPStatusCode mapping; anything unexpected is a 500."""
    return _HTTP_STATUS.get(code, 500)
