"""The tutorial's three programs: how to export, serve and query, and the verdict.

Shared by mnist_tutorial (one command for the whole tutorial) and the loop
tests, which run the programs through model_servers/server_launcher
(the py_binaries in the runfiles under Bazel, the scripts next to this file
from a source tree).
"""

import re

from tensorflow_serving.model_servers import server_launcher

MODEL_NAME = 'mnist'
EXPORTER = 'tensorflow_serving/example/mnist_saved_model'
CLIENT = 'tensorflow_serving/example/mnist_client'

_ERROR_RATE = re.compile(r'^Inference error rate: ([0-9.eE+-]+)%\s*$')


def export_command(base_dir, version=1, training_iteration=1000,
                   work_dir=None):
    command = server_launcher.program_command(EXPORTER) + [
        '--training_iteration=%d' % training_iteration,
        '--model_version=%d' % version]
    if work_dir:
        command.append('--work_dir=' + work_dir)
    return command + [base_dir]


def client_command(server, num_tests=1000, concurrency=1, rest=False,
                   work_dir=None, plot_dir=None):
    command = server_launcher.program_command(CLIENT) + [
        '--num_tests=%d' % num_tests, '--concurrency=%d' % concurrency,
        '--server=' + server]
    if rest:
        command.append('--rest')
    if work_dir:
        command.append('--work_dir=' + work_dir)
    if plot_dir:
        command.append('--plot_dir=' + plot_dir)
    return command


def server_flags(model_base_path):
    """The server's flags besides its ports (the runner adds those)."""
    return ['--model_name=' + MODEL_NAME, '--model_base_path=' + model_base_path]


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
