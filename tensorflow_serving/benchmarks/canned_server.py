"""The gRPC ceiling: a grpcio server that answers Predict with fixed bytes.

It does everything our model server's gRPC edge does except the work (no
parsing, no model), so h2load against it measures what grpcio in one Python
process can do on this machine. Our figures are reported as ratios to it.

Run as a script: `canned_server.py --port=N --response_file=F`; it prints
"READY <port>" on stdout once it serves and stops on SIGTERM.
"""

import argparse
import concurrent.futures
import os
import signal
import sys
import threading

import grpc

PREDICT_METHOD = "/tensorflow.serving.PredictionService/Predict"


class _CannedHandler(grpc.GenericRpcHandler):
    """Routes one method path to a handler that returns `response` verbatim."""

    def __init__(self, method: str, response: bytes):
        self._method = method

        def behaviour(request, context):
            del request, context
            return response

        # No (de)serializers: the request stays bytes and the response is sent
        # as is, so no protobuf work happens in the server at all.
        self._handler = grpc.unary_unary_rpc_method_handler(behaviour)

    def service(self, handler_call_details):
        if handler_call_details.method == self._method:
            return self._handler
        return None


def make_server(port: int, response: bytes, max_workers: int,
                method: str = PREDICT_METHOD) -> tuple[grpc.Server, int]:
    """A started canned server on localhost:`port` (0 = any); returns (server, port)."""
    server = grpc.server(
        concurrent.futures.ThreadPoolExecutor(max_workers=max_workers))
    server.add_generic_rpc_handlers((_CannedHandler(method, response),))
    bound = server.add_insecure_port(f"[::]:{port}")
    if not bound:
        raise RuntimeError(f"canned server could not bind port {port}")
    server.start()
    return server, bound


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--response_file", required=True)
    # Our server's default --grpc_max_threads is 4 * cores; use the same.
    parser.add_argument("--max_workers", type=int, default=4 * (os.cpu_count() or 1))
    args = parser.parse_args(argv)
    with open(args.response_file, "rb") as f:
        response = f.read()
    server, port = make_server(args.port, response, args.max_workers)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sys.stdout.write(f"READY {port}\n")
    sys.stdout.flush()
    while not stop.wait(3600):
        pass
    server.stop(grace=1).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
