"""Runs the model server image with podman the ways upstream's image is run.

The counterpart of upstream's tensorflow_serving/tools/docker/tests/ (which
starts its image with `docker run` and queries REST). Started by
container_test.sh, which installs and configures podman, builds and loads the
image; this driver then checks, against a model store on the host:

* the image's config: entrypoint, MODEL_NAME/MODEL_BASE_PATH, ports, non-root
  user, tensorflow_model_server on the PATH;
* upstream's usage with its defaults (`-e MODEL_NAME -v store:/models/NAME`,
  no arguments, gRPC 8500 and REST 8501), read-only root, no capabilities;
* upstream's usage with appended arguments, and KServe's (the server as the
  command, --port=/--rest_api_port=/--model_base_path=/mnt/models), each with
  gRPC Predict (official stubs) and REST predict from the host;
* two such replicas sharing one mounted store: a new version published into
  the store is served by both while a client spreads requests over both,
  with zero failed requests;
* SIGTERM (`podman stop`) drains: requests queued in the server when the
  signal arrives still get their answers, and the server exits 0.

Only loopback is used: host-network containers on ports picked here, and one
container without a network, probed from inside.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import grpc
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc
from tensorflow_serving.util import net_util

MODEL = "half_plus_n"
_START = time.monotonic()
# Container starts compete with other work on a small shared machine.
_AVAILABLE_DEADLINE_S = 300
_STOP_TIMEOUT_S = 30


def log(msg):
    print("[container_test %5.1fs] %s" % (time.monotonic() - _START, msg), flush=True)


class CheckFailed(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise CheckFailed(msg)


# --- the model store ----------------------------------------------------------

def export_version(store, version):
    """Writes version N of y = 0.5 * x + (N + 1): v1 is half_plus_two.

    The version is built in a hidden directory beside the model and renamed
    into place, so a polling server never sees a half-written version.
    """
    import tensorflow as tf  # pylint: disable=g-import-not-at-top

    class HalfPlusN(tf.Module):

        def __init__(self, n):
            super().__init__()
            self.n = tf.Variable(float(n))

        @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32, name="x")])
        def serve(self, x):
            return {"y": 0.5 * x + self.n}

    model = HalfPlusN(version + 1)
    staging = os.path.join(store, MODEL, ".staging-%d" % version)
    tf.saved_model.save(model, staging, signatures={"serving_default": model.serve})
    for dirpath, dirnames, filenames in os.walk(staging):
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o755)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o644)
    os.chmod(staging, 0o755)
    os.rename(staging, os.path.join(store, MODEL, str(version)))


def expected(x, version):
    return 0.5 * x + version + 1


# --- podman -------------------------------------------------------------------

class Podman:

    def __init__(self, binary, image):
        self.binary = binary
        self.image = image
        self.started = []

    def __call__(self, *args, check_rc=True, timeout=120):
        proc = subprocess.run([self.binary] + list(args), capture_output=True,
                              text=True, timeout=timeout)
        if check_rc and proc.returncode != 0:
            raise CheckFailed("podman %s failed (exit %d): %s" % (
                " ".join(args[:2]), proc.returncode, proc.stderr.strip()[-2000:]))
        return proc

    def run(self, name, run_args, args=()):
        """Starts a hardened container: non-root, read-only root, no caps."""
        self("rm", "-f", name, check_rc=False)
        self("run", "-d", "--name", name, "--read-only", "--cap-drop=ALL",
             "--security-opt=no-new-privileges", *run_args, self.image, *args)
        self.started.append(name)
        return time.monotonic()

    def running(self, name):
        proc = self("inspect", name, "--format", "{{.State.Running}}", check_rc=False)
        return proc.stdout.strip() == "true"

    def logs(self, name, tail=3000):
        proc = self("logs", name, check_rc=False)
        return (proc.stdout + proc.stderr)[-tail:]

    def cleanup(self):
        for name in self.started:
            self("rm", "-f", "-t", "0", name, check_rc=False)


# --- clients ------------------------------------------------------------------

class Replica:
    """A model server reachable from the host on loopback ports."""

    def __init__(self, name, grpc_port, rest_port):
        self.name = name
        self.grpc_port = grpc_port
        self.rest_port = rest_port
        self.channel = grpc.insecure_channel("127.0.0.1:%d" % grpc_port)
        self.predict_stub = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.model_stub = model_service_pb2_grpc.ModelServiceStub(self.channel)

    def status(self):
        """{version: state name} from the REST model status, or None."""
        try:
            with urllib.request.urlopen(
                    "http://127.0.0.1:%d/v1/models/%s" % (self.rest_port, MODEL),
                    timeout=5) as resp:
                body = json.load(resp)
        except (urllib.error.URLError, ConnectionError, OSError, ValueError):
            return None
        return {int(v["version"]): v["state"] for v in body["model_version_status"]}

    def grpc_predict(self, x, timeout=30):
        """(y, version) through the official PredictionService stub."""
        request = predict_pb2.PredictRequest()
        request.model_spec.name = MODEL
        request.inputs["x"].CopyFrom(_tensor([[x]]))
        response = self.predict_stub.Predict(request, timeout=timeout)
        return response.outputs["y"].float_val[0], response.model_spec.version.value

    def rest_predict(self, x, timeout=30):
        """(y, None) through REST :predict."""
        data = json.dumps({"instances": [[x]]}).encode()
        req = urllib.request.Request(
            "http://127.0.0.1:%d/v1/models/%s:predict" % (self.rest_port, MODEL),
            data=data, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.load(resp)["predictions"][0][0], None

    def grpc_status_roundtrip(self):
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = MODEL
        return self.model_stub.GetModelStatus(request, timeout=30)


def _tensor(rows):
    from tensorflow.core.framework import tensor_pb2  # pylint: disable=g-import-not-at-top
    from tensorflow.core.framework import tensor_shape_pb2  # pylint: disable=g-import-not-at-top
    from tensorflow.core.framework import types_pb2  # pylint: disable=g-import-not-at-top
    t = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT)
    t.tensor_shape.CopyFrom(tensor_shape_pb2.TensorShapeProto(dim=[
        tensor_shape_pb2.TensorShapeProto.Dim(size=len(rows)),
        tensor_shape_pb2.TensorShapeProto.Dim(size=len(rows[0]))]))
    t.float_val.extend(v for row in rows for v in row)
    return t


def wait_available(podman, container, started, status, version=None):
    """Waits until `status()` shows `version` (None: any) AVAILABLE.

    Returns the seconds since `started`.
    """
    deadline = started + _AVAILABLE_DEADLINE_S
    while time.monotonic() < deadline:
        states = status() or {}
        if (version is None and "AVAILABLE" in states.values()) or \
                states.get(version) == "AVAILABLE":
            return time.monotonic() - started
        if not podman.running(container):
            raise CheckFailed("%s exited before serving:\n%s" % (container, podman.logs(container)))
        time.sleep(0.2)
    raise CheckFailed("%s: version %s not AVAILABLE within %d s:\n%s" % (
        container, version, _AVAILABLE_DEADLINE_S, podman.logs(container)))


# --- the checks ---------------------------------------------------------------

def check_image_config(podman):
    config = json.loads(podman("image", "inspect", podman.image).stdout)[0]["Config"]
    check(config["Entrypoint"] == ["/usr/bin/tf_serving_entrypoint.sh"],
          "entrypoint is %s" % config["Entrypoint"])
    env = dict(e.split("=", 1) for e in config["Env"])
    check(env.get("MODEL_NAME") == "model" and env.get("MODEL_BASE_PATH") == "/models",
          "env is %s" % env)
    check(sorted(config["ExposedPorts"]) == ["8500/tcp", "8501/tcp"],
          "exposed ports are %s" % config["ExposedPorts"])
    check(config.get("User") not in (None, "", "0", "root") and
          not config["User"].startswith("0:"), "user is %r" % config.get("User"))
    where = podman("run", "--rm", "--network=none", "--entrypoint", "/bin/sh",
                   podman.image, "-c", "command -v tensorflow_model_server").stdout.strip()
    check(where == "/usr/bin/tensorflow_model_server", "on PATH: %r" % where)
    log("image config: entrypoint, env, ports 8500/8501, user %s, "
        "tensorflow_model_server on PATH" % config["User"])


_INSIDE_PROBE = r"""
import json, sys, urllib.request
import grpc
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc
name = sys.argv[1]
with urllib.request.urlopen("http://127.0.0.1:8501/v1/models/" + name, timeout=5) as r:
    states = {v["state"] for v in json.load(r)["model_version_status"]}
if "AVAILABLE" not in states:
    sys.exit("not available: %s" % states)
req = urllib.request.Request("http://127.0.0.1:8501/v1/models/%s:predict" % name,
    data=json.dumps({"instances": [[1.0], [2.0], [5.0]]}).encode())
with urllib.request.urlopen(req, timeout=10) as r:
    rest = [p[0] for p in json.load(r)["predictions"]]
stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel("127.0.0.1:8500"))
p = predict_pb2.PredictRequest()
p.model_spec.name = name
p.inputs["x"].dtype = 1
p.inputs["x"].tensor_shape.dim.add().size = 3
p.inputs["x"].tensor_shape.dim.add().size = 1
p.inputs["x"].float_val.extend([1.0, 2.0, 5.0])
out = stub.Predict(p, timeout=10)
print(json.dumps({"rest": rest, "grpc": list(out.outputs["y"].float_val),
                  "version": out.model_spec.version.value}))
"""


_INSIDE_HTTP_CODE = r"""
import sys, urllib.error, urllib.request
try:
    with urllib.request.urlopen("http://127.0.0.1:8501" + sys.argv[1], timeout=5) as r:
        print(r.status)
except urllib.error.HTTPError as e:
    print(e.code)
except (urllib.error.URLError, OSError):
    print("no answer")
"""


def _inside(podman, name, script, *args, what):
    """Runs `script` in the container until it succeeds; returns its stdout."""
    deadline = time.monotonic() + _AVAILABLE_DEADLINE_S
    while True:
        proc = podman("exec", name, "/opt/venv/bin/python3", "-c", script, *args,
                      check_rc=False)
        if proc.returncode == 0:
            return proc.stdout
        if not podman.running(name):
            raise CheckFailed("%s exited:\n%s" % (name, podman.logs(name)))
        if time.monotonic() > deadline:
            raise CheckFailed("%s: %s: %s\n%s" % (name, what, proc.stderr[-500:],
                                                   podman.logs(name)))
        time.sleep(0.5)


def check_upstream_defaults(podman, store):
    """Upstream's documented run: env and a mount, no arguments at all.

    The store starts empty, as a fresh volume would: once the server has
    found no version in it, the manifests' readiness path (model metadata)
    must not answer 200 (like upstream's, the server opens its ports only
    once its models have loaded); after a version is copied in, the server
    must serve it and the readiness path answer 200.
    """
    name = "tfs-test-defaults-%d" % os.getpid()
    started = podman.run(name, ["--network=none", "-e", "MODEL_NAME=" + MODEL,
                                "-v", "%s/%s:/models/%s:ro" % (store, MODEL, MODEL)])
    wait_for(lambda: "No versions of servable %s found" % MODEL in podman.logs(name, 10**6),
             "the server to report an empty store",
             _AVAILABLE_DEADLINE_S - (time.monotonic() - started))
    metadata = "/v1/models/%s/metadata" % MODEL
    before = _inside(podman, name, _INSIDE_HTTP_CODE, metadata, what="probe").strip()
    check(before != "200", "metadata answered 200 with no version on disk")
    published = time.monotonic()
    export_version(store, 1)
    result = json.loads(_inside(podman, name, _INSIDE_PROBE, MODEL,
                                what="never served the new version on 8500/8501"))
    elapsed = time.monotonic() - published
    check(result["rest"] == [2.5, 3.0, 4.5] and result["grpc"] == [2.5, 3.0, 4.5]
          and result["version"] == 1, "predictions inside the container: %s" % result)
    after = _inside(podman, name, _INSIDE_HTTP_CODE, metadata, what="metadata").strip()
    check(after == "200", "metadata answered %s with a version loaded" % after)
    log("upstream defaults (-e MODEL_NAME, -v, no args): readiness path %s: %s "
        "before a version exists and 200 after; REST 8501 and gRPC 8500 answer %s, "
        "%.1f s after the version was copied in" % (metadata, before, result["rest"], elapsed))
    podman("rm", "-f", "-t", "0", name)
    return elapsed


def check_predict(replica, version):
    for x in (1.0, 2.0, 5.0):
        y, v = replica.grpc_predict(x)
        check(abs(y - expected(x, version)) < 1e-6 and v == version,
              "%s gRPC Predict(%s) = %s (version %s)" % (replica.name, x, y, v))
        y, _ = replica.rest_predict(x)
        check(abs(y - expected(x, version)) < 1e-6,
              "%s REST predict(%s) = %s" % (replica.name, x, y))
    log("%s: gRPC Predict and REST predict from the host are right" % replica.name)
    return True


class LoadClient:
    """Threads spreading requests over replicas, alternating gRPC and REST."""

    def __init__(self, replicas, threads=4, max_requests=20000, max_seconds=600):
        self.replicas = replicas
        self.threads = threads
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.records = []  # (replica, api, start, version or None, error)
        self._workers = []
        self._count = 0

    def _worker(self, index):
        i = index
        end = time.monotonic() + self.max_seconds
        while not self.stop.is_set() and time.monotonic() < end:
            with self.lock:
                if self._count >= self.max_requests:
                    return
                self._count += 1
            replica = self.replicas[i % len(self.replicas)]
            api = "grpc" if (i // len(self.replicas)) % 2 == 0 else "rest"
            i += 1
            x = float(i % 7)
            start = time.monotonic()
            version, error = None, None
            try:
                y, reported = (replica.grpc_predict(x) if api == "grpc"
                               else replica.rest_predict(x))
                for v in (1, 2):
                    if abs(y - expected(x, v)) < 1e-6:
                        version = v
                if version is None:
                    error = "wrong answer %s for x=%s" % (y, x)
                elif reported is not None and reported != version:
                    error = "answer of v%d labelled v%d" % (version, reported)
            except Exception as e:  # pylint: disable=broad-except
                error = "%s: %s" % (type(e).__name__, str(e)[:200])
            with self.lock:
                self.records.append((replica.name, api, start, version, error))

    def start(self):
        for t in range(self.threads):
            w = threading.Thread(target=self._worker, args=(t,), daemon=True)
            w.start()
            self._workers.append(w)

    def count(self, pred=lambda r: True):
        with self.lock:
            return sum(1 for r in self.records if pred(r))

    def finish(self):
        self.stop.set()
        for w in self._workers:
            w.join(timeout=60)


def wait_for(cond, what, deadline_s):
    deadline = time.monotonic() + deadline_s
    while not cond():
        if time.monotonic() > deadline:
            raise CheckFailed("timed out waiting for " + what)
        time.sleep(0.1)


def check_rollover(replicas, store):
    """A new version in the shared store reaches both replicas, zero failures."""
    client = LoadClient(replicas)
    client.start()
    try:
        wait_for(lambda: all(client.count(lambda r, n=rep.name: r[0] == n) >= 100
                             for rep in replicas), "100 requests per replica before", 120)
        log("rollover: publishing version 2 into the shared store under load")
        publish = time.monotonic()
        export_version(store, 2)
        v1_gone = {}

        def switched():
            for rep in replicas:
                if rep.name not in v1_gone:
                    states = rep.status() or {}
                    if states.get(2) == "AVAILABLE" and states.get(1) in (None, "END"):
                        v1_gone[rep.name] = time.monotonic()
            return len(v1_gone) == len(replicas)

        wait_for(switched, "both replicas to serve only version 2", _AVAILABLE_DEADLINE_S)
        switch_s = max(v1_gone.values()) - publish
        after = time.monotonic()
        wait_for(lambda: all(client.count(lambda r, n=rep.name: r[0] == n and r[2] > after) >= 300
                             for rep in replicas), "300 requests per replica after", 120)
    finally:
        client.finish()
    records = list(client.records)
    failures = [r for r in records if r[4]]
    summary = {}
    for name, api, _, version, error in records:
        key = "%s %s %s" % (name, api, "failed" if error else "v%d" % version)
        summary[key] = summary.get(key, 0) + 1
    log("rollover: %d requests, %d failed; version 2 served by both replicas "
        "%.1f s after publishing; %s" % (len(records), len(failures), switch_s,
                                         ", ".join("%s=%d" % kv for kv in sorted(summary.items()))))
    check(not failures, "%d failed requests during the rollover, e.g. %s"
          % (len(failures), failures[:3]))
    for rep in replicas:
        served = {r[3] for r in records if r[0] == rep.name}
        check(served == {1, 2}, "%s served versions %s" % (rep.name, served))
        late_v1 = [r for r in records if r[0] == rep.name and r[2] > v1_gone[rep.name]
                   and r[3] == 1]
        check(not late_v1, "%s answered with version 1 after unloading it: %s"
              % (rep.name, late_v1[:3]))
    return len(records), len(failures), summary, switch_s


def check_drain(podman, name, replica, in_flight=4):
    """Requests queued in the server when SIGTERM arrives still get answers.

    in_flight stays below the server's gRPC threads (4 per core), so the
    status call below finds a free thread while the predictions wait.
    """
    futures = []
    for i in range(in_flight):
        request = predict_pb2.PredictRequest()
        request.model_spec.name = MODEL
        request.inputs["x"].CopyFrom(_tensor([[float(i)]]))
        futures.append((float(i), replica.predict_stub.Predict.future(request, timeout=60)))
    # Streams on one connection reach the server in order: once this answer
    # is back, every Predict above has arrived and waits in the batch queue.
    replica.grpc_status_roundtrip()
    check(not any(f.done() for _, f in futures),
          "requests finished before SIGTERM; the batch timeout is too short")
    stop_start = time.monotonic()
    podman("stop", "-t", str(_STOP_TIMEOUT_S), name, timeout=_STOP_TIMEOUT_S + 60)
    stop_s = time.monotonic() - stop_start
    results = []
    for x, f in futures:
        try:
            response = f.result()
            # The drain server shares the store, so it may serve version 2.
            y = response.outputs["y"].float_val[0]
            results.append(abs(y - expected(x, response.model_spec.version.value)) < 1e-6)
        except grpc.RpcError as e:
            results.append(False)
            log("drain: request failed: %s" % e.code())
    exit_code = podman("inspect", name, "--format", "{{.State.ExitCode}}").stdout.strip()
    log("drain: podman stop took %.1f s, exit code %s, %d/%d queued requests answered"
        % (stop_s, exit_code, sum(results), len(results)))
    check(all(results), "queued requests lost on SIGTERM")
    check(exit_code == "0", "exit code after SIGTERM: %s" % exit_code)
    check(stop_s < _STOP_TIMEOUT_S - 5, "stop took %.1f s: SIGTERM did not reach the server"
          % stop_s)
    return stop_s


def check_no_exec_control(podman, name, replica, started):
    """The control for check_drain: a shell that keeps PID 1 (no exec).

    Upstream's entrypoint runs the server as a child of bash; bash ignores
    SIGTERM as PID 1, so the stop waits out its timeout and ends in SIGKILL.
    """
    wait_available(podman, name, started, replica.status)  # v1 or, by now, v2
    stop_start = time.monotonic()
    podman("stop", "-t", "5", name, timeout=65)
    stop_s = time.monotonic() - stop_start
    exit_code = podman("inspect", name, "--format", "{{.State.ExitCode}}").stdout.strip()
    log("control without exec: podman stop -t 5 took %.1f s, exit code %s" % (stop_s, exit_code))
    check(stop_s >= 5 and exit_code == "137",
          "without exec the stop should time out and SIGKILL (took %.1f s, exit %s)"
          % (stop_s, exit_code))
    return stop_s


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True)
    parser.add_argument("--podman", default="podman")
    parser.add_argument("--work_dir", default=None)
    args = parser.parse_args(argv)

    podman = Podman(args.podman, args.image)
    work = tempfile.mkdtemp(prefix="tfs_container_test.", dir=args.work_dir)
    os.chmod(work, 0o755)
    store = os.path.join(work, "models")
    os.makedirs(os.path.join(store, MODEL))
    os.chmod(store, 0o755)
    os.chmod(os.path.join(store, MODEL), 0o755)
    config_dir = os.path.join(work, "config")
    os.makedirs(config_dir)
    os.chmod(config_dir, 0o755)
    with open(os.path.join(config_dir, "batching.config"), "w") as f:
        # A long timeout and a large batch keep the drain check's requests
        # queued inside the server while SIGTERM arrives, even on a machine
        # slow enough to take seconds between sending them and the signal.
        f.write("max_batch_size { value: 64 }\n"
                "batch_timeout_micros { value: 8000000 }\n"
                "num_batch_threads { value: 1 }\n")
    os.chmod(os.path.join(config_dir, "batching.config"), 0o644)
    # The control for the drain check: an entrypoint script shaped like
    # upstream's, whose bash stays PID 1 with the server as its child.
    with open(os.path.join(config_dir, "no_exec_entrypoint.sh"), "w") as f:
        f.write("#!/bin/bash\n"
                "tensorflow_model_server --port=8500 --rest_api_port=8501 "
                "--model_name=${MODEL_NAME} --model_base_path=${MODEL_BASE_PATH}/${MODEL_NAME} "
                '"$@"\n')
    os.chmod(os.path.join(config_dir, "no_exec_entrypoint.sh"), 0o755)
    figures = {}
    passed, failed = [], []

    def step(name, fn, *a):
        try:
            result = fn(*a)
            passed.append(name)
            return result
        except (CheckFailed, subprocess.TimeoutExpired, grpc.RpcError, OSError) as e:
            failed.append(name)
            log("FAILED %s: %s" % (name, e))
            return None

    try:
        log("exporting version 1 of %s into %s" % (MODEL, store))
        export_version(store, 1)
        step("image config", check_image_config, podman)
        empty_store = os.path.join(work, "empty_store")
        os.makedirs(os.path.join(empty_store, MODEL))
        os.chmod(empty_store, 0o755)
        os.chmod(os.path.join(empty_store, MODEL), 0o755)
        figures["defaults_serving_after_copy_s"] = step(
            "upstream defaults", check_upstream_defaults, podman, empty_store)

        names = {k: "tfs-test-%s-%d" % (k, os.getpid())
                 for k in ("upstream", "kserve", "drain", "noexec")}
        names = {"r1": names["upstream"], "r2": names["kserve"], "drain": names["drain"],
                 "noexec": names["noexec"]}
        ports = {}
        for key in ("r1", "r2", "drain", "noexec"):
            ports[key] = (net_util.pick_unused_port(), net_util.pick_unused_port())
        mount_upstream = ["-v", "%s/%s:/models/%s:ro" % (store, MODEL, MODEL)]
        starts = {
            # Upstream's usage, with arguments appended to the entrypoint's.
            "r1": podman.run(names["r1"], ["--network=host", "-e", "MODEL_NAME=" + MODEL]
                             + mount_upstream,
                             ["--port=%d" % ports["r1"][0], "--rest_api_port=%d" % ports["r1"][1]]),
            # KServe's TF Serving runtime: the server binary as the command.
            "r2": podman.run(names["r2"], [
                "--network=host", "--entrypoint", "/usr/bin/tensorflow_model_server",
                "-v", "%s/%s:/mnt/models:ro" % (store, MODEL)],
                ["--port=%d" % ports["r2"][0], "--rest_api_port=%d" % ports["r2"][1],
                 "--model_name=" + MODEL, "--model_base_path=/mnt/models",
                 "--rest_api_timeout_in_ms=60000"]),
            "drain": podman.run(names["drain"], [
                "--network=host", "-e", "MODEL_NAME=" + MODEL,
                "-v", "%s:/config:ro" % config_dir] + mount_upstream,
                ["--port=%d" % ports["drain"][0], "--rest_api_port=%d" % ports["drain"][1],
                 "--enable_batching", "--batching_parameters_file=/config/batching.config"]),
            "noexec": podman.run(names["noexec"], [
                "--network=host", "--entrypoint", "/config/no_exec_entrypoint.sh",
                "-e", "MODEL_NAME=" + MODEL, "-v", "%s:/config:ro" % config_dir]
                + mount_upstream,
                ["--port=%d" % ports["noexec"][0],
                 "--rest_api_port=%d" % ports["noexec"][1]]),
        }
        replicas = {k: Replica(names[k], *ports[k]) for k in ports}
        for key in ("r1", "r2", "drain"):
            t = step("%s AVAILABLE" % names[key], wait_available, podman, names[key],
                     starts[key], replicas[key].status, 1)
            if t is not None:
                figures["available_%s_s" % key] = t
                log("%s: version 1 AVAILABLE %.1f s after podman run" % (names[key], t))
        for key in ("r1", "r2"):
            step("%s predict" % names[key], check_predict, replicas[key], 1)
        if not failed:
            rollover = step("two-replica rollover", check_rollover,
                            [replicas["r1"], replicas["r2"]], store)
            if rollover:
                figures["rollover"] = {"requests": rollover[0], "failed": rollover[1],
                                       "by": rollover[2], "switch_s": rollover[3]}
            figures["drain_stop_s"] = step("SIGTERM drain", check_drain, podman,
                                           names["drain"], replicas["drain"])
            figures["no_exec_stop_s"] = step("no-exec control", check_no_exec_control, podman,
                                             names["noexec"], replicas["noexec"],
                                             starts["noexec"])
    finally:
        podman.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"figures": figures}, sort_keys=True))
    print("container checks: %d passed, %d failed%s" % (
        len(passed), len(failed), (" (" + ", ".join(failed) + ")") if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
