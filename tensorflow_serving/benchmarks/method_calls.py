"""The PredictionService calls whose server CPU the benchmarks compare.

One server serves the tutorial's MNIST model and half_plus_two; h2load posts
one gRPC body per call (built as payloads.py builds them, one example each):

  mnist Predict         predict_images: the digit as a [1,784] tensor
  mnist Classify        serving_default (classify): the digit as a tf.Example
  mnist MultiInference  serving_default as one classify task
  hp2 Predict           serving_default: x [1,1]
  hp2 Regress           regress_x_to_y: x in a tf.Example
  hp2 Classify          classify_x_to_y: x in a tf.Example

The MNIST model has no regression signature, so Regress is measured on
half_plus_two, against Predict on the same graph. A cell's CPU is the server
process's CPU time over the requests h2load completed.
"""

import dataclasses
import os
import sys

import numpy as np

from tensorflow_serving.benchmarks import h2load
from tensorflow_serving.benchmarks import mnist_model
from tensorflow_serving.benchmarks import payloads
from tensorflow_serving.benchmarks import procstat
from tensorflow_serving.model_servers import server_launcher

MODELS = ("mnist", "hp2")
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


def export_half_plus_two(base_path: str) -> None:
    """Upstream's half_plus_two (y = 0.5 x + 2) as base_path/1."""
    from tensorflow_serving.servables.tensorflow.testdata import saved_model_half_plus_two  # pylint: disable=g-import-not-at-top
    saved_model_half_plus_two.export_half_plus_two(os.path.join(base_path, "1"))


def write_config(work_dir: str, mnist: str, hp2: str) -> str:
    """A --model_config_file serving both models; returns its path."""
    config = os.path.join(work_dir, "models.config")
    with open(config, "w", encoding="utf-8") as f:
        f.write(_CONFIG.format(mnist=mnist, hp2=hp2))
    return config


def calls(image: np.ndarray) -> list:
    """(label, gRPC path, request) of every call."""
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


@dataclasses.dataclass
class Body:
    name: str
    path: str
    file: str       # the gRPC frame h2load posts
    message: bytes  # the serialized request, for the check call


def write_bodies(work_dir: str, image: np.ndarray, names=()) -> list[Body]:
    """The bodies of `names` (all calls if empty), in calls()'s order."""
    bodies = []
    for i, (name, path, request) in enumerate(calls(image)):
        if names and name not in names:
            continue
        message = request.SerializeToString()
        body_file = os.path.join(work_dir, f"call{i}.grpc")
        with open(body_file, "wb") as f:
            f.write(payloads.grpc_frame(message))
        bodies.append(Body(name, path, body_file, message))
    return bodies


def check(port: int, path: str, message: bytes) -> bytes:
    import grpc  # pylint: disable=g-import-not-at-top
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        return channel.unary_unary(path)(message, timeout=30)


@dataclasses.dataclass
class Cell:
    server: str
    call: str
    concurrency: int
    cpu_us_per_req: float
    req_per_s: float


def measure(label, command, config, work_dir, cores, bodies, concurrency, *,
            warmup_s: float, duration_s: float) -> list[Cell]:
    """One server (its model config `config`): every body's cells.

    `cores` is (server core, h2load core), None for no pinning. The server is
    pinned with taskset, as h2load is (see h2load.run), never in a function
    run between fork and exec.

    Raises:
      RuntimeError: the server did not start, or a call failed.
    """
    server_cpu, client_cpu = cores
    if server_cpu is not None:
        command = ["taskset", "-c", str(server_cpu)] + list(command)
    server = server_launcher.ServerRunner(
        [f"--model_config_file={config}"], command=command,
        log_path=os.path.join(work_dir, f"{label}-methods.log"))
    cells = []
    try:
        server.start(MODELS, timeout=120)
        pid = procstat.serving_pid(server.process.pid)
        for body in bodies:
            frame_bytes = len(check(server.grpc_port, body.path, body.message)) + 5
            url = f"http://127.0.0.1:{server.grpc_port}{body.path}"

            def argv(clients, seconds, body_file=body.file):
                return h2load.command(url, clients=clients, duration_s=seconds,
                                      data_file=body_file, headers=payloads.GRPC_HEADERS)

            if warmup_s > 0:
                h2load.run(argv(max(concurrency), warmup_s), cpu=client_cpu,
                           timeout=warmup_s + 120)
            for clients in concurrency:
                before = procstat.cpu_seconds(pid)
                output = h2load.run(argv(clients, duration_s), cpu=client_cpu,
                                    timeout=duration_s + 120)
                after = procstat.cpu_seconds(pid)
                summary = h2load.parse_summary(output)
                errors = h2load.http_errors(summary) + h2load.grpc_errors_from_data(
                    summary, frame_bytes)
                if errors:
                    raise RuntimeError(f"{label} {body.name}: {errors} failed calls")
                cell = Cell(label, body.name, clients,
                            1e6 * (after - before) / max(1, summary.done),
                            summary.req_per_s)
                cells.append(cell)
                progress(f"{label} {body.name} c={clients}: {cell.req_per_s:.0f} req/s, "
                         f"CPU {cell.cpu_us_per_req:.1f} us/req")
    finally:
        server.stop()
    return cells
