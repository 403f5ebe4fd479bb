"""Runs the tutorial's three programs as child processes: export, serve, query.

Shared by mnist_tutorial (one command for the whole tutorial) and the loop
tests. Under Bazel the programs are the py_binaries (and the model server
behind :model_server_under_test) found in the runfiles, so `bazel run` and
`bazel test` use exactly what was built; run from a source tree, the scripts
next to this file run with the current interpreter.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

MODEL_NAME = 'mnist'
EXPORTER = 'tensorflow_serving/example/mnist_saved_model'
CLIENT = 'tensorflow_serving/example/mnist_client'
SERVER = 'tensorflow_serving/model_servers/tensorflow_model_server'
# Where //third_party/upstream_model_server puts upstream's binary (a wrapper
# around TF_MODEL_SERVER_PATH) in the runfiles of whoever depends on it.
UPSTREAM_SERVER = 'upstream_model_server/tensorflow_model_server'

_ERROR_RATE = re.compile(r'^Inference error rate: ([0-9.eE+-]+)%\s*$')
# What every TensorFlow program prints at start on a machine without a GPU:
# noise for a learner, so Child(quiet=True) leaves it out.
_TF_STARTUP_NOISE = re.compile(
    rb'^(WARNING: All log messages before absl::InitializeLog\(\) is called'
    rb'|[IWE]\d{4} [\d:.]+\s+\d+ (cudart_stub|cuda_platform|cuda_executor'
    rb'|cpu_feature_guard)\.cc:\d+\]'
    rb'|To enable the following instructions: )')


def _source_root():
    """The directory holding `tensorflow_serving/` (runfiles workspace or repo)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))


def _runfiles_roots():
    roots = [os.environ.get('RUNFILES_DIR'), os.environ.get('TEST_SRCDIR')]
    # <runfiles>/<workspace>/tensorflow_serving/example/mnist_loop.py
    source_root = _source_root()
    if '.runfiles' in source_root:
        roots.append(os.path.dirname(source_root))
    return [r for r in roots if r and os.path.isdir(r)]


def _executable(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def find_runfile(relative_path):
    """Path of an executable in the runfiles: <root>/<repo>/<relative_path>."""
    for root in _runfiles_roots():
        direct = os.path.join(root, relative_path)
        if _executable(direct):
            return direct
        workspace = os.environ.get('TEST_WORKSPACE')
        repos = ([workspace] if workspace else []) + sorted(os.listdir(root))
        for repo in repos:
            path = os.path.join(root, repo, relative_path)
            if _executable(path):
                return path
    return None


def program_command(binary):
    """The command running EXPORTER or CLIENT (no flags)."""
    path = find_runfile(binary)
    if path:
        return [path]
    return [sys.executable, os.path.join(_source_root(), binary + '.py')]


def server_command():
    """The command running the model server that :model_server_under_test names.

    $MODEL_SERVER_BINARY wins (as in model_servers/test_util/server_runner.py);
    then upstream's binary if the runfiles hold it (--config=upstream_server),
    then ours.
    """
    explicit = os.environ.get('MODEL_SERVER_BINARY')
    if explicit:
        return [explicit]
    path = find_runfile(UPSTREAM_SERVER) or find_runfile(SERVER)
    if path:
        return [path]
    return [sys.executable, os.path.join(_source_root(), SERVER + '.py')]


def child_env():
    """Environment for the child programs: live output, quiet TensorFlow."""
    env = dict(os.environ)
    env['PYTHONUNBUFFERED'] = '1'
    env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    root = _source_root()
    paths = [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p]
    if root not in paths:
        env['PYTHONPATH'] = os.pathsep.join([root] + paths)
    return env


def export_command(base_dir, version=1, training_iteration=1000,
                   work_dir=None):
    command = program_command(EXPORTER) + [
        '--training_iteration=%d' % training_iteration,
        '--model_version=%d' % version]
    if work_dir:
        command.append('--work_dir=' + work_dir)
    return command + [base_dir]


def client_command(server, num_tests=1000, concurrency=1, rest=False,
                   work_dir=None):
    command = program_command(CLIENT) + [
        '--num_tests=%d' % num_tests, '--concurrency=%d' % concurrency,
        '--server=' + server]
    if rest:
        command.append('--rest')
    if work_dir:
        command.append('--work_dir=' + work_dir)
    return command


def server_flags(grpc_port, rest_api_port, model_base_path):
    return ['--port=%d' % grpc_port, '--rest_api_port=%d' % rest_api_port,
            '--model_name=' + MODEL_NAME,
            '--model_base_path=' + model_base_path]


def error_rate_line(output):
    """The client's `Inference error rate: X%` line if it is the last one."""
    lines = [line for line in output.splitlines() if line.strip()]
    if lines and _ERROR_RATE.match(lines[-1]):
        return lines[-1].strip()
    return None


def parse_error_rate(output):
    """The error rate in percent from the client's last line, or None."""
    line = error_rate_line(output)
    return float(_ERROR_RATE.match(line).group(1)) if line else None


class Child:
    """A child process whose output is copied, line by line, to `out`.

    Lines get `prefix` (e.g. '[server] '); with `quiet`, TensorFlow's start-up
    noise is left out. Output is also kept, up to `keep_bytes` from the end,
    for parsing and error messages. In its own session (`new_session`) the
    child does not get the terminal's Ctrl-C, and stop() signals its whole
    process group.
    """

    def __init__(self, command, *, out=None, prefix='', quiet=False,
                 new_session=False, env=None, keep_bytes=1 << 20):
        self.command = list(command)
        self._out = out
        self._prefix = prefix.encode()
        self._quiet = quiet
        self._keep_bytes = keep_bytes
        self._kept = bytearray()
        self._lock = threading.Lock()
        self._new_session = new_session
        self.process = subprocess.Popen(
            self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env=env or child_env(),
            start_new_session=new_session)
        self._reader = threading.Thread(target=self._copy, daemon=True)
        self._reader.start()

    def _copy(self):
        stream = self.process.stdout
        for line in stream:
            with self._lock:
                self._kept += line
                del self._kept[:-self._keep_bytes]
            if self._out is None or (self._quiet and
                                     _TF_STARTUP_NOISE.match(line)):
                continue
            try:
                self._out.write(self._prefix + line)
                self._out.flush()
            except (OSError, ValueError):  # our stdout went away
                self._out = None
        stream.close()

    def output(self):
        with self._lock:
            return self._kept.decode('utf-8', 'replace')

    def poll(self):
        return self.process.poll()

    def wait(self, timeout=None):
        """Waits for the exit and the end of the output; returns the code."""
        code = self.process.wait(timeout)
        self._reader.join(10)
        return code

    def _signal(self, sig):
        try:
            if self._new_session:
                os.killpg(self.process.pid, sig)
            else:
                self.process.send_signal(sig)
        except ProcessLookupError:
            pass

    def stop(self, timeout=30):
        """SIGTERM (the group, if its own session), then SIGKILL; returns code."""
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left of the group (e.g. a wrapper's children) goes too.
        if self._new_session:
            self._signal(signal.SIGKILL)
        elif self.process.poll() is None:
            self.process.kill()
        return self.wait()


class ModelServer(Child):
    """The model server in its own process group.

    Its model status comes from the REST API's GET /v1/models/<name>, the
    REST face of GetModelStatus: unlike the gRPC stubs, it needs no
    TensorFlow in this process, so the tutorial starts at once.
    """

    def __init__(self, flags, rest_api_port, *, out=None, prefix='[server] ',
                 quiet=True):
        super().__init__(server_command() + list(flags), out=out,
                         prefix=prefix, quiet=quiet, new_session=True)
        self._status_url = 'http://localhost:%d/v1/models/%s' % (
            rest_api_port, MODEL_NAME)

    def model_status(self, timeout=10):
        """{version: state name} of every version the server knows.

        Raises:
          OSError: no answer (yet), or an HTTP error.
        """
        with urllib.request.urlopen(self._status_url, timeout=timeout) as r:
            response = json.load(r)
        return {int(s['version']): s['state']
                for s in response.get('model_version_status', [])}

    def wait_until_available(self, timeout=120):
        """Waits until a version is AVAILABLE; returns those versions.

        Raises:
          RuntimeError: the server exited, or the time ran out.
        """
        deadline = time.monotonic() + timeout
        last = 'no answer'
        while True:
            if self.poll() is not None:
                raise RuntimeError('the model server exited with code %d'
                                   % self.wait())
            try:
                status = self.model_status()
                available = sorted(v for v, state in status.items()
                                   if state == 'AVAILABLE')
                if available:
                    return available
                last = status
            except urllib.error.HTTPError as e:
                last = 'HTTP %d: %s' % (e.code, e.read().decode(
                    'utf-8', 'replace').strip())
            except (OSError, ValueError) as e:
                last = str(e)
            if time.monotonic() > deadline:
                raise RuntimeError(
                    'model %s not AVAILABLE after %d s (last status: %s)'
                    % (MODEL_NAME, timeout, last))
            time.sleep(0.2)
