"""A request's failure as the call's gRPC status (upstream's grpc_status_util).

Upstream's ToGRPCStatus turns the Status a handler returns into the status the
call ends with; here handlers raise, and abort_with ends the call instead.
"""

import grpc
from absl import logging

from tensorflow_serving.util.status import ServingError


def abort_with(context, api: str, error: BaseException):
    """Ends the call with `error` as its gRPC status; never returns.

    A ServingError keeps its code and message. Anything else is a bug: it is
    logged with its traceback and the call ends with INTERNAL.

    Raises:
      Exception: always, from context.abort (grpcio's way to end the call).
    """
    if isinstance(error, ServingError):
        logging.vlog(1, "%s failed: %s", api, error.message)
        context.abort(error.code, error.message)
    logging.exception("%s failed with an unexpected error", api)
    context.abort(grpc.StatusCode.INTERNAL,
                  f"{api} failed: {type(error).__name__}: {error}")
