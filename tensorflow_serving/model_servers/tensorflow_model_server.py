"""tensorflow_model_server: serves SavedModels over gRPC and HTTP/REST.

Same flags, defaults and behaviour as upstream's C++ binary, e.g.
  tensorflow_model_server --port=8500 --rest_api_port=8501
      --model_name=mnist --model_base_path=/tmp/mnist
(the base path holds numeric version directories: /tmp/mnist/1/saved_model.pb).
"""

import importlib.metadata
import os
import select
import signal
import sys
import threading

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
# TensorFlow's kernels, not oneDNN's: upstream's tensorflow_model_server is
# built without --config=mkl, so its TensorFlow has no oneDNN custom ops, while
# the pip wheel turns them on for CPUs with AVX512-VNNI and the like. They also
# cost a small model about a quarter more CPU per request (see README,
# Performance). TF_ENABLE_ONEDNN_OPTS=1 in the environment turns them on.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
# The server builds no Keras models and draws nothing, but importing
# TensorFlow imports Keras (to offer tf.keras), and Keras imports matplotlib's
# pyplot: together a fifth of the server's start, more where matplotlib's cache
# directory cannot be written. Marked absent, both are skipped; TensorFlow and
# Keras treat them as optional, and SavedModels are loaded as graphs, without
# Keras.
for _unused in ("keras", "matplotlib"):
    sys.modules.setdefault(_unused, None)

from tensorflow_serving.util import cpu_info  # pylint: disable=g-import-not-at-top
from tensorflow_serving.util import memory_release  # pylint: disable=g-import-not-at-top

# One glibc arena per core rather than eight, set before any thread starts:
# a version's load then reuses memory the requests freed, which lowers the
# peak of a rollover by about 20 MB on a 100 MB model (docs/memory.md).
memory_release.limit_arenas(max(2, cpu_info.num_schedulable_cpus()))

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
from absl import logging

from tensorflow_serving.model_servers import server_options  # pylint: disable=g-import-not-at-top
from tensorflow_serving.util import program_help


def _define_flags():
    """One absl flag per Options field that has one, with its default and help."""
    for field in server_options.flag_fields():
        meta = field.metadata
        name, default, help_text = meta["flag"], field.default, meta["help"]
        if meta["no_effect"]:
            help_text += f" (Accepted; no effect here: {meta['no_effect']}.)"
        if field.type in (bool, "bool"):
            flags.DEFINE_bool(name, default, help_text)
        elif field.type in (int, "int"):
            flags.DEFINE_integer(name, default, help_text,
                                 lower_bound=meta.get("lower_bound"),
                                 upper_bound=meta.get("upper_bound"))
        elif field.type in (float, "float"):
            flags.DEFINE_float(name, default, help_text)
        else:
            flags.DEFINE_string(name, default, help_text)
    flags.DEFINE_bool("version", False, "Print the versions of the server and of "
                      "TensorFlow, and exit.")


_define_flags()

FLAGS = flags.FLAGS


def version_lines() -> str:
    def version_of(*packages):
        for package in packages:
            try:
                return importlib.metadata.version(package)
            except importlib.metadata.PackageNotFoundError:
                pass
        return "unknown"
    # TensorFlow comes as `tensorflow` or as its CPU-only build `tensorflow-cpu`.
    return (f"TensorFlow ModelServer: {version_of('tensorflow-serving-api')}"
            f"+dev.sha.python\nTensorFlow Library: "
            f"{version_of('tensorflow', 'tensorflow-cpu')}\n")


def _fail(message: str, code: int = 1):
    sys.stderr.write(f"tensorflow_model_server: {message}\n")
    sys.stderr.flush()
    os._exit(code)  # pylint: disable=protected-access


def _parse_flags(argv):
    """absl parsing, but flag errors are one line on stderr and exit 2, and
    --help starts with the usage line and exits 0."""
    program_help.exit_if_requested(argv, "[--port=8500] [--rest_api_port=8501] "
                                   "[--model_name=NAME --model_base_path=PATH | "
                                   "--model_config_file=FILE] [flags]", __doc__)
    try:
        return FLAGS(argv)
    except flags.Error as e:
        _fail(f"{str(e).splitlines()[0]}", 2)


def _options_from_flags():
    return server_options.Options(**{
        f.name: FLAGS[f.metadata["flag"]].value for f in server_options.flag_fields()})


def _log_flags_without_effect():
    for field in server_options.flag_fields():
        meta = field.metadata
        if meta["no_effect"] and FLAGS[meta["flag"]].present:
            logging.info("--%s has no effect here: %s.", meta["flag"], meta["no_effect"])


def _read_all(fd: int) -> bytes:
    """Whatever a non-blocking fd holds now (b"" when nothing)."""
    try:
        return os.read(fd, 4096)
    except BlockingIOError:
        return b""


class _Signals:
    """SIGTERM and SIGINT, seen by a main thread that waits on nothing else.

    The kernel delivers a signal to any thread that does not block it, often
    one of gRPC's or TensorFlow's. Python runs the handler only when the main
    thread next executes bytecode, and a main thread asleep in a wait would
    not notice for up to an hour. Python writes every signal to the wakeup
    fd, whichever thread took it, so the main thread waits on that, and any
    other thread can wake it through the same pipe.
    """

    def __init__(self):
        self.received = []
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)

    def _on_signal(self, signum, frame):
        del frame
        self.received.append(signum)

    def wake(self) -> None:
        """Ends a wait_until() of the main thread from any thread."""
        try:
            os.write(self._write, b"\0")
        except BlockingIOError:
            pass  # the pipe is full: the main thread wakes up anyway

    def wait_until(self, done: threading.Event, signals: int) -> bool:
        """Waits until `done` is set (True) or `signals` signals arrived (False)."""
        while len(self.received) < signals and not done.is_set():
            # Back in bytecode after select, Python runs the pending handler
            # before the loop tests again.
            select.select([self._read], [], [])
            while _read_all(self._read):
                pass
        return done.is_set()


def _exit_on_signal(signum: int, when: str) -> None:
    """Ends the process at once: nothing is served yet, or the drain was cut short."""
    logging.info("Received signal %d %s, exiting now.", signum, when)
    logging.flush()
    sys.stderr.flush()
    os._exit(128 + signum)  # pylint: disable=protected-access


def main(argv):
    if len(argv) > 1:
        _fail(f"unexpected positional arguments: {' '.join(argv[1:])}", 2)
    if FLAGS.version:
        sys.stdout.write(version_lines())
        sys.stdout.flush()
        return 0
    if FLAGS.platform_config_file:
        _fail("--platform_config_file is not supported by this server")
    _log_flags_without_effect()
    signals = _Signals()

    # Before TensorFlow is imported: see native_data_plane.preload().
    from tensorflow_serving.model_servers import native_data_plane  # pylint: disable=g-import-not-at-top
    native_data_plane.preload()
    from tensorflow_serving.model_servers import server as server_lib  # pylint: disable=g-import-not-at-top
    from tensorflow_serving.util import status as status_lib  # pylint: disable=g-import-not-at-top
    server = server_lib.Server(_options_from_flags())

    # Startup may wait for a long time (models not there yet, load retries),
    # so it runs beside the main thread, which stays free to honour a signal.
    # Until startup returns nothing is served, and the process may just end.
    started, startup_error = threading.Event(), []

    def start():
        try:
            server.build_and_start()
        except BaseException as e:  # pylint: disable=broad-except
            startup_error.append(e)
        finally:
            started.set()
            signals.wake()

    threading.Thread(target=start, name="startup", daemon=True).start()
    if not signals.wait_until(started, 1):
        _exit_on_signal(signals.received[0], "during startup")
    if startup_error:
        error = startup_error[0]
        if isinstance(error, server_lib.StartupError):
            _fail(str(error))
        if isinstance(error, status_lib.ServingError):
            _fail(" ".join(f"{error.code.name}: {error.message}".split()))
        raise error
    if not signals.received:
        signals.wait_until(threading.Event(), 1)
    logging.info("Received signal %d, shutting down gracefully.", signals.received[0])

    # The drain runs beside the main thread too: a second signal ends it.
    stopped = threading.Event()

    def stop():
        server.stop()
        stopped.set()
        signals.wake()

    threading.Thread(target=stop, name="shutdown", daemon=True).start()
    if not signals.wait_until(stopped, 2):
        _exit_on_signal(signals.received[1], "again while draining")
    # Requests are drained, models unloaded, request logs closed and logs
    # flushed: nothing is left to do. The interpreter's own teardown, with
    # TensorFlow loaded, would take over a second more and keep the port's
    # owner (an orchestrator, a test) waiting for the exit.
    logging.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # pylint: disable=protected-access


def run():
    absl_handler_setup()
    app.run(main, flags_parser=_parse_flags)


def absl_handler_setup():
    # Upstream logs to stderr; so does absl once it is told to.
    logging.set_stderrthreshold(logging.INFO)


if __name__ == "__main__":
    run()
