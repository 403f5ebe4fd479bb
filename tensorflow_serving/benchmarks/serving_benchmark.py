r"""Benchmarks tensorflow_model_server on the tutorial's MNIST model.

  tools/bazel run //tensorflow_serving/benchmarks:serving_benchmark -- \
      [--duration_s=10] [--concurrency=1,8,32] [--skip_rest] [--skip_batching] \
      [--soak_s=60] [--server_binary=/path/to/tensorflow_model_server] \
      [--baseline_binary=/path/to/another/tensorflow_model_server] \
      [--output_json=/tmp/bench.json] [--docs_page=docs/performance.md]

One run exports the model with mnist_saved_model, starts the server binary as
a subprocess on free ports, drives it with h2load (gRPC Predict over h2c and
REST predict over HTTP/1.1, with batching off and on, at each concurrency) and
measures, in the same run, what the figures are divided by: a grpcio server
answering Predict with canned bytes and HTTP/1.1 servers answering REST
predict with a canned body (the standard library's, and a bare asyncio
responder; see canned_rest_server.py): what Python alone can do here; the model
called in-process in a tight loop (what the model costs) and, with
--baseline_binary, another build of the server. It also measures the server
CPU of Classify and Regress against Predict's (method_calls.py), and a REST
predict whose answer is about 4 MB of JSON (large_output_model.py). The
report ends with issue 23's targets, each MET or NOT MET.
Absolute numbers drift on a shared machine; the ratios drift much less.

With two or more cores the servers run on core 0 and h2load on core 1.

Every child starts without a preexec function (pinned with taskset instead),
so subprocess execs it with vfork: no Python runs in a forked copy of this
process, whose gRPC client threads would otherwise make the child crash.
"""

import concurrent.futures
import dataclasses
import glob
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The servers' kernels (see tensorflow_model_server.py), for the in-process
# ceiling; the servers inherit it.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import numpy as np

from docs import generated_block
from tensorflow_serving.benchmarks import batching_config
from tensorflow_serving.benchmarks import benchmark_plots
from tensorflow_serving.benchmarks import h2load
from tensorflow_serving.benchmarks import method_calls
from tensorflow_serving.benchmarks import mnist_model
from tensorflow_serving.benchmarks import payloads
from tensorflow_serving.benchmarks import procstat
from tensorflow_serving.benchmarks import report
from tensorflow_serving.benchmarks import stats
from tensorflow_serving.model_servers import server_launcher

MODEL_NAME = "mnist"
DOCS_BLOCK = "serving_benchmark"
LARGE_MODEL_NAME = "large"

flags.DEFINE_float("duration_s", 10.0, "Measured seconds per cell.")
flags.DEFINE_float("warmup_s", 2.0, "Unmeasured h2load seconds before each "
                   "server's cells (per API).")
flags.DEFINE_list("concurrency", ["1", "8", "32"], "h2load clients (one stream "
                  "each) per cell.")
flags.DEFINE_bool("skip_rest", False, "Skip the REST cells.")
flags.DEFINE_bool("skip_batching", False, "Skip the --enable_batching server.")
flags.DEFINE_bool("skip_ceilings", False, "Skip the canned-server and in-process "
                  "ceilings (ratios are then not printed).")
flags.DEFINE_float("soak_s", 0.0, "If > 0, a separate gRPC c=8 phase of this "
                   "many seconds on the batching-off server; RSS before/after.")
flags.DEFINE_string("server_binary", "", "Model server to benchmark (default: "
                    "this repo's, from the runfiles); e.g. upstream's C++ "
                    "tensorflow_model_server.")
flags.DEFINE_string("baseline_binary", "", "Another model server (e.g. one built "
                    "from an earlier commit) whose gRPC Predict and 4 MB REST "
                    "predict are measured in the same run, for the 'no slower "
                    "than before' target.")
flags.DEFINE_bool("skip_methods", False, "Skip Classify and Regress against Predict.")
flags.DEFINE_bool("skip_large", False, "Skip the REST predict with a 4 MB answer.")
flags.DEFINE_bool("skip_logging", False, "Skip gRPC Predict with request logging.")
flags.DEFINE_integer("logging_rounds", 9, "Rounds of the request-logging servers loaded "
                     "at once, each of --duration_s / 2.")
flags.DEFINE_string("model_base_path", "", "Serve this existing MNIST export "
                    "(base dir with numeric versions) instead of exporting one "
                    "with mnist_saved_model.")
flags.DEFINE_integer("training_iteration", 100, "mnist_saved_model "
                     "--training_iteration for the export.")
flags.DEFINE_string("output_json", "", "Also write the results here as JSON.")
flags.DEFINE_string("docs_page", "", "Also write the report, with the machine and "
                    "date, into this page's serving_benchmark block (a relative "
                    "path is taken from the workspace under `bazel run`).")
flags.DEFINE_string("from_json", "", "Measure nothing: report an earlier run's "
                    "--output_json (and write it to --docs_page).")
flags.DEFINE_integer("max_batch_size", 32, "Batching: max_batch_size.")
flags.DEFINE_integer("batch_timeout_micros", 1000, "Batching: batch_timeout_micros.")
flags.DEFINE_integer("num_batch_threads", 1, "Batching: num_batch_threads.")
flags.DEFINE_integer("max_enqueued_batches", 1000, "Batching: max_enqueued_batches.")
flags.DEFINE_bool("pin", True, "With 2+ cores, pin the servers to core 0 and "
                  "h2load to core 1.")
flags.DEFINE_float("startup_timeout_s", 120.0, "Give up if the model is not "
                   "AVAILABLE after this long.")
flags.DEFINE_string("work_dir", "", "Keep the model, bodies and logs here "
                    "(default: a temporary directory, removed at the end).")

FLAGS = flags.FLAGS


def progress(message: str) -> None:
    sys.stdout.write(f"[bench] {message}\n")
    sys.stdout.flush()


class Pinning:
    """Which cores the servers and h2load get (None: no pinning)."""

    def __init__(self, enabled: bool):
        cores = sorted(os.sched_getaffinity(0))
        self.server_cpu = cores[0] if enabled and len(cores) >= 2 else None
        self.client_cpu = cores[1] if enabled and len(cores) >= 2 else None

    def server_prefix(self) -> list[str]:
        """What a server's command is run under to pin it (see the module doc)."""
        if self.server_cpu is None:
            return []
        return ["taskset", "-c", str(self.server_cpu)]

    @property
    def cores(self) -> tuple:
        return self.server_cpu, self.client_cpu

    def describe(self) -> str:
        if self.server_cpu is None:
            return "no pinning"
        return f"servers on core {self.server_cpu}, h2load on core {self.client_cpu}"


def start_server(label, command, model_base_path, work_dir, pinning,
                 batching_file=None, model_name=MODEL_NAME, config_file=None
                 ) -> tuple[server_launcher.ServerRunner, float]:
    """Starts a model server on fresh ports, its log in work_dir/<label>.log;
    returns it and the seconds from its start to the model AVAILABLE.

    Raises:
      RuntimeError: the server exited, or the model was not AVAILABLE in time.
    """
    args = ([f"--model_config_file={config_file}"] if config_file else
            [f"--model_name={model_name}", f"--model_base_path={model_base_path}"])
    if batching_file:
        args += ["--enable_batching", f"--batching_parameters_file={batching_file}"]
    server = server_launcher.ServerRunner(
        args, command=pinning.server_prefix() + list(command),
        log_path=os.path.join(work_dir, f"{label}.log"))
    progress(f"starting {label}: {' '.join(server.argv)}")
    start = time.monotonic()
    try:
        server.start([model_name], timeout=FLAGS.startup_timeout_s)
    except RuntimeError as e:
        server.stop()
        tail = "".join(server.logs().splitlines(keepends=True)[-40:])
        raise RuntimeError(f"{' '.join(server.argv)}: {str(e).splitlines()[0]}\n"
                           f"--- server log ---\n{tail}") from None
    return server, time.monotonic() - start


def grpc_check(port: int, message: bytes) -> bytes:
    """One Predict with the benchmark's exact request bytes; the raw response."""
    import grpc  # pylint: disable=g-import-not-at-top
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(payloads.GRPC_PREDICT_PATH)  # bytes in, bytes out
        return call(message, timeout=30)


def rest_check(port: int, body: bytes, model_name: str = MODEL_NAME) -> bytes:
    """One REST predict with the benchmark's exact body; the raw answer."""
    import http.client  # pylint: disable=g-import-not-at-top
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", payloads.rest_predict_path(model_name), body,
                           {"Content-Type": "application/json"})
        response = connection.getresponse()
        raw = response.read()
        if response.status != 200:
            raise RuntimeError(f"REST predict answered {response.status}: "
                               f"{raw[:500].decode('utf-8', errors='replace')}")
        return raw
    finally:
        connection.close()


class Driver:
    """Runs h2load cells against one server."""

    def __init__(self, binary: str, pinning: Pinning, work_dir: str, bodies: dict):
        self._binary = binary
        self._pinning = pinning
        self._work_dir = work_dir
        self._bodies = bodies   # api -> (body file, headers, path, http1)
        self._runs = 0
        self._runs_lock = threading.Lock()  # cells may run at once

    def body(self, api) -> bytes:
        with open(self._bodies[api][0], "rb") as f:
            return f.read()

    def _argv(self, api, port, clients, duration_s, log_file=None):
        body_file, headers, path, http1 = self._bodies[api]
        return h2load.command(f"http://127.0.0.1:{port}{path}", clients=clients,
                              duration_s=duration_s, data_file=body_file,
                              headers=headers, http1=http1, log_file=log_file)

    def warmup(self, api, port, clients, duration_s):
        if duration_s > 0:
            h2load.run(self._argv(api, port, clients, duration_s),
                       binary=self._binary, cpu=self._pinning.client_cpu,
                       timeout=duration_s + 120)

    def cell(self, api, port, clients, duration_s, pid=None,
             response_frame_bytes=None) -> dict:
        """One measured run; the cell's dict (see report.render)."""
        with self._runs_lock:
            self._runs += 1
            run = self._runs
        log_file = os.path.join(self._work_dir, f"h2load-{run}-{api}-c{clients}.tsv")
        cpu_before = procstat.cpu_seconds(pid) if pid else None
        output = h2load.run(self._argv(api, port, clients, duration_s, log_file),
                            binary=self._binary, cpu=self._pinning.client_cpu,
                            timeout=duration_s + 120)
        cpu_after = procstat.cpu_seconds(pid) if pid else None
        summary = h2load.parse_summary(output)
        with open(log_file, "r", encoding="utf-8") as f:
            entries = h2load.parse_log(f.read())
        ok = [e.duration_us for e in entries if 200 <= e.status < 300]
        latency = stats.latency_ms(ok)
        grpc_errors = None
        if response_frame_bytes:
            grpc_errors = h2load.grpc_errors_from_data(summary, response_frame_bytes)
        requests = max(len(entries), summary.done)
        cpu_us = None
        if cpu_before is not None and requests:
            cpu_us = 1e6 * (cpu_after - cpu_before) / requests
        return {
            "concurrency": clients, "req_per_s": summary.req_per_s,
            "requests": requests, "seconds": summary.duration_s,
            "mean_ms": summary.mean_ms,
            "p50_ms": latency.p50_ms if latency else None,
            "p90_ms": latency.p90_ms if latency else None,
            "p99_ms": latency.p99_ms if latency else None,
            "max_ms": latency.max_ms if latency else None,
            "cpu_us_per_req": cpu_us,
            "http_errors": h2load.http_errors(summary),
            "grpc_errors": grpc_errors,
        }


def describe_cell(cell: dict) -> str:
    def num(value, digits):
        return "-" if value is None else f"{value:.{digits}f}"
    errors = cell["http_errors"] + (cell.get("grpc_errors") or 0)
    return (f"{cell['req_per_s']:.1f} req/s, p50 {num(cell['p50_ms'], 3)} ms, "
            f"p99 {num(cell['p99_ms'], 3)} ms, CPU {num(cell['cpu_us_per_req'], 0)} "
            f"us/req, {errors} errors")


def batching_parameters_text() -> str:
    return batching_config.batching_parameters_text(
        FLAGS.max_batch_size, FLAGS.batch_timeout_micros, FLAGS.max_enqueued_batches,
        FLAGS.num_batch_threads)


def run_server_phase(results, label, batching, command, model_base_path, work_dir,
                     pinning, driver, concurrency, apis, expected_frame, grpc_message,
                     rest_body, batching_file=None, server_kind="server"):
    from tensorflow_serving.apis import predict_pb2  # pylint: disable=g-import-not-at-top
    server, startup = start_server(label, command, model_base_path, work_dir, pinning,
                                   batching_file=batching_file)
    pid = procstat.serving_pid(server.process.pid)
    phase = {"label": label, "batching": batching, "startup_s": startup, "pid": pid,
             "server": server_kind}
    progress(f"{label}: model AVAILABLE {startup:.2f} s after process start "
             f"(pid {pid}, RSS {procstat.rss_bytes(pid) / 2**20:.0f} MB)")
    try:
        raw = grpc_check(server.grpc_port, grpc_message)
        response = predict_pb2.PredictResponse.FromString(raw)
        scores = np.array(response.outputs[mnist_model.OUTPUT_ALIAS].float_val
                          or np.frombuffer(response.outputs[mnist_model.OUTPUT_ALIAS]
                                           .tensor_content, dtype=np.float32))
        progress(f"{label}: gRPC check: digit {int(np.argmax(scores))}, response "
                 f"{len(raw)} bytes, model version {response.model_spec.version.value}")
        if expected_frame[0] is None:
            expected_frame[0] = raw
        elif raw != expected_frame[0]:
            raise RuntimeError(f"{label} answered the check request with other bytes than "
                               f"the first server: {raw!r} vs {expected_frame[0]!r}")
        if "rest" in apis:
            rest_raw = rest_check(server.rest_port, rest_body)
            predictions = json.loads(rest_raw)["predictions"]
            progress(f"{label}: REST check: digit {int(np.argmax(predictions[0]))}")
            phase["rest_response"] = rest_raw
        ports = {"grpc": server.grpc_port, "rest": server.rest_port}
        for api in apis:
            progress(f"{label}: warming up {api} ({FLAGS.warmup_s:.0f} s at "
                     f"c={max(concurrency)})")
            driver.warmup(api, ports[api], max(concurrency), FLAGS.warmup_s)
        phase["rss_after_warmup_mb"] = procstat.rss_bytes(pid) / 2**20
        for api in apis:
            for clients in concurrency:
                cell = driver.cell(api, ports[api], clients, FLAGS.duration_s,
                                   pid=pid,
                                   response_frame_bytes=len(raw) + 5 if api == "grpc" else None)
                cell.update(api=api, batching=batching, server=server_kind)
                results["cells"].append(cell)
                progress(f"{label}: {api} c={clients}: {describe_cell(cell)}")
        if FLAGS.soak_s > 0 and not batching and server_kind == "server":
            before = procstat.rss_bytes(pid)
            progress(f"{label}: soak, gRPC c=8 for {FLAGS.soak_s:.0f} s")
            soak = driver.cell("grpc", server.grpc_port, 8, FLAGS.soak_s, pid=pid,
                               response_frame_bytes=len(raw) + 5)
            after = procstat.rss_bytes(pid)
            results["soak"] = {"seconds": FLAGS.soak_s, "req_per_s": soak["req_per_s"],
                               "rss_before_mb": before / 2**20,
                               "rss_after_mb": after / 2**20,
                               "rss_growth": (after - before) / before,
                               "errors": soak["http_errors"] + (soak["grpc_errors"] or 0)}
            progress(f"{label}: soak: {describe_cell(soak)}, RSS {before / 2**20:.0f} -> "
                     f"{after / 2**20:.0f} MB")
        phase["rss_after_run_mb"] = procstat.rss_bytes(pid) / 2**20
        phase["anon_rss_after_run_mb"] = procstat.anon_rss_bytes(pid) / 2**20
        phase["cpu_s_total"] = procstat.cpu_seconds(pid)
    finally:
        server.stop()
    results["phases"].append(phase)
    return phase


# The request logging phase: servers of one model config, logging off and
# at two sampling rates, measured in turns at the top concurrency.
LOGGING_RATES = (("logging off", None), ("logging 0.01", 0.01), ("logging 1", 1.0))


def _tfrecord_count(path: str) -> int:
    """Records in a TFRecord file, by its framing (length, CRC, data, CRC)."""
    count = 0
    with open(path, "rb") as f:
        while True:
            header = f.read(12)
            if len(header) < 12:
                return count
            (length,) = struct.unpack("<Q", header[:8])
            f.seek(length + 4, os.SEEK_CUR)
            count += 1


def run_logging(results, work_dir, pinning, driver, command, model_base_path,
                concurrency, grpc_message, rounds):
    """The servers of LOGGING_RATES, all on the server core, are loaded at
    once, each by its own h2load, for `rounds` rounds, started anew for each
    round. A server's cost is its CPU seconds per request, and its ratio to
    logging off is the median of the rounds' ratios of requests per CPU
    second, which is the ratio of the req/s each would serve alone with the
    core to itself.

    Loaded at once, the servers share the machine's every moment: a shared
    host's speed moves by 20% and more from one second to the next, which
    turns of one server after another do not cancel, however short."""
    top = max(concurrency)
    rates = dict(LOGGING_RATES)

    def at_once(work):
        """{kind: work(kind)}, every kind in a thread of its own."""
        with concurrent.futures.ThreadPoolExecutor(len(rates)) as pool:
            futures = {kind: pool.submit(work, kind) for kind in rates}
            return {kind: future.result() for kind, future in futures.items()}

    turns = {kind: [] for kind in rates}
    for round_number in range(rounds):
        # New servers every round: two servers of one binary and config
        # differed by up to 9% in CPU per request for as long as they ran.
        servers = {}
        try:
            at_once(lambda kind, servers=servers: servers.__setitem__(kind, _logging_server(
                work_dir, pinning, command, model_base_path, grpc_message, kind,
                rates[kind])))
            at_once(lambda kind, servers=servers: driver.warmup(
                "grpc", servers[kind][0].grpc_port, top, FLAGS.warmup_s / 2))
            cells = at_once(lambda kind, servers=servers: driver.cell(
                "grpc", servers[kind][0].grpc_port, top, FLAGS.duration_s / 2,
                pid=servers[kind][1], response_frame_bytes=servers[kind][2]))
        finally:
            for server, _, _ in servers.values():
                server.stop()
        for kind, rate in LOGGING_RATES:
            cell = cells[kind]
            cell.update(api="grpc", batching=False, server=kind, sampling_rate=rate)
            progress(f"servers at once, round {round_number + 1}: {kind}: grpc c={top}: "
                     f"{describe_cell(cell)}")
            turns[kind].append(cell)
    off = turns["logging off"]
    for kind, rate in LOGGING_RATES:
        cells = turns[kind]
        cell = dict(sorted(cells, key=lambda c: c["req_per_s"])[len(cells) // 2])
        cell["rounds_req_per_s"] = [c["req_per_s"] for c in cells]
        if rate is not None:
            cell["paired_ratio"] = stats.paired_ratio(
                [1 / c["cpu_us_per_req"] for c in cells],
                [1 / o["cpu_us_per_req"] for o in off])
            cell["records_logged"] = sum(_tfrecord_count(path) for path in glob.glob(
                os.path.join(_logging_dir(work_dir, kind), f"{MODEL_NAME}-*.tfrecord")))
            cell["requests"] = sum(c.get("requests", 0) for c in cells)
        results["cells"].append(cell)


def _logging_dir(work_dir, kind) -> str:
    return os.path.join(work_dir, "request_logs", kind.replace(" ", "_"))


def _logging_server(work_dir, pinning, command, model_base_path, grpc_message, kind,
                    rate):
    """A server of one logging kind: (runner, serving pid, response frame size)."""
    log_dir = _logging_dir(work_dir, kind)
    os.makedirs(log_dir, exist_ok=True)
    logging_config = ("" if rate is None else
                      f'logging_config {{ log_collector_config {{ type: "tfrecord" '
                      f'filename_prefix: "{log_dir}/{MODEL_NAME}" }} '
                      f'sampling_config {{ sampling_rate: {rate} }} }}')
    config_file = os.path.join(log_dir, "models.config")
    with open(config_file, "w", encoding="utf-8") as f:
        f.write(f'model_config_list {{ config {{ name: "{MODEL_NAME}" '
                f'base_path: "{model_base_path}" model_platform: "tensorflow" '
                f'{logging_config} }} }}')
    label = f"server_{kind.replace(' ', '_')}"
    server, _ = start_server(label, command, model_base_path, work_dir, pinning,
                             config_file=config_file)
    try:
        frame = len(grpc_check(server.grpc_port, grpc_message)) + 5
        return server, procstat.serving_pid(server.process.pid), frame
    except BaseException:
        server.stop()
        raise


def _script(name: str) -> str:
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), name)


def run_canned(results, work_dir, pinning, driver, concurrency, response: bytes,
               api: str = "grpc", rest_kind: str = "stdlib"):
    """The canned server of `api` (grpc: canned_server.py; rest:
    canned_rest_server.py of `rest_kind`) answering every request with
    `response`."""
    kind = "canned" if api == "grpc" else {"stdlib": "canned_rest",
                                           "asyncio": "canned_rest_asyncio"}[rest_kind]
    response_file = os.path.join(work_dir, f"{kind}_response.bin")
    with open(response_file, "wb") as f:
        f.write(response)
    port = server_launcher.pick_unused_port()
    script = _script("canned_server.py" if api == "grpc" else "canned_rest_server.py")
    argv = pinning.server_prefix() + [sys.executable, script, f"--port={port}",
                                      f"--response_file={response_file}"]
    if api == "rest":
        argv.append(f"--kind={rest_kind}")
    progress(f"starting {kind} on port {port}")
    process = server_launcher.Process(argv,
                                      log_path=os.path.join(work_dir, f"{kind}.log"))
    try:
        process.wait_for_output(f"READY {port}", 60)
        if api == "rest":
            got = rest_check(port, b"{}")
            if got != response:
                raise RuntimeError(f"the canned REST server answered {got[:200]!r}")
        driver.warmup(api, port, max(concurrency), FLAGS.warmup_s)
        for clients in concurrency:
            cell = driver.cell(api, port, clients, FLAGS.duration_s, pid=process.pid,
                               response_frame_bytes=len(response) + 5
                               if api == "grpc" else None)
            cell.update(api=kind, batching=None)
            results["cells"].append(cell)
            progress(f"{kind} c={clients}: {describe_cell(cell)}")
    finally:
        process.stop()


def run_methods(results, work_dir, pinning, command, mnist_base_path, image):
    """Classify and Regress against Predict on the same graphs, at the top
    concurrency (see method_calls.py)."""
    hp2 = os.path.join(work_dir, "hp2")
    method_calls.export_half_plus_two(hp2)
    config = method_calls.write_config(work_dir, mnist_base_path, hp2)
    names = ("mnist Predict", "mnist Classify", "hp2 Predict", "hp2 Regress")
    bodies = method_calls.write_bodies(work_dir, image, names)
    concurrency = [max(int(c) for c in FLAGS.concurrency)]
    cells = method_calls.measure("server", command, config, work_dir, pinning.cores,
                                 bodies, concurrency, warmup_s=FLAGS.warmup_s,
                                 duration_s=FLAGS.duration_s)
    results["methods"] = [dataclasses.asdict(cell) for cell in cells]


def run_large(results, work_dir, pinning, driver, servers):
    """REST predict with a ~4 MB JSON answer, c=1, on each of `servers`
    (kind -> command)."""
    base = os.path.join(work_dir, "large")
    progress("exporting the 4 MB-answer model (large_output_model.py)")
    result = subprocess.run(
        [sys.executable, _script("large_output_model.py"),
         f"--export_dir={os.path.join(base, '1')}"],
        capture_output=True, text=True, check=False,
        env=server_launcher.child_env())
    if result.returncode != 0:
        raise RuntimeError(f"large_output_model failed:\n{result.stdout}\n{result.stderr}")
    for kind, command in servers.items():
        label = f"{kind}-large"
        server, _ = start_server(label, command, base, work_dir, pinning,
                                 model_name=LARGE_MODEL_NAME)
        try:
            raw = rest_check(server.rest_port, driver.body("rest_large"), LARGE_MODEL_NAME)
            progress(f"{label}: REST check: {len(raw) / 1e6:.1f} MB answer")
            results.setdefault("large_response_bytes", len(raw))
            driver.warmup("rest_large", server.rest_port, 1, FLAGS.warmup_s)
            cell = driver.cell("rest_large", server.rest_port, 1, FLAGS.duration_s,
                               pid=procstat.serving_pid(server.process.pid))
            cell.update(api="rest_large", batching=False, server=kind)
            results["cells"].append(cell)
            progress(f"{label}: REST c=1: {describe_cell(cell)}")
        finally:
            server.stop()


def run_inprocess(results, work_dir, pinning, version_dir, image_file):
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "inprocess_ceiling.py")
    argv = [sys.executable, script, f"--model_dir={version_dir}",
            f"--image_file={image_file}", f"--duration_s={FLAGS.duration_s}"]
    progress(f"in-process ceiling: the model in a tight loop for {FLAGS.duration_s:.0f} s")
    result = subprocess.run(pinning.server_prefix() + argv, capture_output=True,
                            text=True, check=False, env=server_launcher.child_env())
    if result.returncode != 0:
        raise RuntimeError(f"in-process ceiling failed:\n{result.stdout}\n{result.stderr}")
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    results["inprocess"] = measured
    progress(f"in-process: {measured['calls_per_s']:.0f} calls/s, "
             f"{measured['us_per_call']:.1f} us/call")


def phase_rest_response(results) -> bytes:
    """Our server's REST answer to the benchmark's predict, for the canned
    REST server to send."""
    for phase in results["phases"]:
        if phase.get("rest_response"):
            return phase["rest_response"]
    raise RuntimeError("no REST answer to can (was REST skipped?)")


def write_docs(results: dict, text: str) -> None:
    path = FLAGS.docs_page
    if not os.path.isabs(path):
        path = os.path.join(os.environ.get("BUILD_WORKSPACE_DIRECTORY", ""), path)
    # The plots go beside the page, so its block can show them.
    images = os.path.join(os.path.dirname(path), "images")
    plots = benchmark_plots.write_plots(results, images,
                                        results.get("config", {}).get("cpu_model", ""))
    links = "\n".join(f"![{os.path.splitext(os.path.basename(plot))[0]}]"
                      f"(images/{os.path.basename(plot)})" for plot in plots)
    changed = generated_block.update_file(
        path, DOCS_BLOCK, report.docs_block(results, text) + "\n\n" + links)
    progress(f"{path}: {'updated' if changed else 'unchanged'}; plots in {images}")


def report_from_json(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        results = json.load(f)
    results["config"].setdefault("date", time.strftime(
        "%Y-%m-%d", time.gmtime(os.path.getmtime(path))))
    text = report.render(results)
    sys.stdout.write(text + "\n")
    if FLAGS.docs_page:
        write_docs(results, text)
    return 0


def main(argv):
    del argv
    if FLAGS.from_json:
        return report_from_json(FLAGS.from_json)
    binary = h2load.find_h2load()
    if binary is None:
        sys.stderr.write(h2load.INSTALL_HINT + "\n")
        return 1
    concurrency = sorted({int(c) for c in FLAGS.concurrency})
    if not concurrency or concurrency[0] < 1:
        sys.stderr.write("--concurrency needs positive integers\n")
        return 2
    pinning = Pinning(FLAGS.pin)
    work_dir = FLAGS.work_dir or tempfile.mkdtemp(prefix="serving_benchmark_")
    os.makedirs(work_dir, exist_ok=True)
    if FLAGS.server_binary:
        command = [os.path.abspath(FLAGS.server_binary)]
    else:
        command = server_launcher.program_command(server_launcher.SERVER)
    baseline = [os.path.abspath(FLAGS.baseline_binary)] if FLAGS.baseline_binary else None
    cpu_model = procstat.cpu_model()
    progress(f"{cpu_model}, {os.cpu_count()} cores, {pinning.describe()}; "
             f"work dir {work_dir}")
    results = {"config": {
        "duration_s": FLAGS.duration_s, "warmup_s": FLAGS.warmup_s,
        "concurrency": concurrency, "server": command, "baseline": baseline,
        "pinning": pinning.describe(), "cpu_model": cpu_model,
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "cores": os.cpu_count(), "batching_parameters": batching_parameters_text()},
        "cells": [], "phases": [], "server": {}}
    try:
        if FLAGS.model_base_path:
            model_base_path = os.path.abspath(FLAGS.model_base_path)
            versions = sorted(int(v) for v in os.listdir(model_base_path) if v.isdigit())
            if not versions:
                raise RuntimeError(f"{model_base_path} has no numeric version directory")
            version_dir = os.path.join(model_base_path, str(versions[-1]))
        else:
            model_base_path = os.path.join(work_dir, "mnist")
            progress(f"exporting the MNIST model with mnist_saved_model "
                     f"(--training_iteration={FLAGS.training_iteration})")
            version_dir = mnist_model.export_model(
                model_base_path, training_iteration=FLAGS.training_iteration,
                log_path=os.path.join(work_dir, "export.log"))
        image, label = mnist_model.load_digit(0)
        progress(f"request: one MNIST test digit (label {label}), batch 1")
        image_file = os.path.join(work_dir, "digit.npy")
        np.save(image_file, image)
        grpc_message = payloads.predict_request(
            MODEL_NAME, mnist_model.SIGNATURE, mnist_model.INPUT_ALIAS,
            image).SerializeToString()
        grpc_body = os.path.join(work_dir, "predict.grpc")
        with open(grpc_body, "wb") as f:
            f.write(payloads.grpc_frame(grpc_message))
        rest_body_bytes = payloads.rest_predict_body(mnist_model.SIGNATURE, image)
        rest_body = os.path.join(work_dir, "predict.json")
        with open(rest_body, "wb") as f:
            f.write(rest_body_bytes)
        batching_file = os.path.join(work_dir, "batching_parameters.txt")
        with open(batching_file, "w", encoding="utf-8") as f:
            f.write(batching_parameters_text())
        large_body = os.path.join(work_dir, "large.json")
        with open(large_body, "wb") as f:
            f.write(payloads.rest_predict_body("serving_default", np.array([[0.5]])))
        bodies = {
            "grpc": (grpc_body, payloads.GRPC_HEADERS, payloads.GRPC_PREDICT_PATH, False),
            "rest": (rest_body, payloads.REST_HEADERS,
                     payloads.rest_predict_path(MODEL_NAME), True),
            "rest_large": (large_body, payloads.REST_HEADERS,
                           payloads.rest_predict_path(LARGE_MODEL_NAME), True),
        }
        driver = Driver(binary, pinning, work_dir, bodies)
        apis = ["grpc"] + ([] if FLAGS.skip_rest else ["rest"])
        first_response = [None]
        phase = run_server_phase(results, "server", False, command, model_base_path,
                                 work_dir, pinning, driver, concurrency, apis,
                                 first_response, grpc_message, rest_body_bytes)
        results["server"].update(startup_s=phase["startup_s"],
                                 rss_after_warmup_mb=phase["rss_after_warmup_mb"],
                                 rss_after_run_mb=phase["rss_after_run_mb"],
                                 anon_rss_after_run_mb=phase["anon_rss_after_run_mb"])
        if not FLAGS.skip_batching:
            phase = run_server_phase(results, "server-batching", True, command,
                                     model_base_path, work_dir, pinning, driver,
                                     concurrency, apis, first_response, grpc_message,
                                     rest_body_bytes, batching_file=batching_file)
            results["server"]["startup_batching_s"] = phase["startup_s"]
        if baseline:
            run_server_phase(results, "baseline", False, baseline, model_base_path,
                             work_dir, pinning, driver, concurrency, ["grpc"],
                             first_response, grpc_message, rest_body_bytes,
                             server_kind="baseline")
        if not FLAGS.skip_logging:
            run_logging(results, work_dir, pinning, driver, command, model_base_path,
                        concurrency, grpc_message, FLAGS.logging_rounds)
        if not FLAGS.skip_methods:
            run_methods(results, work_dir, pinning, command, model_base_path, image)
        if not FLAGS.skip_large and not FLAGS.skip_rest:
            run_large(results, work_dir, pinning, driver,
                      {"server": command, **({"baseline": baseline} if baseline else {})})
        if not FLAGS.skip_ceilings:
            run_canned(results, work_dir, pinning, driver, concurrency, first_response[0])
            if not FLAGS.skip_rest:
                for rest_kind in ("stdlib", "asyncio"):
                    run_canned(results, work_dir, pinning, driver, concurrency,
                               phase_rest_response(results), api="rest",
                               rest_kind=rest_kind)
            run_inprocess(results, work_dir, pinning, version_dir, image_file)
    except RuntimeError as e:
        sys.stderr.write(f"serving_benchmark: {e}\n")
        return 1
    finally:
        if not FLAGS.work_dir:
            shutil.rmtree(work_dir, ignore_errors=True)
    # Order the table: the server's cells, the baseline's, then the ceilings.
    order = {("grpc", False, "server"): 0, ("grpc", True, "server"): 1,
             ("rest", False, "server"): 2, ("rest", True, "server"): 3,
             ("grpc", False, "baseline"): 4, ("rest_large", False, "server"): 5,
             ("rest_large", False, "baseline"): 6, ("canned", None, None): 7,
             ("canned_rest", None, None): 8, ("canned_rest_asyncio", None, None): 9,
             **{("grpc", False, kind): 4.5 for kind, _ in LOGGING_RATES}}
    results["cells"].sort(key=lambda c: (order.get((c["api"], c["batching"],
                                                    c.get("server")), 10),
                                         c["concurrency"]))
    results["targets"] = [t.__dict__ for t in report.evaluate_targets(results)]
    for phase in results["phases"]:
        phase.pop("rest_response", None)  # bytes; not for the JSON
    text = report.render(results)
    sys.stdout.write("\n" + text + "\n")
    if FLAGS.output_json:
        with open(FLAGS.output_json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2, default=str)
        progress(f"results written to {FLAGS.output_json}")
    if FLAGS.docs_page:
        write_docs(results, text)
    return 0


if __name__ == "__main__":
    app.run(main)
