r"""Server CPU per request of each PredictionService method.

  tools/bazel run //tensorflow_serving/benchmarks:inference_benchmark -- \
      [--duration_s=10] [--concurrency=1,8] [--rounds=3] [--calls="mnist Predict"] \
      [--baseline_binary=/path/to/another/tensorflow_model_server]

Exports the tutorial's MNIST model (with mnist_saved_model) and
half_plus_two, serves both from one server, and drives it with h2load, one
gRPC body per call (built as payloads.py builds them, one example each):

  mnist Predict         predict_images: the digit as a [1,784] tensor
  mnist Classify        serving_default (classify): the digit as a tf.Example
  mnist MultiInference  serving_default as one classify task
  hp2 Predict           serving_default: x [1,1]
  hp2 Regress           regress_x_to_y: x in a tf.Example
  hp2 Classify          classify_x_to_y: x in a tf.Example

The MNIST model has no regression signature, so Regress is measured on
half_plus_two, against Predict on the same graph. A cell's CPU is the server
process's CPU time over the requests h2load completed; the server runs on
core 0, h2load on core 1 (with two or more cores). With --baseline_binary
that server is measured too, in the same rounds (before/after comparisons
on a shared machine); figures are medians over the rounds.
"""

import os
import shutil
import statistics
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import numpy as np

from tensorflow_serving.benchmarks import h2load
from tensorflow_serving.benchmarks import mnist_model
from tensorflow_serving.benchmarks import payloads
from tensorflow_serving.benchmarks import procstat
from tensorflow_serving.benchmarks import report
from tensorflow_serving.model_servers.test_util import server_runner

flags.DEFINE_float("duration_s", 10.0, "Measured seconds per cell.")
flags.DEFINE_float("warmup_s", 2.0, "Unmeasured seconds per call before its cells.")
flags.DEFINE_list("concurrency", ["1", "8"], "h2load clients (one stream each).")
flags.DEFINE_list("calls", [], "Measure only these calls, e.g. 'mnist Predict' "
                  "(default: all of them).")
flags.DEFINE_integer("rounds", 3, "Rounds; each starts every server afresh.")
flags.DEFINE_string("baseline_binary", "", "Another model server to measure in the "
                    "same rounds (e.g. one built from an earlier commit).")
flags.DEFINE_integer("training_iteration", 100, "mnist_saved_model --training_iteration.")
flags.DEFINE_string("work_dir", "", "Keep models, bodies and logs here (default: a "
                    "temporary directory, removed at the end).")

FLAGS = flags.FLAGS

_CLASSIFY = "tensorflow/serving/classify"
_CONFIG = """
model_config_list {{
  config {{ name: "mnist" base_path: "{mnist}" model_platform: "tensorflow" }}
  config {{ name: "hp2" base_path: "{hp2}" model_platform: "tensorflow" }}
}}
"""


def progress(message: str) -> None:
    sys.stdout.write(f"[bench] {message}\n")
    sys.stdout.flush()


def calls(image: np.ndarray) -> list:
    """(label, gRPC path, request) of every measured call."""
    x = np.array([[2.0]], dtype=np.float32)
    return [
        ("mnist Predict", payloads.GRPC_PREDICT_PATH, payloads.predict_request(
            "mnist", mnist_model.SIGNATURE, mnist_model.INPUT_ALIAS, image)),
        ("mnist Classify", payloads.GRPC_CLASSIFY_PATH, payloads.classify_request(
            "mnist", "serving_default", "x", image)),
        ("mnist MultiInference", payloads.GRPC_MULTI_INFERENCE_PATH,
         payloads.multi_inference_request("mnist", [("serving_default", _CLASSIFY)], "x",
                                          image)),
        ("hp2 Predict", payloads.GRPC_PREDICT_PATH,
         payloads.predict_request("hp2", "serving_default", "x", x)),
        ("hp2 Regress", payloads.GRPC_REGRESS_PATH,
         payloads.regress_request("hp2", "regress_x_to_y", "x", x)),
        ("hp2 Classify", payloads.GRPC_CLASSIFY_PATH,
         payloads.classify_request("hp2", "classify_x_to_y", "x", x)),
    ]


def check(port: int, path: str, message: bytes) -> bytes:
    import grpc  # pylint: disable=g-import-not-at-top
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        return channel.unary_unary(path)(message, timeout=30)


def measure(label, command, config, work_dir, cores, bodies, concurrency, results):
    """One server: every call's cells; appends (server, call, c, cpu_us, rps)."""
    server_cpu, client_cpu = cores
    if server_cpu is not None:  # pinned as h2load is (see h2load.run)
        command = ["taskset", "-c", str(server_cpu)] + list(command)
    server = server_runner.ServerRunner(
        [f"--model_config_file={config}"], command=command,
        log_path=os.path.join(work_dir, f"{label}.log"))
    try:
        server.start(["mnist", "hp2"], timeout=120)
        pid = procstat.serving_pid(server.process.pid)
        for name, path, body_file, message in bodies:
            frame_bytes = len(check(server.grpc_port, path, message)) + 5
            url = f"http://127.0.0.1:{server.grpc_port}{path}"

            def argv(clients, seconds):
                return h2load.command(url, clients=clients, duration_s=seconds,
                                      data_file=body_file, headers=payloads.GRPC_HEADERS)

            h2load.run(argv(max(concurrency), FLAGS.warmup_s), cpu=client_cpu,
                       timeout=FLAGS.warmup_s + 120)
            for clients in concurrency:
                before = procstat.cpu_seconds(pid)
                output = h2load.run(argv(clients, FLAGS.duration_s), cpu=client_cpu,
                                    timeout=FLAGS.duration_s + 120)
                after = procstat.cpu_seconds(pid)
                summary = h2load.parse_summary(output)
                errors = h2load.http_errors(summary) + h2load.grpc_errors_from_data(
                    summary, frame_bytes)
                if errors:
                    raise RuntimeError(f"{label} {name}: {errors} failed calls")
                cpu_us = 1e6 * (after - before) / max(1, summary.done)
                results.append((label, name, clients, cpu_us, summary.req_per_s))
                progress(f"{label} {name} c={clients}: {summary.req_per_s:.0f} req/s, "
                         f"CPU {cpu_us:.1f} us/req")
    finally:
        server.stop()


def render(results, servers, names, concurrency) -> str:
    rows = []
    for label in servers:
        rows.append(label)
        for name in names:
            model = name.split()[0]
            for clients in concurrency:
                def median(index, call=name):
                    values = [r[index] for r in results
                              if r[0] == label and r[1] == call and r[2] == clients]
                    return statistics.median(values) if values else None
                cpu, predict_cpu = median(3), median(3, f"{model} Predict")
                rows.append([name, clients, report.fmt(median(4), 0), report.fmt(cpu, 1),
                             report.fmt(cpu / predict_cpu if cpu and predict_cpu else None,
                                        2)])
    return report.format_table(["call", "c", "req/s", "CPU us/req", "x Predict"], rows,
                               [False, True, True, True, True])


def main(argv):
    del argv
    if h2load.find_h2load() is None:
        sys.stderr.write(h2load.INSTALL_HINT + "\n")
        return 1
    concurrency = sorted({int(c) for c in FLAGS.concurrency})
    cores = sorted(os.sched_getaffinity(0))
    pinning = (cores[0], cores[1]) if len(cores) >= 2 else (None, None)
    work_dir = FLAGS.work_dir or tempfile.mkdtemp(prefix="inference_benchmark_")
    os.makedirs(work_dir, exist_ok=True)
    servers = {"server": server_runner.program_command(server_runner.SERVER)}
    if FLAGS.baseline_binary:
        servers = {"baseline": [os.path.abspath(FLAGS.baseline_binary)], **servers}
    try:
        mnist = os.path.join(work_dir, "mnist")
        if not os.path.isdir(mnist):
            progress("exporting the MNIST model with mnist_saved_model")
            mnist_model.export_model(mnist, training_iteration=FLAGS.training_iteration,
                                     log_path=os.path.join(work_dir, "export.log"))
        hp2 = os.path.join(work_dir, "hp2")
        if not os.path.isdir(hp2):
            server_runner.export_half_plus_two_versions(hp2, {1: 2.0})
        config = os.path.join(work_dir, "models.config")
        with open(config, "w", encoding="utf-8") as f:
            f.write(_CONFIG.format(mnist=mnist, hp2=hp2))
        image, _ = mnist_model.load_digit(0)
        bodies = []
        for i, (name, path, request) in enumerate(calls(image)):
            if FLAGS.calls and name not in FLAGS.calls:
                continue
            message = request.SerializeToString()
            body_file = os.path.join(work_dir, f"call{i}.grpc")
            with open(body_file, "wb") as f:
                f.write(payloads.grpc_frame(message))
            bodies.append((name, path, body_file, message))
        progress(f"{len(cores)} cores; server on core {pinning[0]}, h2load on core "
                 f"{pinning[1]}; {FLAGS.rounds} rounds of {len(bodies)} calls")
        results = []
        for round_number in range(FLAGS.rounds):
            for label, command in servers.items():
                progress(f"round {round_number + 1}: {label}")
                measure(label, command, config, work_dir, pinning, bodies, concurrency,
                        results)
    except RuntimeError as e:
        sys.stderr.write(f"inference_benchmark: {e}\n")
        return 1
    finally:
        if not FLAGS.work_dir:
            shutil.rmtree(work_dir, ignore_errors=True)
    sys.stdout.write("\n" + render(results, list(servers), [b[0] for b in bodies],
                                   concurrency) + "\n")
    return 0


if __name__ == "__main__":
    app.run(main)
