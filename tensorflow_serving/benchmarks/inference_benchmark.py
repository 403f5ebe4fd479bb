r"""Server CPU per request of each PredictionService method.

  tools/bazel run //tensorflow_serving/benchmarks:inference_benchmark -- \
      [--duration_s=10] [--concurrency=1,8] [--rounds=3] [--calls="mnist Predict"] \
      [--baseline_binary=/path/to/another/tensorflow_model_server]

Exports the tutorial's MNIST model (with mnist_saved_model) and
half_plus_two, serves both from one server, and drives it with h2load, one
gRPC body per call (see method_calls.py for the calls). The server runs on
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

from tensorflow_serving.benchmarks import h2load
from tensorflow_serving.benchmarks import method_calls
from tensorflow_serving.benchmarks import mnist_model
from tensorflow_serving.benchmarks import report
from tensorflow_serving.model_servers import server_launcher

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


def render(results, servers, names, concurrency) -> str:
    rows = []
    for label in servers:
        rows.append(label)
        for name in names:
            model = name.split()[0]
            for clients in concurrency:
                def median(index, call=name):
                    values = [getattr(r, index) for r in results
                              if r.server == label and r.call == call
                              and r.concurrency == clients]
                    return statistics.median(values) if values else None
                cpu = median("cpu_us_per_req")
                predict_cpu = median("cpu_us_per_req", f"{model} Predict")
                rows.append([name, clients, report.fmt(median("req_per_s"), 0),
                             report.fmt(cpu, 1),
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
    servers = {"server": server_launcher.program_command(server_launcher.SERVER)}
    if FLAGS.baseline_binary:
        servers = {"baseline": [os.path.abspath(FLAGS.baseline_binary)], **servers}
    try:
        mnist = os.path.join(work_dir, "mnist")
        if not os.path.isdir(mnist):
            method_calls.progress("exporting the MNIST model with mnist_saved_model")
            mnist_model.export_model(mnist, training_iteration=FLAGS.training_iteration,
                                     log_path=os.path.join(work_dir, "export.log"))
        hp2 = os.path.join(work_dir, "hp2")
        if not os.path.isdir(hp2):
            method_calls.export_half_plus_two(hp2)
        config = method_calls.write_config(work_dir, mnist, hp2)
        image, _ = mnist_model.load_digit(0)
        bodies = method_calls.write_bodies(work_dir, image, FLAGS.calls)
        method_calls.progress(f"{len(cores)} cores; server on core {pinning[0]}, h2load "
                              f"on core {pinning[1]}; {FLAGS.rounds} rounds of "
                              f"{len(bodies)} calls")
        results = []
        for round_number in range(FLAGS.rounds):
            for label, command in servers.items():
                method_calls.progress(f"round {round_number + 1}: {label}")
                results += method_calls.measure(
                    label, command, config, work_dir, pinning, bodies, concurrency,
                    warmup_s=FLAGS.warmup_s, duration_s=FLAGS.duration_s)
    except RuntimeError as e:
        sys.stderr.write(f"inference_benchmark: {e}\n")
        return 1
    finally:
        if not FLAGS.work_dir:
            shutil.rmtree(work_dir, ignore_errors=True)
    sys.stdout.write("\n" + render(results, list(servers), [b.name for b in bodies],
                                   concurrency) + "\n")
    return 0


if __name__ == "__main__":
    app.run(main)
