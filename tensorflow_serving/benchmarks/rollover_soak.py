r"""Rollover soak: does the model server give a version's memory back?

  tools/bazel run //tensorflow_serving/benchmarks:rollover_soak -- \
      [--rollovers=20] [--width=1.0] [--config_reloads=3] \
      [--server_binary=/path/to/tensorflow_model_server] \
      [--preload=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2] [--output_json=...]

Exports a ResNet-50-shaped model with random weights (about 100 MB of
variables at --width=1.0), starts the real server binary on it with
--file_system_poll_wait_seconds=1 and a model config file, then rolls it over
--rollovers times as a daily or hourly push does: the newest version is
copied to the next number, the server loads it, unloads the old one, the old
directory is deleted and the new version answers two Predicts. Then it adds a
second copy of the model with HandleReloadConfigRequest and removes it again,
--config_reloads times, which also measures what one more loaded version adds
to RSS (a version's resident size). It prints one progress line per step, the
RSS after each, the peak RSS of each rollover (the kernel's high-water mark),
and checks them against the targets of docs/memory.md (PASS/MISS).
"""

import json
import os
import shutil
import statistics
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The server's kernels and allocator (see tensorflow_model_server.py); the
# server inherits it.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
from absl import logging

from tensorflow_serving.benchmarks import procstat
from tensorflow_serving.model_servers.test_util import rollover_driver
from tensorflow_serving.model_servers import server_launcher

MODEL = "resnet"
SECOND_MODEL = "resnet_b"

flags.DEFINE_integer("rollovers", 20, "How many times to roll the model over.", lower_bound=3)
flags.DEFINE_integer("config_reloads", 3, "How many times to add and remove a "
                     "second copy of the model by config reload (which also "
                     "measures a version's resident size).", lower_bound=2)
flags.DEFINE_float("width", 1.0, "Channel multiplier of the model (1.0: about "
                   "100 MB of variables).")
flags.DEFINE_string("server_binary", "", "Model server to soak (default: this "
                    "repo's, from the runfiles).")
flags.DEFINE_string("preload", "", "LD_PRELOAD for the server, e.g. Debian's "
                    "libjemalloc.so.2 or libtcmalloc_minimal.so.4.")
flags.DEFINE_list("server_args", [], "Extra server flags.")
flags.DEFINE_list("server_env", [], "Extra environment of the server, as "
                  "NAME=VALUE (e.g. TF_ENABLE_ONEDNN_OPTS=1).")
flags.DEFINE_float("timeout_s", 300.0, "Give up on a step after this long.")
flags.DEFINE_string("output_json", "", "Also write the figures here as JSON.")
flags.DEFINE_string("work_dir", "", "Keep the models and the server's log here "
                    "(default: a temporary directory, removed at the end).")

FLAGS = flags.FLAGS
_MB = 1 << 20


def progress(message: str) -> None:
    sys.stdout.write(f"[soak] {message}\n")
    sys.stdout.flush()


def import_tensorflow_quietly() -> None:
    """Imports TensorFlow with its native start-up log held back.

    TensorFlow's C++ runtime logs a few lines when it loads (no GPU, CPU
    features), which no Python setting silences; they are shown only if the
    import fails.
    """
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            import tensorflow  # pylint: disable=g-import-not-at-top,unused-import
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def predict(server, model: str) -> None:
    """One Predict of a gray image; checks the answer is a distribution."""
    from tensorflow_serving.servables.tensorflow.testdata import saved_model_resnet  # pylint: disable=g-import-not-at-top
    response = server.prediction_stub.Predict(
        saved_model_resnet.predict_request(model), timeout=120)
    saved_model_resnet.check_response(response)


def config_text(models: dict) -> str:
    """A ModelServerConfig naming {name: base path}."""
    entries = "".join(
        f'  config {{ name: "{name}" base_path: "{path}" model_platform: "tensorflow" }}\n'
        for name, path in models.items())
    return f"model_config_list {{\n{entries}}}\n"


def reload_config(server, models: dict) -> None:
    from google.protobuf import text_format  # pylint: disable=g-import-not-at-top
    from tensorflow_serving.apis import model_management_pb2  # pylint: disable=g-import-not-at-top
    request = model_management_pb2.ReloadConfigRequest()
    text_format.Parse(config_text(models), request.config)
    response = server.model_stub.HandleReloadConfigRequest(request, timeout=FLAGS.timeout_s)
    if response.status.error_code:
        raise RuntimeError(f"config reload failed: {response.status}")


def run(work_dir: str, results: dict) -> bool:
    from tensorflow_serving.servables.tensorflow.testdata import saved_model_resnet  # pylint: disable=g-import-not-at-top
    base = os.path.join(work_dir, MODEL)
    progress(f"exporting the model (width {FLAGS.width:g})")
    verbosity = logging.get_verbosity()
    logging.set_verbosity(logging.WARNING)  # TensorFlow's saver logs each step
    try:
        saved_model_resnet.export_resnet(os.path.join(base, "1"), width=FLAGS.width)
    finally:
        logging.set_verbosity(verbosity)
    version_bytes = rollover_driver.directory_bytes(os.path.join(base, "1"))
    second = os.path.join(work_dir, SECOND_MODEL)
    shutil.copytree(base, second)
    config_path = os.path.join(work_dir, "models.config")
    with open(config_path, "w", encoding="utf-8") as f:
        f.write(config_text({MODEL: base}))
    command = ([os.path.abspath(FLAGS.server_binary)] if FLAGS.server_binary
               else server_launcher.program_command(server_launcher.SERVER))
    env = dict(item.split("=", 1) for item in FLAGS.server_env)
    if FLAGS.preload:
        env["LD_PRELOAD"] = FLAGS.preload
    server = server_launcher.ServerRunner(
        [f"--model_config_file={config_path}", "--file_system_poll_wait_seconds=1"]
        + FLAGS.server_args, command=command, env=env or None,
        log_path=os.path.join(work_dir, "server.log"))
    results["config"] = {
        "cpu": procstat.cpu_model(), "cores": os.cpu_count(), "server": server.argv,
        "preload": FLAGS.preload, "server_env": FLAGS.server_env,
        "version_disk_mb": version_bytes / _MB,
        "rollovers": FLAGS.rollovers}
    progress(f"{procstat.cpu_model()}, {os.cpu_count()} cores; one version {version_bytes / _MB:.0f} "
             f"MB on disk; work dir {work_dir}")
    try:
        server.start([MODEL], timeout=FLAGS.timeout_s)
        driver = rollover_driver.RolloverDriver(server, MODEL, base, predict,
                                                timeout=FLAGS.timeout_s)
        driver.serve_requests()
        first = driver.rss()
        progress(f"version 1 AVAILABLE; RSS {first / _MB:.0f} MB")
        rollovers = []
        for i in range(1, FLAGS.rollovers + 1):
            r = driver.roll()
            rollovers.append(r)
            progress(f"rollover {i}/{FLAGS.rollovers}: version {r.version} alone in "
                     f"{r.seconds:.1f} s; RSS {r.rss / _MB:.0f} MB, peak {r.peak / _MB:.0f} MB")
        reloads = []
        for i in range(1, FLAGS.config_reloads + 1):
            before = driver.rss()
            reload_config(server, {MODEL: base, SECOND_MODEL: second})
            loaded = driver.rss()
            driver.serve_requests(SECOND_MODEL)
            both = driver.rss()
            reload_config(server, {MODEL: base})
            server.wait_for_version(SECOND_MODEL, 1, FLAGS.timeout_s, state="END")
            after = driver.rss()
            reloads.append({"before_mb": before / _MB, "loaded_mb": loaded / _MB,
                            "with_requests_mb": both / _MB, "after_mb": after / _MB})
            progress(f"config reload {i}/{FLAGS.config_reloads}: {SECOND_MODEL} added "
                     f"(RSS {before / _MB:.0f} -> {loaded / _MB:.0f} MB, "
                     f"{both / _MB:.0f} MB once it served) and removed "
                     f"(RSS {after / _MB:.0f} MB)")
    finally:
        server.stop()
    results["first_load_rss_mb"] = first / _MB
    results["rollovers"] = [{"version": r.version, "seconds": r.seconds,
                             "rss_mb": r.rss / _MB, "peak_mb": r.peak / _MB,
                             "settled_rss_mb": r.settled_rss / _MB}
                            for r in rollovers]
    results["config_reloads"] = reloads
    # What one more loaded version adds: between two states just after the
    # server released memory (the removal of the second copy, then its load),
    # so that no request's buffers are counted.
    resident = statistics.median(
        reloads[i]["loaded_mb"] - reloads[i - 1]["after_mb"]
        for i in range(1, len(reloads))) * _MB
    results["version_resident_mb"] = resident / _MB
    targets = rollover_driver.MemoryTargets(first, version_bytes, int(resident),
                                            tuple(rollovers))
    lines = targets.lines()
    ok = targets.growth_ok() and targets.peak_ok()
    # A removed model gives back what it took: RSS after the removals stays
    # within the growth target of the level before the first addition.
    removed_growth = reloads[-1]["after_mb"] / reloads[0]["before_mb"] - 1
    removed_ok = removed_growth <= targets.max_growth
    ok = ok and removed_ok
    lines.append(
        f"RSS before {SECOND_MODEL} was first added {reloads[0]['before_mb']:.0f} MB, "
        f"after its last removal {reloads[-1]['after_mb']:.0f} MB: "
        f"{removed_growth:+.1%} (target <= +{targets.max_growth:.0%}): "
        f"{'PASS' if removed_ok else 'MISS'}")
    results["verdict"] = lines
    print("\nrollover  version  seconds  settled MB  RSS MB  peak MB")
    print(f"{0:>8}  {1:>7}  {'':>7}  {'':>10}  {first / _MB:>6.0f}")
    for i, r in enumerate(rollovers, 1):
        print(f"{i:>8}  {r.version:>7}  {r.seconds:>7.1f}  {r.settled_rss / _MB:>10.0f}  "
              f"{r.rss / _MB:>6.0f}  {r.peak / _MB:>7.0f}")
    print()
    for line in lines:
        print(line)
    return ok


def main(argv):
    del argv
    import_tensorflow_quietly()
    work_dir = FLAGS.work_dir or tempfile.mkdtemp(prefix="rollover_soak_")
    os.makedirs(work_dir, exist_ok=True)
    results = {}
    try:
        ok = run(work_dir, results)
    finally:
        if FLAGS.output_json:
            with open(FLAGS.output_json, "w", encoding="utf-8") as f:
                json.dump(results, f, indent=1)
        if not FLAGS.work_dir:
            shutil.rmtree(work_dir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    app.run(main)
