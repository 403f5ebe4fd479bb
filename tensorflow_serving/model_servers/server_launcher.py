"""Runs the model server, and the tutorial's programs, as child processes.

What the one-command tutorial, the benchmark and the end-to-end tests start
their programs with (upstream's tests do it in model_servers/test_util/
tensorflow_model_server_test_base.py). Programs are found with Bazel's
runfiles library: a target lists the py_binaries it runs in `data`. Run from
a source tree without Bazel, the scripts run with the current interpreter.

Loading this module imports neither TensorFlow nor the API protos, so the
tutorial starts at once: it reads readiness from the REST API
(`status_over_rest`), and the gRPC stubs are made on first use.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import grpc

from tensorflow_serving.util import net_util
from tensorflow_serving.util import runfiles_util
from tensorflow_serving.util import wait

WORKSPACE = "tf_serving"
SERVER = "tensorflow_serving/model_servers/tensorflow_model_server"
# Where //third_party/upstream_model_server puts upstream's binary (a wrapper
# around TF_MODEL_SERVER_PATH) in the runfiles of whoever depends on it.
UPSTREAM_SERVER = "upstream_model_server/tensorflow_model_server"

# TensorFlow's native log lines every TensorFlow program prints at start on a
# machine without a GPU: noise for a learner, left out of a quiet Process's
# copy.
_STARTUP_NOISE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|[IWE]\d{4} [\d:.]+\s+\d+ (cudart_stub|cuda_platform|cuda_executor"
    rb"|cpu_feature_guard)\.cc:\d+\]"
    rb"|To enable the following instructions: )")
_POLL_SECONDS = 0.02

pick_unused_port = net_util.pick_unused_port


def repo_root() -> str:
    """The directory holding `tensorflow_serving/` (runfiles workspace or repo)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# ------------------------------------------------------------ finding programs

def _executable_runfile(path: str) -> str | None:
    location = runfiles_util.runfile(path)
    return location if location and os.access(location, os.X_OK) else None


def program_command(relative: str) -> list[str]:
    """The command that runs this repo's py_binary `relative` (no flags).

    Raises:
      FileNotFoundError: neither in the runfiles nor in the source tree.
    """
    binary = _executable_runfile(f"{WORKSPACE}/{relative}")
    if binary:
        return [binary]
    script = os.path.join(repo_root(), relative + ".py")
    if not os.path.isfile(script):
        raise FileNotFoundError(f"{relative} is neither in the runfiles nor at {script}")
    return [sys.executable, script]


def server_command() -> list[str]:
    """The command that runs tensorflow_model_server (no flags): upstream's
    binary when the runfiles hold it (:model_server_under_test with
    --config=upstream_server), else ours."""
    upstream = _executable_runfile(UPSTREAM_SERVER)
    if upstream:
        return [upstream]
    return program_command(SERVER)


def is_upstream(command) -> bool:
    """Whether server_command() chose upstream's binary."""
    return command[0].endswith(UPSTREAM_SERVER)


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


def child_env(extra=None) -> dict:
    """Environment for child programs: live output, TensorFlow's logs quiet,
    this repo importable by a script run from the source tree."""
    env = dict(os.environ)
    env.update(_asan_env())
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    root = repo_root()
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in paths:
        env["PYTHONPATH"] = os.pathsep.join([root] + paths)
    if extra:
        env.update(extra)
    return env


def run_to_completion(args, timeout=60):
    """Runs the server with `args`; returns CompletedProcess (text)."""
    return subprocess.run(server_command() + list(args), env=child_env(),
                          capture_output=True, text=True, timeout=timeout,
                          check=False)


# ------------------------------------------------------------------ processes

class Process:
    """A child process and its output.

    By default the child writes straight to a log file (`log_path`, or a
    temporary file in `log_dir` that cleanup() removes; under `bazel test`,
    without either, one the test's undeclared outputs keep), so a chatty child
    never blocks on a full pipe. With
    `out`, its output is instead copied line by line to `out` (each line with
    `prefix`; with `quiet`, TensorFlow's start-up noise left out) and its last
    `keep_bytes` are kept. In its own session (`new_session`) the child does
    not get the terminal's Ctrl-C, and stop() signals its whole process group.
    """

    def __init__(self, command, *, log_path=None, log_dir=None, out=None,
                 prefix="", quiet=False, new_session=False, env=None,
                 preexec_fn=None, keep_bytes=1 << 20):
        self.command = list(command)
        self._new_session = new_session
        self._out = out
        self._reader = None
        self._temporary_log = False
        options = dict(stdin=subprocess.DEVNULL, env=env or child_env(),
                       start_new_session=new_session, preexec_fn=preexec_fn)
        if out is None:
            if log_path is None:
                # Under `bazel test` the log is kept with the test's outputs
                # (bazel-testlogs/.../test.outputs/), to tell what a failed
                # run's server did.
                kept_dir = None if log_dir else os.environ.get(
                    "TEST_UNDECLARED_OUTPUTS_DIR")
                name = os.path.basename(self.command[0])
                fd, log_path = tempfile.mkstemp(prefix=name + "_", suffix=".log",
                                                dir=log_dir or kept_dir)
                os.close(fd)
                self._temporary_log = kept_dir is None
            self.log_path = log_path
            with open(log_path, "wb") as log:
                self.process = subprocess.Popen(
                    self.command, stdout=log, stderr=subprocess.STDOUT, **options)
            return
        self.log_path = None
        self._prefix = prefix.encode()
        self._quiet = quiet
        self._keep_bytes = keep_bytes
        self._kept = bytearray()
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **options)
        self._reader = threading.Thread(target=self._copy, daemon=True)
        self._reader.start()

    def _copy(self):
        stream = self.process.stdout
        for line in stream:
            with self._lock:
                self._kept += line
                del self._kept[:-self._keep_bytes]
            if self._out is None or (self._quiet and _STARTUP_NOISE.match(line)):
                continue
            try:
                self._out.write(self._prefix + line)
                self._out.flush()
            except (OSError, ValueError):  # our stdout went away
                self._out = None
        stream.close()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def output(self) -> str:
        """Everything the child wrote so far (the kept part, when copied)."""
        if self.log_path is None:
            with self._lock:
                return self._kept.decode("utf-8", "replace")
        with open(self.log_path, "r", encoding="utf-8", errors="replace") as f:
            return f.read()

    def poll(self) -> int | None:
        return self.process.poll()

    def wait(self, timeout=None) -> int:
        """Waits for the exit (and the end of the copied output); returns the code."""
        code = self.process.wait(timeout)
        if self._reader is not None:
            self._reader.join(10)
        return code

    def send_signal(self, sig=signal.SIGTERM) -> None:
        try:
            if self._new_session:
                os.killpg(self.process.pid, sig)
            else:
                self.process.send_signal(sig)
        except ProcessLookupError:
            pass

    def wait_for_output(self, text: str, timeout=60.0) -> None:
        """Waits until the output contains `text`.

        Raises:
          RuntimeError: the child exited first, or `timeout` seconds passed.
        """
        def logged():
            if text in self.output():
                return True
            if self.poll() is not None and text not in self.output():
                raise RuntimeError(f"{self.command[0]} exited with {self.returncode} "
                                   f"before writing {text!r}:\n{self.output()}")
            return False
        try:
            wait.wait_for(logged, repr(text), timeout, _POLL_SECONDS)
        except AssertionError as e:
            raise RuntimeError(f"{e}; the output so far:\n{self.output()}") from None

    def stop(self, sig=signal.SIGTERM, timeout=30) -> int:
        """Sends `sig` (to the group, if in its own session), then SIGKILL
        after `timeout` seconds; returns the exit code."""
        if self.process.poll() is None:
            self.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left of the group (e.g. a wrapper's children) goes too.
        if self._new_session:
            self.send_signal(signal.SIGKILL)
        elif self.process.poll() is None:
            self.process.kill()
        return self.wait()

    def cleanup(self) -> None:
        """Stops the child and removes a temporary log."""
        self.stop()
        if self._temporary_log:
            try:
                os.remove(self.log_path)
            except OSError:
                pass


# --------------------------------------------------------------- model server

def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def _channel_ready(channel) -> bool:
    try:
        grpc.channel_ready_future(channel).result(timeout=0.5)
        return True
    except grpc.FutureTimeoutError:
        return False


class ServerRunner:
    """One model server process on its own ports; stop() it, or use `with`.

    `args` are the server's flags but for --port and --rest_api_port, which
    the runner adds: `grpc_port` and `rest_api_port`, or free ones where 0
    (no REST port at all with rest=False). `command` is the server to run
    (default server_command()); `process_options` go to Process. Model states
    are read with gRPC's GetModelStatus, which the server's metrics do not
    count; with `status_over_rest` (and a REST port) from GET /v1/models/<name>
    instead, which needs neither TensorFlow nor the API protos here.
    """

    def __init__(self, args, *, rest=True, grpc_port=0, rest_api_port=0,
                 command=None, env=None, status_over_rest=False,
                 **process_options):
        self._user_args = list(args)
        self._rest = rest
        self._status_over_rest = rest and status_over_rest
        self._fixed_ports = (grpc_port, rest_api_port)
        self._command = list(command) if command else server_command()
        self._env = env
        self._process_options = process_options
        self.process = None
        self.channel = None
        self._prediction_stub = None
        self._model_stub = None
        self._pick_ports()

    def _pick_ports(self):
        grpc_port, rest_api_port = self._fixed_ports
        self.grpc_port = grpc_port or pick_unused_port()
        self.rest_port = 0
        if self._rest:
            self.rest_port = rest_api_port or pick_unused_port()
            while self.rest_port == self.grpc_port:
                self.rest_port = pick_unused_port()

    @property
    def argv(self) -> list[str]:
        """The server's whole command line."""
        args = [f"--port={self.grpc_port}"]
        if self._rest:
            args.append(f"--rest_api_port={self.rest_port}")
        return self._command + args + self._user_args

    def start(self, models=(), timeout=90.0) -> "ServerRunner":
        """Starts; waits until it listens and each model in `models` is AVAILABLE.

        A port taken by someone else between picking and binding (tests run in
        parallel) is retried with fresh ports, unless the ports were given.

        Raises:
          RuntimeError: the server exited, or was not ready in `timeout` s.
        """
        for attempt in range(3):
            try:
                return self.launch().wait_until_ready(models, timeout)
            except RuntimeError as e:
                text = str(e).lower()
                if (attempt == 2 or any(self._fixed_ports) or
                        "bind" not in text and "address already in use" not in text):
                    raise
                self._pick_ports()
        raise AssertionError("unreachable")

    def launch(self, channel=None) -> "ServerRunner":
        """Starts the process, without waiting for anything.

        `channel`: the gRPC channel for the stubs (default: insecure to the port).
        """
        if self.process is not None:
            self.process.cleanup()
        self.process = Process(self.argv, env=child_env(self._env),
                               **self._process_options)
        self.channel = channel or grpc.insecure_channel(f"localhost:{self.grpc_port}")
        self._prediction_stub = self._model_stub = None
        return self

    @property
    def prediction_stub(self):
        if self._prediction_stub is None:
            from tensorflow_serving.apis import prediction_service_pb2_grpc  # pylint: disable=g-import-not-at-top
            self._prediction_stub = prediction_service_pb2_grpc.PredictionServiceStub(
                self.channel)
        return self._prediction_stub

    @property
    def model_stub(self):
        if self._model_stub is None:
            from tensorflow_serving.apis import model_service_pb2_grpc  # pylint: disable=g-import-not-at-top
            self._model_stub = model_service_pb2_grpc.ModelServiceStub(self.channel)
        return self._model_stub

    def _log_for_errors(self) -> str:
        # Output copied to `out` was seen already; a log file was not.
        return f":\n{self.logs()}" if self.process.log_path else ""

    def _wait(self, condition, what, timeout):
        """wait.wait_for, but failing early when the server exits.

        Raises:
          RuntimeError: the server exited, or `timeout` seconds passed.
        """
        def met():
            if self.process.poll() is not None:
                raise RuntimeError(f"the model server exited with code "
                                   f"{self.process.returncode} while waiting for "
                                   f"{what}{self._log_for_errors()}")
            return condition()
        try:
            return wait.wait_for(met, what, max(timeout, _POLL_SECONDS),
                                      _POLL_SECONDS)
        except AssertionError as e:
            raise RuntimeError(f"{e}{self._log_for_errors()}") from None

    def wait_until_ready(self, models=(), timeout=90.0) -> "ServerRunner":
        """Waits until the server listens and each of `models` is AVAILABLE.

        Raises:
          RuntimeError: the server exited, was not ready in `timeout` seconds,
            or did not log the data plane the tests are to drive.
        """
        deadline = time.monotonic() + timeout
        ports = [self.grpc_port] + ([self.rest_port] if self._rest else [])
        self._wait(lambda: all(_listening(p) for p in ports),
                   f"the server to listen on port(s) {ports}", timeout)
        # A channel used before the server listened may be waiting to retry.
        self._wait(lambda: _channel_ready(self.channel), "the gRPC channel",
                   deadline - time.monotonic())
        for name in models:
            self.wait_for_version(name, None, deadline - time.monotonic())
        return self

    def wait_for_log(self, text: str, timeout=60.0) -> None:
        """Waits until the server's log contains `text` (fails if it exits first)."""
        self.process.wait_for_output(text, timeout)

    def model_status(self, name, version=None, timeout=10):
        """GetModelStatus over gRPC: the response."""
        from tensorflow_serving.apis import get_model_status_pb2  # pylint: disable=g-import-not-at-top
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = name
        if version is not None:
            request.model_spec.version.value = version
        return self.model_stub.GetModelStatus(request, timeout=timeout)

    def version_states(self, name, timeout=10) -> dict:
        """{version: state name} of every version of `name` the server knows.

        Read from GetModelStatus, or GET /v1/models/<name> with
        `status_over_rest`.

        Raises:
          OSError or grpc.RpcError: no answer, or an error (unknown model...).
        """
        if self._status_over_rest:
            url = f"http://localhost:{self.rest_port}/v1/models/{name}"
            with urllib.request.urlopen(url, timeout=timeout) as response:
                body = json.load(response)
            return {int(s["version"]): s["state"]
                    for s in body.get("model_version_status", [])}
        from tensorflow_serving.apis import get_model_status_pb2  # pylint: disable=g-import-not-at-top
        names = get_model_status_pb2.ModelVersionStatus.State.Name
        return {s.version: names(s.state)
                for s in self.model_status(name, timeout=timeout).model_version_status}

    def wait_for_version(self, name, version=None, timeout=60.0, state="AVAILABLE"):
        """Waits until `version` (or, if None, any version) of `name` is in
        `state` (a ModelVersionStatus.State name); returns version_states().

        Raises:
          RuntimeError: the server exited, or `timeout` seconds passed.
        """
        def reached():
            try:
                states = self.version_states(name)
            except (OSError, ValueError, grpc.RpcError):
                return None  # not serving yet, or the model not known yet
            if any(s == state and (version is None or v == version)
                   for v, s in states.items()):
                return states
            return None
        which = "any version" if version is None else f"version {version}"
        return self._wait(reached, f"{which} of {name} to be {state}", timeout)

    def logs(self) -> str:
        return self.process.output() if self.process is not None else ""

    def send_signal(self, sig=signal.SIGTERM) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout=60) -> int:
        return self.process.wait(timeout)

    def stop(self, sig=signal.SIGTERM, timeout=60) -> int | None:
        """Stops the server (`sig`, then SIGKILL); returns its exit code."""
        if self.channel is not None:
            self.channel.close()
            self.channel = None
            self._prediction_stub = self._model_stub = None
        if self.process is None:
            return None
        return self.process.stop(sig, timeout)

    def cleanup(self) -> None:
        """Stops the server and removes its temporary log."""
        self.stop()
        if self.process is not None:
            self.process.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
