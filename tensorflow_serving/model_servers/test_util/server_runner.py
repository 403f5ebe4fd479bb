"""Starts the real tensorflow_model_server binary for end-to-end tests.

Under Bazel the binary comes from the test's runfiles (list
//tensorflow_serving/model_servers:tensorflow_model_server in `data`); outside
Bazel the script runs with the current interpreter. Logs go to a file so a
chatty server never blocks on a full pipe; tests read them with `logs()`.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

from absl.testing import absltest
import grpc

from tensorflow.core.framework import tensor_pb2
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc
from tensorflow_serving.util import net_util

_BINARY = "tensorflow_serving/model_servers/tensorflow_model_server"
_PYTHON_PLANE_BINARY = "tensorflow_serving/model_servers/tensorflow_model_server_python_plane"
# Which data plane the tests drive: "native" (the default binary, native when
# built) or "python" (the pure Python plane's binary); model_servers/BUILD
# runs the end-to-end tests that exercise gRPC both ways.
DATA_PLANE_ENV = "MODEL_SERVER_DATA_PLANE"
# The lines the server logs at startup for each plane.
NATIVE_PLANE_LINE = "Serving gRPC Predict with the native data plane"
PYTHON_PLANE_LINE = "Serving gRPC with the pure Python data plane"
_AVAILABLE = get_model_status_pb2.ModelVersionStatus.AVAILABLE


def repo_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))


def data_plane() -> str:
    """"python" when the tests drive the pure Python plane, else "native"."""
    return "python" if os.environ.get(DATA_PLANE_ENV) == "python" else "native"


def _upstream_binary() -> str | None:
    runfiles = os.environ.get("RUNFILES_DIR") or os.environ.get("TEST_SRCDIR")
    if runfiles and os.path.isdir(runfiles):
        upstream = os.path.join(runfiles, "upstream_model_server",
                                "tensorflow_model_server")
        if os.path.isfile(upstream) and os.access(upstream, os.X_OK):
            return upstream
    return None


def server_command() -> list[str]:
    """The command that runs tensorflow_model_server (no flags).

    $MODEL_SERVER_BINARY wins; then, in Bazel runfiles, upstream's binary when
    :model_server_under_test points at it, else ours (its pure Python plane's
    binary when data_plane() is "python"); else our script.
    """
    explicit = os.environ.get("MODEL_SERVER_BINARY")
    if explicit:
        return [explicit]
    upstream = _upstream_binary()
    if upstream:
        return [upstream]
    binary = _PYTHON_PLANE_BINARY if data_plane() == "python" else _BINARY
    runfiles = os.environ.get("RUNFILES_DIR") or os.environ.get("TEST_SRCDIR")
    if runfiles and os.path.isdir(runfiles):
        workspace = os.environ.get("TEST_WORKSPACE")
        candidates = [workspace] if workspace else []
        candidates += sorted(os.listdir(runfiles))
        for ws in candidates:
            path = os.path.join(runfiles, ws, binary)
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return [path]
    return [sys.executable, os.path.join(repo_root(), binary + ".py")]


def expected_plane_line() -> str | None:
    """The startup line the server under test must log, or None if not ours."""
    if os.environ.get("MODEL_SERVER_BINARY") or _upstream_binary():
        return None
    if data_plane() == "python":
        return PYTHON_PLANE_LINE
    from tensorflow_serving.model_servers import native_data_plane_build  # pylint: disable=g-import-not-at-top
    if native_data_plane_build.UNAVAILABLE_REASON:
        return PYTHON_PLANE_LINE
    return NATIVE_PLANE_LINE


def _asan_env() -> dict:
    """With --config=asan: the ASan runtime the native extension needs, preloaded."""
    if not os.environ.get("MODEL_SERVER_ASAN"):
        return {}
    def library(name):
        return os.path.realpath(subprocess.run(
            ["gcc", f"-print-file-name={name}"], capture_output=True, text=True,
            check=True).stdout.strip())
    # libstdc++ too: ASan intercepts C++ exceptions only if it is loaded at
    # startup (Python itself is C), and TensorFlow throws some internally.
    # Leaks: Python and TensorFlow keep what they allocate until exit.
    return {"LD_PRELOAD": f"{library('libasan.so')} {library('libstdc++.so')}",
            "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1:halt_on_error=1"}


def server_env(extra=None) -> dict:
    env = dict(os.environ)
    env.update(_asan_env())
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    root = repo_root()
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in paths:
        env["PYTHONPATH"] = os.pathsep.join([root] + paths)
    if extra:
        env.update(extra)
    return env


pick_unused_port = net_util.pick_unused_port


def run_to_completion(args, timeout=60):
    """Runs the binary with `args`; returns CompletedProcess (text)."""
    return subprocess.run(server_command() + list(args), env=server_env(),
                          capture_output=True, text=True, timeout=timeout,
                          check=False)


def export_half_plus_two_versions(base_path: str, versions: dict,
                                  blocking: bool = False) -> None:
    """versions: {version: b}; writes base_path/<version>/ (y = 0.5 x + b).

    blocking: runs never finish until cancelled (see saved_model_half_plus_two).
    """
    from tensorflow_serving.servables.tensorflow.testdata import saved_model_half_plus_two  # pylint: disable=g-import-not-at-top
    os.makedirs(base_path, exist_ok=True)
    for version, b in versions.items():
        tmp = os.path.join(base_path, f".tmp-{version}")
        saved_model_half_plus_two.export_half_plus_two(tmp, b=b, blocking=blocking)
        # Appear atomically so a polling server never sees half a SavedModel.
        os.rename(tmp, os.path.join(base_path, str(version)))


def half_plus_two_request(name, values, shape=None) -> predict_pb2.PredictRequest:
    """A Predict request for half_plus_two's `x` (float, shape [len(values), 1])."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT)
    for size in shape or (len(values), 1):
        tensor.tensor_shape.dim.add(size=size)
    tensor.float_val.extend(values)
    request.inputs["x"].CopyFrom(tensor)
    return request


class ServerRunner:
    """One server process. Use as a context manager or call stop() in tearDown."""

    def __init__(self, args, *, rest=True, log_dir=None, env=None):
        self._rest = rest
        self._user_args = list(args)
        self._pick_ports()
        self._env = env
        fd, self.log_path = tempfile.mkstemp(prefix="model_server_", suffix=".log",
                                             dir=log_dir)
        os.close(fd)
        self.process = None
        self.channel = None
        self.prediction_stub = None
        self.model_stub = None

    def _pick_ports(self):
        self.grpc_port = pick_unused_port()
        self.rest_port = pick_unused_port() if self._rest else 0
        self._args = [f"--port={self.grpc_port}"]
        if self._rest:
            self._args.append(f"--rest_api_port={self.rest_port}")
        self._args += self._user_args

    def start(self, models=(), timeout=90.0) -> "ServerRunner":
        """Starts; waits until gRPC answers and each model in `models` is AVAILABLE.

        A port taken by someone else between picking and binding (tests run in
        parallel) is retried with fresh ports.
        """
        for attempt in range(3):
            try:
                return self._start_once(models, timeout)
            except RuntimeError as e:
                if attempt == 2 or "bind" not in str(e).lower() and \
                        "address already in use" not in str(e).lower():
                    raise
                self._pick_ports()
        raise AssertionError("unreachable")

    def launch(self, channel=None) -> "ServerRunner":
        """Starts the process and makes the stubs, without waiting for anything.

        `channel`: the channel the stubs use (default: insecure to the gRPC port).
        """
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                server_command() + self._args, env=server_env(self._env),
                stdout=log, stderr=subprocess.STDOUT)
        self.channel = channel or grpc.insecure_channel(f"localhost:{self.grpc_port}")
        self.prediction_stub = prediction_service_pb2_grpc.PredictionServiceStub(
            self.channel)
        self.model_stub = model_service_pb2_grpc.ModelServiceStub(self.channel)
        return self

    def wait_for_log(self, text: str, timeout=60.0) -> None:
        """Waits until the server's log contains `text` (fails if it exits first)."""
        deadline = time.monotonic() + timeout
        while text not in self.logs():
            if self.process.poll() is not None and text not in self.logs():
                raise AssertionError(f"server exited with {self.process.returncode} "
                                     f"before logging {text!r}:\n{self.logs()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not logged after {timeout}s:\n{self.logs()}")
            time.sleep(0.05)

    def _start_once(self, models, timeout) -> "ServerRunner":
        self.launch()
        return self.wait_until_ready(models, timeout)

    def wait_until_ready(self, models=(), timeout=90.0) -> "ServerRunner":
        """Waits until gRPC answers, each model in `models` is AVAILABLE and,
        with REST on, the REST port accepts connections (it opens after gRPC)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n"
                                   f"{self.logs()}")
            try:
                grpc.channel_ready_future(self.channel).result(timeout=0.5)
                break
            except grpc.FutureTimeoutError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"server not up after {timeout}s:\n{self.logs()}")
        expected = expected_plane_line()
        if expected and expected not in self.logs():
            self.stop()
            raise AssertionError(f"the server did not log {expected!r}; the tests "
                                 f"were to drive that data plane:\n{self.logs()}")
        for name in models:
            self.wait_for_version(name, None, max(1.0, deadline - time.monotonic()))
        if self._rest:
            self._wait_for_rest_port(deadline)
        return self

    def _wait_for_rest_port(self, deadline: float) -> None:
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.rest_port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"REST port {self.rest_port} never opened:\n"
                                       f"{self.logs()}") from None
                time.sleep(0.05)

    def model_status(self, name, version=None, timeout=10):
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = name
        if version is not None:
            request.model_spec.version.value = version
        return self.model_stub.GetModelStatus(request, timeout=timeout)

    def wait_for_version(self, name, version=None, timeout=60.0,
                         state=_AVAILABLE):
        """Waits until `version` (or, if None, any version) of `name` is in `state`."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                response = self.model_status(name)
                last = response
                for s in response.model_version_status:
                    if s.state == state and (version is None or s.version == version):
                        return response
            except grpc.RpcError as e:
                last = e
            time.sleep(0.1)
        raise AssertionError(f"{name} v{version} never reached state {state}: {last}\n"
                             f"{self.logs()}")

    def logs(self) -> str:
        with open(self.log_path, "r", encoding="utf-8", errors="replace") as f:
            return f.read()

    def send_signal(self, sig=signal.SIGTERM) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout=60) -> int:
        return self.process.wait(timeout)

    def stop(self, sig=signal.SIGTERM, timeout=60) -> int | None:
        """Stops the server (SIGTERM, then SIGKILL); returns its exit code."""
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def cleanup(self) -> None:
        self.stop()
        try:
            os.remove(self.log_path)
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()


class ServerTestCase(absltest.TestCase):
    """A test with its own temp dir (self.tmp) whose servers always stop."""

    def setUp(self):
        super().setUp()
        self.tmp = self.create_tempdir().full_path
        self.server = None

    def start_server(self, args, models=(), rest=False) -> ServerRunner:
        """Starts a server (the latest is also self.server); stopped on cleanup."""
        server = ServerRunner(args, rest=rest)
        self.addCleanup(server.cleanup)
        self.server = server
        return server.start(models)
