"""Reads large REST predict bodies and writes large answers in a worker process.

Reading JSON into arrays and writing arrays as JSON is Python work that holds
the interpreter lock: done in the server process, a 200 MB body would stall
every other request, gRPC and REST, for seconds. Bodies of LARGE_BODY_BYTES
and more, and outputs of an eighth of that, are handled by a worker process
instead (json_tensor imports neither TensorFlow nor gRPC's servers, so a
worker starts in well under a second); the server process only moves bytes
and arrays. One worker runs at a time, and each handles one payload and
exits, so the memory a large one needs is returned to the system at once.

Answers and errors are exactly json_tensor's: the worker runs the same code,
and an error the model lookup raised is raised in the worker where upstream's
parser would ask for the signature, after JSON syntax errors.
"""

import concurrent.futures
import multiprocessing
import threading

from tensorflow_serving.util import json_tensor
from tensorflow_serving.util import status

# Smaller payloads take a few milliseconds inline.
LARGE_BODY_BYTES = 1 << 20
# tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY, written out: the worker
# must not import TensorFlow (json_worker_test checks the two agree).
_DEFAULT_SIGNATURE = "serving_default"


def _parse(body: bytes, signatures, lookup_error):
    """Runs in the worker: json_tensor.parse_predict_request on `body`.

    `signatures` is {signature name: {alias: DataType}} of the model's
    version, or None with `lookup_error` the error resolving it raised.
    """
    def input_dtypes(signature_name):
        if lookup_error is not None:
            raise lookup_error
        name = signature_name or _DEFAULT_SIGNATURE
        dtypes = signatures.get(name)
        if dtypes is None:
            raise status.invalid_argument(
                f'Serving signature name: "{name}" not found in signature def')
        return dtypes

    signature_name, tensors, fmt = json_tensor.parse_predict_request(body, input_dtypes)
    return signature_name, tensors, fmt.value


def _write(outputs, fmt: str) -> bytes:
    """Runs in the worker: json_tensor.make_predict_response."""
    return json_tensor.make_predict_response(
        outputs, json_tensor.JsonPredictRequestFormat(fmt))


def is_large_output(outputs) -> bool:
    """Whether writing `outputs` as JSON belongs in the worker."""
    return sum(getattr(a, "nbytes", 0) for a in outputs.values()) >= LARGE_BODY_BYTES // 8


class JsonWorker:
    """A lazily started single worker process; calls block the calling thread only."""

    def __init__(self):
        self._lock = threading.Lock()
        self._executor = None

    def _pool(self) -> concurrent.futures.ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = concurrent.futures.ProcessPoolExecutor(
                    max_workers=1, max_tasks_per_child=1,
                    mp_context=multiprocessing.get_context("spawn"))
            return self._executor

    def _run(self, fn, *args):
        future = self._pool().submit(fn, *args)
        try:
            return future.result()
        except concurrent.futures.process.BrokenProcessPool:
            with self._lock:
                self._executor = None  # a fresh worker next time
            raise status.internal("The JSON worker process died") from None

    def parse_predict_request(self, body: bytes, signatures, lookup_error=None):
        """As json_tensor.parse_predict_request, in the worker.

        Raises what json_tensor raises; INTERNAL if the worker died.
        """
        signature_name, tensors, fmt = self._run(_parse, body, signatures, lookup_error)
        return signature_name, tensors, json_tensor.JsonPredictRequestFormat(fmt)

    def make_predict_response(self, outputs, fmt) -> bytes:
        """As json_tensor.make_predict_response, in the worker."""
        return self._run(_write, outputs, fmt.value)

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
