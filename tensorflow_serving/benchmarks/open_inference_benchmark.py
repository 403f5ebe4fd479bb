r"""The Open Inference Protocol against upstream's API, batch-1 MNIST, one run.

  tools/bazel run //tensorflow_serving/benchmarks:open_inference_benchmark -- \
      [--measurement_ms=3000] [--cpu_rounds=15] [--cpu_burst_ms=300]

The server runs on one core (core 0), every client on another (core 1).

1. NVIDIA's perf_analyzer (the binary tritonclient's wheel ships, with
   libcudart from the nvidia-cuda-runtime-cu12 wheel; no GPU is used) drives
   the server with its default (v2) protocol over HTTP and over gRPC, and in
   --service-kind=tfserving mode (upstream's Predict over gRPC). Its
   throughput and latency lines are printed as it prints them.
2. The server CPU of each path: h2load sends the same digit on one
   connection as /v1 Predict JSON, v2 JSON and v2 binary data over REST and
   as v2 ModelInfer and TF Serving Predict over gRPC, in bursts of
   `--cpu_burst_ms`, every path once a round for `--cpu_rounds` rounds, the
   order rotated each round. A path's cost in a round is the server's CPU
   time (its threads' schedstat, in nanoseconds) over the requests h2load
   completed, so the clients' own cost is left out.
3. The peer: KServe's own Python ModelServer (kserve_peer_server.py, in
   KServe's SDK venv) serving the same SavedModel's signature over v2, on the
   same core, beside this server. perf_analyzer cannot drive it (KServe has
   no model configuration extension), so h2load sends both servers the same
   v2 JSON request over REST (HTTP/1.1) and the same ModelInferRequest over
   gRPC, on 1 and on 8 connections (`--peer_concurrency`), in turns of
   `--peer_duration_s` for `--peer_rounds` rounds, the servers' order rotated
   each round. Each ratio is the median of the same-round ratios, which the
   machine's drift does not move: issue 20's target is at least 5x KServe's
   req/s on each.

The CPU ratios are the medians of the same-round ratios of step 2's paths
against issue 20's targets: v2 gRPC and v2 REST at most 1.2x Predict's CPU
on the same transport, and v2 binary REST at least as fast (no more CPU) as
v2 JSON. Paths measured one after another in whole runs drifted apart with
the host's speed (v2 REST JSON against /v1 came out 1.05x in one run and
1.52x in the next). perf_analyzer's runs show their server CPU too (the
server's CPU time from /proc over the requests its Prometheus
request_count counted).
With --nopeer the KServe comparison is left out.

perf_analyzer sends what model metadata describes, and the tutorial's MNIST
model's serving_default is its classify signature (serialized tf.Examples),
so the benchmark serves a copy of it whose serving_default is
predict_images (the signature the tutorial's client calls). perf_analyzer's
tfserving mode reads the input's shape as [-1, 784] and needs --shape for
the dynamic batch dimension, as it would from upstream's server.
"""

import dataclasses
import http.client
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import numpy as np

from tensorflow_serving.benchmarks import h2load
from tensorflow_serving.benchmarks import method_calls
from tensorflow_serving.benchmarks import mnist_model
from tensorflow_serving.benchmarks import payloads
from tensorflow_serving.benchmarks import perf_analyzer
from tensorflow_serving.benchmarks import procstat
from tensorflow_serving.benchmarks import stats
from tensorflow_serving.model_servers import server_launcher
from tensorflow_serving.util import runfiles_util
from tensorflow_serving.util import wait

flags.DEFINE_integer("measurement_ms", 3000, "perf_analyzer's --measurement-interval.")
# perf_analyzer's own default (10%, 10 windows) gives up on a machine whose
# speed moves between windows, as shared VMs' does, and the run is lost.
flags.DEFINE_integer("stability_percent", 25, "perf_analyzer's --stability-percentage.")
flags.DEFINE_integer("max_trials", 20, "perf_analyzer's --max-trials.")
flags.DEFINE_integer("cpu_rounds", 15, "Rounds of the server-CPU comparison of the paths.")
flags.DEFINE_integer("cpu_burst_ms", 300, "h2load's milliseconds per path and round of the "
                     "server-CPU comparison.")
flags.DEFINE_integer("training_iteration", 100, "mnist_saved_model --training_iteration.")
flags.DEFINE_bool("peer", True, "Also compare with KServe's Python ModelServer.")
flags.DEFINE_integer("peer_rounds", 5, "Rounds of turns of the KServe comparison.")
flags.DEFINE_float("peer_duration_s", 3.0, "h2load's seconds per server, transport and "
                   "concurrency.")
flags.DEFINE_list("peer_concurrency", ["1", "8"], "h2load's connections (one request "
                  "in flight each) against each server.")
flags.DEFINE_string("work_dir", "", "Keep the model and logs here (default: a temporary "
                    "directory, removed at the end).")

FLAGS = flags.FLAGS

MODEL = "mnist"
_METRICS_PATH = "/monitoring/prometheus/metrics"
_REQUEST_COUNT = re.compile(
    r'^:tensorflow:serving:request_count\{model_name="' + MODEL + r'",status="OK"\} (\S+)$',
    re.M)
CPU_RATIO_TARGET = 1.2
PEER_RATIO_TARGET = 5.0
_PEER_SCRIPT = "tensorflow_serving/benchmarks/kserve_peer_server.py"
_MODEL_INFER = "/inference.GRPCInferenceService/ModelInfer"


def progress(text: str) -> None:
    sys.stderr.write(f"open_inference_benchmark: {text}\n")
    sys.stderr.flush()


def export_model(work_dir: str) -> str:
    """The tutorial's MNIST with serving_default = predict_images; returns
    the base path."""
    from tensorflow.core.protobuf import saved_model_pb2  # pylint: disable=g-import-not-at-top
    tutorial = os.path.join(work_dir, "tutorial_mnist")
    if not os.path.isdir(tutorial):
        progress("exporting the MNIST model with mnist_saved_model")
        mnist_model.export_model(tutorial, training_iteration=FLAGS.training_iteration,
                                 log_path=os.path.join(work_dir, "export.log"))
    base = os.path.join(work_dir, "mnist")
    shutil.rmtree(base, ignore_errors=True)
    shutil.copytree(os.path.join(tutorial, "1"), os.path.join(base, "1"))
    path = os.path.join(base, "1", "saved_model.pb")
    saved_model = saved_model_pb2.SavedModel()
    with open(path, "rb") as f:
        saved_model.ParseFromString(f.read())
    signatures = saved_model.meta_graphs[0].signature_def
    signatures["serving_default"].CopyFrom(signatures[mnist_model.SIGNATURE])
    with open(path, "wb") as f:
        f.write(saved_model.SerializeToString())
    return base


@dataclasses.dataclass
class Path:
    name: str
    requests: int
    cpu_s: float
    wall_s: float
    lines: list

    @property
    def cpu_us_per_req(self) -> float:
        return self.cpu_s / self.requests * 1e6 if self.requests else float("nan")

    @property
    def req_per_s(self) -> float:
        return self.requests / self.wall_s if self.wall_s else float("nan")


class Server:
    """The server on core 0 with Prometheus metrics on."""

    def __init__(self, work_dir, base, server_cpu):
        monitoring = os.path.join(work_dir, "monitoring.config")
        with open(monitoring, "w", encoding="utf-8") as f:
            f.write('prometheus_config { enable: true path: "%s" }\n' % _METRICS_PATH)
        command = server_launcher.server_command()
        if server_cpu is not None:
            command = ["taskset", "-c", str(server_cpu)] + command
        self.runner = server_launcher.ServerRunner(
            [f"--model_name={MODEL}", f"--model_base_path={base}",
             f"--monitoring_config_file={monitoring}"], command=command,
            log_path=os.path.join(work_dir, "server.log"))

    def start(self):
        self.runner.start([MODEL], timeout=120)
        self.pid = procstat.serving_pid(self.runner.process.pid)

    def request_count(self) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", self.runner.rest_port, timeout=30)
        try:
            connection.request("GET", _METRICS_PATH)
            text = connection.getresponse().read().decode()
        finally:
            connection.close()
        match = _REQUEST_COUNT.search(text)
        return int(float(match.group(1))) if match else 0

    def measure(self, name, run):
        """Runs `run()` (which returns output lines) and what it cost the server."""
        count, cpu, start = self.request_count(), procstat.cpu_seconds(self.pid), time.monotonic()
        lines = run()
        wall = time.monotonic() - start
        cpu = procstat.cpu_seconds(self.pid) - cpu
        return Path(name, self.request_count() - count, cpu, wall, lines)


def run_perf_analyzer(command, env, client_cpu, args):
    argv = list(command) + ["-m", MODEL, "--measurement-interval", str(FLAGS.measurement_ms),
                            "--stability-percentage", str(FLAGS.stability_percent),
                            "--max-trials", str(FLAGS.max_trials)] + args
    if client_cpu is not None:
        argv = ["taskset", "-c", str(client_cpu)] + argv
    return perf_analyzer.client_lines(perf_analyzer.run(argv, env))


def rest_bodies(image):
    """(path, body, headers) of the digit as /v1 JSON, v2 JSON and v2 binary."""
    v1 = json.dumps({"signature_name": mnist_model.SIGNATURE,
                     "instances": image.tolist()}).encode()
    v2_json = json.dumps({"inputs": [{"name": mnist_model.INPUT_ALIAS, "datatype": "FP32",
                                      "shape": list(image.shape), "data": image.ravel().tolist()}],
                          "outputs": [{"name": mnist_model.OUTPUT_ALIAS,
                                       "parameters": {"binary_data": False}}]}).encode()
    header = json.dumps({"inputs": [{"name": mnist_model.INPUT_ALIAS, "datatype": "FP32",
                                     "shape": list(image.shape),
                                     "parameters": {"binary_data_size": image.nbytes}}],
                         "outputs": [{"name": mnist_model.OUTPUT_ALIAS,
                                      "parameters": {"binary_data": True}}]}).encode()
    binary = header + image.astype("<f4").tobytes()
    return {
        "REST /v1 Predict JSON": (f"/v1/models/{MODEL}:predict", v1, {}),
        "REST v2 infer JSON": (f"/v2/models/{MODEL}/infer", v2_json, {}),
        "REST v2 infer binary": (f"/v2/models/{MODEL}/infer", binary,
                                 {"Inference-Header-Content-Length": str(len(header))}),
    }


def cpu_paths(image, work_dir, rest_port, grpc_port):
    """{name: (url, body file, headers, http1, gRPC response frame bytes)} of
    the paths whose server CPU is compared: the REST bodies, v2 ModelInfer
    with the tensor as raw bytes (as tritonclient and perf_analyzer send it),
    and TF Serving's Predict."""
    from tritonclient.grpc import service_pb2  # pylint: disable=g-import-not-at-top
    paths = {}
    for number, (name, (path, body, headers)) in enumerate(rest_bodies(image).items()):
        body_file = os.path.join(work_dir, f"cpu_rest_{number}.bin")
        with open(body_file, "wb") as f:
            f.write(body)
        paths[name] = (f"http://127.0.0.1:{rest_port}{path}", body_file,
                       tuple(f"{k}: {v}" for k, v in headers.items()), True, None)
    infer = service_pb2.ModelInferRequest(model_name=MODEL)
    infer.inputs.add(name=mnist_model.INPUT_ALIAS, datatype="FP32", shape=list(image.shape))
    infer.raw_input_contents.append(image.astype("<f4").tobytes())
    predict = payloads.predict_request(MODEL, mnist_model.SIGNATURE, mnist_model.INPUT_ALIAS,
                                       image)
    for name, method, message in (
            ("gRPC v2 ModelInfer", _MODEL_INFER, infer.SerializeToString()),
            ("gRPC TF Serving Predict", payloads.GRPC_PREDICT_PATH, predict.SerializeToString())):
        body_file = os.path.join(work_dir, f"cpu_{method.rsplit('/', 1)[1]}.bin")
        with open(body_file, "wb") as f:
            f.write(payloads.grpc_frame(message))
        frame = len(method_calls.check(grpc_port, method, message)) + 5
        paths[name] = (f"http://127.0.0.1:{grpc_port}{method}", body_file,
                       payloads.GRPC_HEADERS, False, frame)
    return paths


def cpu_rounds(pid, paths, client_cpu, rounds, burst_s):
    """{name: [server CPU us per request, one per round]}: each round runs a
    burst of each path on one connection, in an order rotated round by
    round, reading the server's CPU from its threads' schedstat. The paths
    of a round see the same machine, so the median of same-round ratios is
    not moved by the host's drift, as whole runs one after another were."""
    names = list(paths)
    cpu = {name: [] for name in names}
    for number in range(rounds + 1):  # the first round warms up
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            url, body_file, headers, http1, frame = paths[name]
            before = procstat.cpu_nanos(pid)
            output = h2load.run(h2load.command(url, clients=1, duration_s=burst_s,
                                               data_file=body_file, headers=headers,
                                               http1=http1),
                                cpu=client_cpu, timeout=burst_s + 120)
            spent = procstat.cpu_nanos(pid) - before
            summary = h2load.parse_summary(output)
            errors = h2load.http_errors(summary)
            if frame:
                errors += h2load.grpc_errors_from_data(summary, frame)
            if errors or not summary.done:
                raise RuntimeError(f"{name}: {errors} failed of {summary.total}")
            if number:
                cpu[name].append(spent / 1e3 / summary.done)
    return cpu


class KServePeer:
    """KServe's ModelServer on the server's core, serving `base`/1's
    predict_images as MODEL."""

    def __init__(self, work_dir, base, server_cpu):
        python = runfiles_util.runfile("kserve_client/python")
        script = runfiles_util.runfile(f"{server_launcher.WORKSPACE}/{_PEER_SCRIPT}")
        if not python or not script:
            raise RuntimeError("KServe's SDK venv (@kserve_client//:python) is not in the "
                               "runfiles; run with tools/bazel run, or pass --nopeer")
        self.rest_port = server_launcher.pick_unused_port()
        self.grpc_port = server_launcher.pick_unused_port()
        while self.grpc_port == self.rest_port:
            self.grpc_port = server_launcher.pick_unused_port()
        command = [python, script, os.path.join(base, "1"), MODEL, mnist_model.SIGNATURE,
                   str(self.rest_port), str(self.grpc_port)]
        if server_cpu is not None:
            command = ["taskset", "-c", str(server_cpu)] + command
        self.process = server_launcher.Process(
            command, log_path=os.path.join(work_dir, "kserve_peer.log"), new_session=True)

    def _ready(self):
        if self.process.poll() is not None:
            raise RuntimeError(f"KServe's ModelServer exited:\n{self.process.output()[-4000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.rest_port, timeout=5)
            connection.request("GET", f"/v2/models/{MODEL}/ready")
            return connection.getresponse().status == 200
        except OSError:
            return False

    def wait_until_ready(self, timeout=180.0):
        wait.wait_for(self._ready, "KServe's ModelServer to be ready", timeout, 0.2)

    def stop(self):
        self.process.stop()


@dataclasses.dataclass
class PeerCell:
    server: str
    transport: str
    clients: int
    rounds: list  # h2load's req/s, one per round


def peer_bodies(image, work_dir):
    """The files h2load sends both servers: the digit as a v2 JSON request
    and as a framed ModelInferRequest; and the request's bytes."""
    from tritonclient.grpc import service_pb2  # pylint: disable=g-import-not-at-top
    rest_body = os.path.join(work_dir, "peer_rest.json")
    with open(rest_body, "wb") as f:
        f.write(json.dumps({"inputs": [{
            "name": mnist_model.INPUT_ALIAS, "datatype": "FP32", "shape": list(image.shape),
            "data": image.ravel().tolist()}]}).encode())
    request = service_pb2.ModelInferRequest(model_name=MODEL)
    tensor = request.inputs.add(name=mnist_model.INPUT_ALIAS, datatype="FP32",
                                shape=list(image.shape))
    tensor.contents.fp32_contents.extend(image.ravel().tolist())
    message = request.SerializeToString()
    grpc_body = os.path.join(work_dir, "peer_grpc.bin")
    with open(grpc_body, "wb") as f:
        f.write(payloads.grpc_frame(message))
    return rest_body, grpc_body, message


def peer_turn(label, transport, clients, ports, bodies, frame_bytes, client_cpu):
    """h2load's req/s of one server, transport and connection count, after a
    warm-up second; any failed request fails the benchmark."""
    rest_port, grpc_port = ports
    rest_body, grpc_body, _ = bodies
    if transport == "REST":
        url, body = f"http://127.0.0.1:{rest_port}/v2/models/{MODEL}/infer", rest_body
        headers, http1 = payloads.REST_HEADERS, True
    else:
        url, body = f"http://127.0.0.1:{grpc_port}{_MODEL_INFER}", grpc_body
        headers, http1 = payloads.GRPC_HEADERS, False
    for seconds in (1.0, FLAGS.peer_duration_s):  # warm-up, then measured
        output = h2load.run(h2load.command(url, clients=clients, duration_s=seconds,
                                           data_file=body, headers=headers, http1=http1),
                            cpu=client_cpu, timeout=seconds + 120)
    summary = h2load.parse_summary(output)
    errors = h2load.http_errors(summary)
    if transport == "gRPC":
        errors += h2load.grpc_errors_from_data(summary, frame_bytes)
    if errors or not summary.done:
        raise RuntimeError(f"{label} {transport} c={clients}: {errors} failed of "
                           f"{summary.total}")
    return summary.req_per_s


def paired_peer_runs(servers, image, work_dir, client_cpu):
    """h2load's req/s of v2 REST JSON and v2 gRPC on each of `servers`
    ({label: (rest port, gRPC port)}, all up on the server core, only the
    measured one under load), in `--peer_rounds` rounds of turns, the
    servers' order rotated each round: a same-round ratio sees the machine's
    drift on both sides alike."""
    bodies = peer_bodies(image, work_dir)
    frames = {label: len(method_calls.check(ports[1], _MODEL_INFER, bodies[2])) + 5
              for label, ports in servers.items()}
    labels = list(servers)
    rounds = {}
    for number in range(FLAGS.peer_rounds):
        order = labels[number % len(labels):] + labels[:number % len(labels)]
        for transport in ("REST", "gRPC"):
            for clients in sorted({int(c) for c in FLAGS.peer_concurrency}):
                for label in order:
                    rate = peer_turn(label, transport, clients, servers[label], bodies,
                                     frames[label], client_cpu)
                    rounds.setdefault((label, transport, clients), []).append(rate)
                    progress(f"round {number + 1}: {label} v2 {transport} c={clients}: "
                             f"{rate:.0f} req/s")
    return [PeerCell(label, transport, clients, rates)
            for (label, transport, clients), rates in rounds.items()]


def verdict(ratio, target, at_most=True) -> str:
    met = ratio <= target if at_most else ratio >= target
    return "MET" if met else "NOT MET"


def render(paths, cpu, peer_cells, cpu_model) -> str:
    """`paths`: perf_analyzer's runs; `cpu`: cpu_rounds()'s figures."""
    out = [f"server on one core; CPU: {cpu_model}", ""]
    for path in paths:
        out.append(f"{path.name}: {path.requests} requests, {path.req_per_s:.0f} req/s, "
                   f"server CPU {path.cpu_us_per_req:.1f} us/request")
        out.extend("    " + line.strip() for line in path.lines)
    out.append("")
    for name, rounds in cpu.items():
        out.append(f"{name}, one connection: server CPU {statistics.median(rounds):.1f} "
                   f"us/request (median of {len(rounds)} rounds; "
                   f"{min(rounds):.1f}-{max(rounds):.1f})")
    out.append("")

    def ratio(a, b):
        return stats.paired_ratio(cpu[a], cpu[b])

    checks = [
        ("v2 gRPC ModelInfer / TF Serving gRPC Predict, server CPU per request "
         "(median of same-round ratios)",
         ratio("gRPC v2 ModelInfer", "gRPC TF Serving Predict"),
         f"<= {CPU_RATIO_TARGET}", verdict(
             ratio("gRPC v2 ModelInfer", "gRPC TF Serving Predict"), CPU_RATIO_TARGET)),
        ("v2 REST infer (JSON) / REST /v1 Predict (JSON), server CPU per request "
         "(median of same-round ratios)",
         ratio("REST v2 infer JSON", "REST /v1 Predict JSON"), f"<= {CPU_RATIO_TARGET}",
         verdict(ratio("REST v2 infer JSON", "REST /v1 Predict JSON"), CPU_RATIO_TARGET)),
        ("v2 REST binary / v2 REST JSON, server CPU per request (median of same-round "
         "ratios)",
         ratio("REST v2 infer binary", "REST v2 infer JSON"), "<= 1.0",
         verdict(ratio("REST v2 infer binary", "REST v2 infer JSON"), 1.0)),
    ]
    if peer_cells:
        rounds = {(c.server, c.transport, c.clients): c.rounds for c in peer_cells}
        for transport in ("REST", "gRPC"):
            for clients in sorted({c.clients for c in peer_cells}):
                ours = rounds[("ours", transport, clients)]
                peer = rounds[("kserve", transport, clients)]
                share = stats.paired_ratio(ours, peer)
                out.insert(len(out) - 1, f"h2load v2 {transport}, {clients} connection(s), "
                           f"req/s in {len(ours)} rounds: this server "
                           f"{' '.join(f'{r:.0f}' for r in ours)}; KServe ModelServer "
                           f"{' '.join(f'{r:.0f}' for r in peer)}")
                checks.append((f"v2 {transport} req/s at {clients} connection(s), this server "
                               f"/ KServe's Python ModelServer (median of same-round ratios)",
                               share, f">= {PEER_RATIO_TARGET:g}",
                               verdict(share, PEER_RATIO_TARGET, at_most=False)))
    for name, value, target, met in checks:
        out.append(f"{name}: {value:.2f} (target {target}) {met}")
    return "\n".join(out)


def main(argv):
    del argv
    try:
        command, env = perf_analyzer.command()
    except RuntimeError as e:
        sys.stderr.write(f"open_inference_benchmark: {e}\n")
        return 1
    cores = sorted(os.sched_getaffinity(0))
    server_cpu, client_cpu = (cores[0], cores[1]) if len(cores) >= 2 else (None, None)
    work_dir = FLAGS.work_dir or tempfile.mkdtemp(prefix="open_inference_benchmark_")
    os.makedirs(work_dir, exist_ok=True)
    server = None
    try:
        base = export_model(work_dir)
        server = Server(work_dir, base, server_cpu)
        server.start()
        image, _ = mnist_model.load_digit(0)
        image = np.asarray(image, np.float32)
        if client_cpu is not None:
            # The HTTP client below is this process: off the server's core.
            os.sched_setaffinity(0, {client_cpu})
        progress(f"server on core {server_cpu}, clients on core {client_cpu}")
        grpc_address = f"127.0.0.1:{server.runner.grpc_port}"
        rest_address = f"127.0.0.1:{server.runner.rest_port}"
        paths = []
        for name, args in [
                ("perf_analyzer v2 HTTP", ["-u", rest_address, "-i", "http"]),
                ("perf_analyzer v2 gRPC", ["-u", grpc_address, "-i", "grpc"]),
                ("perf_analyzer tfserving gRPC Predict",
                 ["-u", grpc_address, "-i", "grpc", "--service-kind=tfserving",
                  f"--shape={mnist_model.INPUT_ALIAS}:1,784"])]:
            progress(name)
            paths.append(server.measure(
                name, lambda a=args: run_perf_analyzer(command, env, client_cpu, a)))
        progress(f"server CPU per path: {FLAGS.cpu_rounds} rounds of "
                 f"{FLAGS.cpu_burst_ms} ms bursts")
        if h2load.find_h2load() is None:
            raise RuntimeError(h2load.INSTALL_HINT)
        cpu = cpu_rounds(server.pid, cpu_paths(image, work_dir, server.runner.rest_port,
                                               server.runner.grpc_port),
                         client_cpu, FLAGS.cpu_rounds, FLAGS.cpu_burst_ms / 1000)
        peer_cells = []
        if FLAGS.peer:
            progress("starting KServe's ModelServer on the same SavedModel")
            peer = KServePeer(work_dir, base, server_cpu)
            try:
                peer.wait_until_ready()
                peer_cells = paired_peer_runs(
                    {"ours": (server.runner.rest_port, server.runner.grpc_port),
                     "kserve": (peer.rest_port, peer.grpc_port)},
                    image, work_dir, client_cpu)
            finally:
                peer.stop()
    except (RuntimeError, AssertionError) as e:
        sys.stderr.write(f"open_inference_benchmark: {e}\n")
        return 1
    finally:
        if server is not None:
            server.runner.stop()
        if not FLAGS.work_dir:
            shutil.rmtree(work_dir, ignore_errors=True)
    sys.stdout.write("\n" + render(paths, cpu, peer_cells, procstat.cpu_model()) + "\n")
    return 0


if __name__ == "__main__":
    app.run(main)
