r"""TensorFlow Serving's MNIST tutorial in one command.

    tools/bazel run //tensorflow_serving/example:mnist_tutorial

does what the tutorial asks a learner to type in three terminals: train and
export the model (mnist_saved_model), serve it (tensorflow_model_server on
free gRPC and REST ports), query it with 1,000 test images (mnist_client),
which prints the error rate and draws two pictures (the digits it got wrong,
and the requests' latencies), then stops the server and prints the three
commands to run the steps by hand and where the pictures are. The server is stopped whatever happens (failure, Ctrl-C,
SIGTERM). With --config=upstream_server (see .bazelrc) the server is
upstream's C++ binary.

Flags: --model_dir / --keep_model_dir keep the export (by default it goes to
a temporary directory that is removed), --port / --rest_api_port choose the
server's ports (0: any free port), --num_tests, --concurrency,
--training_iteration, --plot_dir (where the pictures go).
"""

import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time

from absl import app
from absl import flags

from tensorflow_serving.example import command_line
from tensorflow_serving.example import mnist_loop
from tensorflow_serving.example import mnist_plots
from tensorflow_serving.model_servers import server_launcher

flags.DEFINE_string('model_dir', '',
                    'Export the model to this base directory and keep it '
                    '(default: a temporary directory, removed at the end).')
flags.DEFINE_bool('keep_model_dir', False,
                  'Keep the temporary export directory at the end.')
flags.DEFINE_integer('port', 0, 'gRPC port of the model server (0: any free).')
flags.DEFINE_integer('rest_api_port', 0,
                     'REST port of the model server (0: any free).')
flags.DEFINE_integer('num_tests', 1000, 'Number of test images to query.')
flags.DEFINE_integer('concurrency', 8,
                     'Maximum number of concurrent requests of the client.')
flags.DEFINE_integer('training_iteration', 1000,
                     'Training iterations of mnist_saved_model.')
flags.DEFINE_string('plot_dir', '/tmp/mnist_plots',
                    "Where mnist_client draws its pictures (kept at the end).")
FLAGS = flags.FLAGS

MANUAL_COMMANDS = (
    'tools/bazel run //tensorflow_serving/example:mnist_saved_model -- '
    '/tmp/mnist_model',
    'tools/bazel run //tensorflow_serving/model_servers:tensorflow_model_server'
    ' -- --port=9000 --rest_api_port=8501 --model_name=mnist'
    ' --model_base_path=/tmp/mnist_model/',
    'tools/bazel run //tensorflow_serving/example:mnist_client -- '
    '--num_tests=1000 --server=localhost:9000 --plot_dir=/tmp/mnist_plots',
)
_SERVER_START_TIMEOUT_SECONDS = 120


class TutorialError(Exception):
    """A step failed; reported as one line."""


class _Terminated(Exception):
    """SIGTERM or SIGHUP arrived: stop like on Ctrl-C."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_terminated(signum, frame):
    del frame
    raise _Terminated(signum)


@contextlib.contextmanager
def _signals_held():
    """Delays Ctrl-C and SIGTERM until the block is done: a second Ctrl-C
    must not interrupt the stopping and leave the server running.

    (Not around starting children: they would inherit the blocked signals.)
    """
    stopping = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    signal.pthread_sigmask(signal.SIG_BLOCK, stopping)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, stopping)


def _say(message=''):
    sys.stdout.write(message + '\n')
    sys.stdout.flush()


def _shown(command):
    """A command as a learner would read it (program name, not its path)."""
    args = list(command)
    if args[0] == sys.executable:  # a script run from the source tree
        args = args[1:]
    name = os.path.basename(args[0])
    if name.endswith('.py'):
        name = name[:-3]
    return '$ ' + ' '.join([name] + args[1:])


def _check_flags(argv):
    if len(argv) > 1:
        raise TutorialError('Unexpected arguments: %s' % ' '.join(argv[1:]))
    for name in ('num_tests', 'concurrency', 'training_iteration'):
        if FLAGS[name].value <= 0:
            raise TutorialError('--%s should be positive' % name)
    for name in ('port', 'rest_api_port'):
        if not 0 <= FLAGS[name].value <= 65535:
            raise TutorialError('--%s should be in [0, 65535]' % name)


class Tutorial:
    """The three steps; stop() always leaves no server and no child behind."""

    def __init__(self, model_base_path, plot_dir, out):
        self.model_base_path = model_base_path
        self.plot_dir = plot_dir
        self._out = out
        self._child = None  # the exporter or the client while it runs
        # Its own session, as the steps': Ctrl-C reaches only us, and stop()
        # ends the children quietly (no KeyboardInterrupt traceback from them).
        self.server = server_launcher.ServerRunner(
            mnist_loop.server_flags(model_base_path), grpc_port=FLAGS.port,
            rest_api_port=FLAGS.rest_api_port, out=out, prefix='[server] ',
            quiet=True, new_session=True, status_over_rest=True)

    def _run_step(self, command):
        _say(_shown(command))
        # Left in self._child if interrupted.
        self._child = server_launcher.Process(command, out=self._out, quiet=True,
                                            new_session=True)
        code = self._child.wait()
        child, self._child = self._child, None
        return code, child.output()

    def export(self):
        command = mnist_loop.export_command(
            self.model_base_path, version=1,
            training_iteration=FLAGS.training_iteration)
        code, _ = self._run_step(command)
        if code != 0:
            raise TutorialError('mnist_saved_model failed (exit code %d)'
                                % code)

    def serve(self):
        if server_launcher.is_upstream(self.server.argv):
            _say("(upstream's tensorflow_model_server: --config=upstream_server)")
        _say(_shown(self.server.argv))
        try:
            self.server.launch().wait_until_ready(
                [mnist_loop.MODEL_NAME], timeout=_SERVER_START_TIMEOUT_SECONDS)
            states = self.server.version_states(mnist_loop.MODEL_NAME)
        except (RuntimeError, OSError) as e:
            raise TutorialError(str(e)) from None
        versions = sorted(v for v, state in states.items() if state == 'AVAILABLE')
        _say('Model status (GET /v1/models/%s): version %s AVAILABLE' % (
            mnist_loop.MODEL_NAME, ', '.join(map(str, versions))))

    def query(self):
        for path in self._picture_paths():  # an earlier run's
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        command = mnist_loop.client_command(
            'localhost:%d' % self.server.grpc_port, num_tests=FLAGS.num_tests,
            concurrency=FLAGS.concurrency, plot_dir=self.plot_dir)
        code, output = self._run_step(command)
        if mnist_loop.error_rate_line(output) is None:
            raise TutorialError('mnist_client failed (exit code %d)' % code)
        return code

    def _picture_paths(self):
        return [os.path.join(self.plot_dir, name) for name in (
            mnist_plots.WRONG_DIGITS_FILE, mnist_plots.LATENCY_FILE)]

    def pictures(self):
        """The paths of the client's two pictures; TutorialError if missing."""
        paths = self._picture_paths()
        missing = [path for path in paths if not os.path.isfile(path)]
        if missing:
            raise TutorialError('mnist_client did not write %s'
                                % ', '.join(missing))
        return paths

    def stop(self):
        """Stops the running child and the server; idempotent."""
        with _signals_held():
            if self._child is not None:
                child, self._child = self._child, None
                child.stop()
            if self.server.process is not None:
                if self.server.process.poll() is None:
                    _say('Stopping the model server...')
                self.server.stop()


def _run(model_base_path, plot_dir):
    tutorial = Tutorial(model_base_path, plot_dir, sys.stdout.buffer)
    start = time.monotonic()
    try:
        _say('== 1/3 Train the model and export it to %s' % model_base_path)
        tutorial.export()
        _say('\n== 2/3 Serve it with tensorflow_model_server (gRPC port %d, '
             'REST port %d)' % (tutorial.server.grpc_port, tutorial.server.rest_port))
        tutorial.serve()
        _say('\n== 3/3 Query it with mnist_client (%d test images, '
             'concurrency %d)' % (FLAGS.num_tests, FLAGS.concurrency))
        code = tutorial.query()
    finally:
        tutorial.stop()
    pictures = tutorial.pictures()
    _say('\nDone in %.0f s. The same steps by hand, in three terminals:'
         % (time.monotonic() - start))
    for command in MANUAL_COMMANDS:
        _say('  ' + command)
    _say('\nThe pictures mnist_client drew (the digits it got wrong, and how '
         'long its requests took):')
    for path in pictures:
        _say('  ' + path)
    return code


def main(argv):
    signal.signal(signal.SIGTERM, _raise_terminated)
    signal.signal(signal.SIGHUP, _raise_terminated)
    temporary = None
    try:
        _check_flags(argv)
        if FLAGS.model_dir:
            model_base_path = os.path.abspath(command_line.user_path(FLAGS.model_dir))
        else:
            temporary = tempfile.mkdtemp(prefix='mnist_tutorial_')
            model_base_path = os.path.join(temporary, 'mnist_model')
        code = _run(model_base_path,
                    os.path.abspath(command_line.user_path(FLAGS.plot_dir)))
        if temporary and FLAGS.keep_model_dir:
            _say('The exported model is kept in %s' % model_base_path)
            temporary = None
        elif FLAGS.model_dir:
            _say('The exported model is in %s' % model_base_path)
        return code
    except TutorialError as e:
        print('Error: %s' % e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('Interrupted; stopped everything the tutorial started.',
              file=sys.stderr)
        return 128 + signal.SIGINT
    except _Terminated as e:
        print('Got %s; stopped everything the tutorial started.' % e,
              file=sys.stderr)
        return 128 + e.signum
    finally:
        if temporary:
            shutil.rmtree(temporary, ignore_errors=True)


if __name__ == '__main__':
    app.run(main, flags_parser=command_line.parse_flags)
