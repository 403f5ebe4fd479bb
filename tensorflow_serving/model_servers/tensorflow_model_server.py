"""tensorflow_model_server: serves SavedModels over gRPC and HTTP/REST.

Same flags, defaults and behaviour as upstream's C++ binary, e.g.
  tensorflow_model_server --port=8500 --rest_api_port=8501
      --model_name=mnist --model_base_path=/tmp/mnist
(the base path holds numeric version directories: /tmp/mnist/1/saved_model.pb).
"""

import importlib.metadata
import os
import signal
import sys
import threading

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
from absl import logging

_CPUS = os.cpu_count() or 1

flags.DEFINE_integer("port", 8500, "TCP port to listen on for gRPC/HTTP API. "
                     "Disabled if port set to zero.")
flags.DEFINE_string("grpc_socket_path", "", "If non-empty, listen to a UNIX "
                    "socket for gRPC API on the given path. Can be either "
                    "relative or absolute path.")
flags.DEFINE_integer("rest_api_port", 0, "Port to listen on for HTTP/REST API. "
                     "If set to zero HTTP/REST API will not be exported. This "
                     "port must be different than the one specified in --port.")
flags.DEFINE_integer("rest_api_num_threads", 4 * _CPUS, "Number of threads for "
                     "HTTP/REST API processing. If not set, will be auto set "
                     "based on number of CPUs.")
flags.DEFINE_integer("rest_api_timeout_in_ms", 30000, "Timeout for HTTP/REST "
                     "API calls.")
flags.DEFINE_bool("rest_api_enable_cors_support", False, "Enable CORS headers "
                  "in response.")
# Beyond upstream: limits of the REST transport (README, "The model server").
flags.DEFINE_integer("rest_api_max_connections", 4096, "Maximum number of "
                     "open HTTP/REST connections; at the limit, the one idle "
                     "the longest is closed to admit a new one.", lower_bound=1)
flags.DEFINE_integer("rest_api_max_body_bytes", 0, "Largest HTTP/REST request "
                     "body, with Content-Length or chunked; larger ones get "
                     "413. 0: half the memory available to the server.",
                     lower_bound=0)
flags.DEFINE_integer("rest_api_read_timeout_in_ms", 50000, "Time allowed to "
                     "receive an HTTP/REST request's headers (from its first "
                     "byte) and its body (from its start, plus 1 s per 64 KiB "
                     "received), and to send a reply; also the idle time "
                     "after which a keep-alive connection is closed.",
                     lower_bound=1)
flags.DEFINE_bool("enable_batching", False, "enable batching")
flags.DEFINE_bool("allow_version_labels_for_unavailable_models", False,
                  "If true, allows assigning unused version labels to models "
                  "that are not available yet.")
flags.DEFINE_string("batching_parameters_file", "", "If non-empty, read an "
                    "ascii BatchingParameters protobuf from the supplied file "
                    "name and use the contained values instead of the defaults.")
flags.DEFINE_string("model_config_file", "", "If non-empty, read an ascii "
                    "ModelServerConfig protobuf from the supplied file name, "
                    "and serve the models in that file. This config file can "
                    "be used to specify multiple models to serve and other "
                    "advanced parameters including non-default version policy. "
                    "(If used, --model_name, --model_base_path are ignored.)")
flags.DEFINE_integer("model_config_file_poll_wait_seconds", 0, "Interval in "
                     "seconds between each poll of the filesystem for "
                     "model_config_file. If unset or set to zero, poll will be "
                     "done exactly once and not periodically.")
flags.DEFINE_string("model_name", "default", "name of model (ignored if "
                    "--model_config_file flag is set)")
flags.DEFINE_string("model_base_path", "", "path to export (ignored if "
                    "--model_config_file flag is set, otherwise required)")
flags.DEFINE_integer("max_num_load_retries", 5, "maximum number of times it "
                     "retries loading a model after the first failure, before "
                     "giving up. If set to 0, a load is attempted only once.")
flags.DEFINE_integer("load_retry_interval_micros", 60 * 1000 * 1000, "The "
                     "interval, in microseconds, between each servable load "
                     "retry. If set negative, it doesn't wait.")
flags.DEFINE_integer("file_system_poll_wait_seconds", 1, "Interval in seconds "
                     "between each poll of the filesystem for new model "
                     "version. If set to zero poll will be exactly done once "
                     "and not periodically. Setting this to negative value "
                     "will disable polling entirely causing ModelServer to "
                     "indefinitely wait for a new model at startup.")
flags.DEFINE_bool("flush_filesystem_caches", True, "If true (the default), "
                  "filesystem caches will be flushed after the initial load "
                  "of all servables (accepted for compatibility).")
flags.DEFINE_integer("tensorflow_session_parallelism", 0, "Number of threads "
                     "to use for running a Tensorflow session. Auto-configured "
                     "by default. Note that this option is ignored if "
                     "--platform_config_file is non-empty.")
flags.DEFINE_integer("tensorflow_intra_op_parallelism", 0, "Number of threads "
                     "to use to parallelize the execution of an individual op. "
                     "Auto-configured by default.")
flags.DEFINE_integer("tensorflow_inter_op_parallelism", 0, "Controls the "
                     "number of operators that can be executed simultaneously. "
                     "Auto-configured by default.")
flags.DEFINE_string("ssl_config_file", "", "If non-empty, read an ascii "
                    "SSLConfig protobuf (not supported by this server).")
flags.DEFINE_string("platform_config_file", "", "If non-empty, read an ascii "
                    "PlatformConfigMap protobuf (not supported by this server).")
flags.DEFINE_float("per_process_gpu_memory_fraction", 0, "Fraction that each "
                   "process occupies of the GPU memory space (accepted for "
                   "compatibility; no GPU support).")
flags.DEFINE_string("saved_model_tags", "serve", "Comma-separated set of tags "
                    "corresponding to the meta graph def to load from "
                    "SavedModel.")
flags.DEFINE_string("grpc_channel_arguments", "", "A comma separated list of "
                    "arguments to be passed to the grpc server. (e.g. "
                    "grpc.max_connection_age_ms=2000)")
flags.DEFINE_integer("grpc_max_threads", 4 * _CPUS, "Max grpc server threads "
                     "to handle grpc messages.")
flags.DEFINE_bool("enable_model_warmup", True, "Enables model warmup, which "
                  "triggers lazy initializations (such as TF optimizations) at "
                  "load time, to reduce first request latency.")
flags.DEFINE_integer("num_request_iterations_for_warmup", 1, "Number of times "
                     "a request is iterated during warmup replay. This value "
                     "is used only if > 0.")
flags.DEFINE_bool("version", False, "Display version")
flags.DEFINE_string("monitoring_config_file", "", "If non-empty, read an ascii "
                    "MonitoringConfig protobuf from the supplied file name")
flags.DEFINE_bool("remove_unused_fields_from_bundle_metagraph", True,
                  "Removes unused fields from MetaGraphDef proto message to "
                  "save memory (accepted for compatibility).")
flags.DEFINE_bool("prefer_tflite_model", False, "EXPERIMENTAL; not supported.")
flags.DEFINE_bool("enable_signature_method_name_check", False, "Enable method_"
                  "name check for SignatureDef (accepted for compatibility).")
flags.DEFINE_bool("xla_cpu_compilation_enabled", False, "Accepted for "
                  "compatibility.")
flags.DEFINE_bool("enable_grpc_healthcheck_service", False, "Enable the "
                  "standard gRPC healthcheck service.")
flags.DEFINE_bool("enable_profiler", True, "Accepted for compatibility.")

FLAGS = flags.FLAGS


def version_lines() -> str:
    def version_of(package):
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return "unknown"
    return (f"TensorFlow ModelServer: {version_of('tensorflow-serving-api')}"
            f"+dev.sha.python\nTensorFlow Library: {version_of('tensorflow')}\n")


def _fail(message: str, code: int = 1):
    sys.stderr.write(f"tensorflow_model_server: {message}\n")
    sys.stderr.flush()
    os._exit(code)  # pylint: disable=protected-access


def _parse_flags(argv):
    """absl parsing, but flag errors are one line on stderr and exit 2."""
    try:
        return FLAGS(argv)
    except flags.Error as e:
        _fail(f"{str(e).splitlines()[0]}", 2)


def _options_from_flags():
    from tensorflow_serving.model_servers import server  # pylint: disable=g-import-not-at-top
    return server.Options(
        grpc_port=FLAGS.port,
        grpc_socket_path=FLAGS.grpc_socket_path,
        grpc_channel_arguments=FLAGS.grpc_channel_arguments,
        grpc_max_threads=FLAGS.grpc_max_threads,
        enable_grpc_healthcheck_service=FLAGS.enable_grpc_healthcheck_service,
        http_port=FLAGS.rest_api_port,
        http_num_threads=FLAGS.rest_api_num_threads,
        http_timeout_in_ms=FLAGS.rest_api_timeout_in_ms,
        http_enable_cors=FLAGS.rest_api_enable_cors_support,
        http_max_connections=FLAGS.rest_api_max_connections,
        http_max_body_bytes=FLAGS.rest_api_max_body_bytes,
        http_read_timeout_in_ms=FLAGS.rest_api_read_timeout_in_ms,
        enable_batching=FLAGS.enable_batching,
        batching_parameters_file=FLAGS.batching_parameters_file,
        model_name=FLAGS.model_name,
        model_base_path=FLAGS.model_base_path,
        model_config_file=FLAGS.model_config_file,
        model_config_file_poll_wait_seconds=FLAGS.model_config_file_poll_wait_seconds,
        file_system_poll_wait_seconds=FLAGS.file_system_poll_wait_seconds,
        max_num_load_retries=FLAGS.max_num_load_retries,
        load_retry_interval_micros=max(0, FLAGS.load_retry_interval_micros),
        monitoring_config_file=FLAGS.monitoring_config_file,
        enable_model_warmup=FLAGS.enable_model_warmup,
        num_request_iterations_for_warmup=FLAGS.num_request_iterations_for_warmup,
        saved_model_tags=FLAGS.saved_model_tags,
        tensorflow_intra_op_parallelism=FLAGS.tensorflow_intra_op_parallelism,
        tensorflow_inter_op_parallelism=FLAGS.tensorflow_inter_op_parallelism,
        tensorflow_session_parallelism=FLAGS.tensorflow_session_parallelism,
        allow_version_labels_for_unavailable_models=(
            FLAGS.allow_version_labels_for_unavailable_models))


def main(argv):
    if len(argv) > 1:
        _fail(f"unexpected positional arguments: {' '.join(argv[1:])}", 2)
    if FLAGS.version:
        sys.stdout.write(version_lines())
        sys.stdout.flush()
        return 0
    if FLAGS.ssl_config_file:
        _fail("--ssl_config_file is not supported by this server")
    if FLAGS.platform_config_file:
        _fail("--platform_config_file is not supported by this server")
    if FLAGS.prefer_tflite_model:
        _fail("--prefer_tflite_model is not supported by this server")

    stop_requested = threading.Event()

    def on_signal(signum, frame):
        del frame
        logging.info("Received signal %d, shutting down gracefully.", signum)
        stop_requested.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    from tensorflow_serving.model_servers import server as server_lib  # pylint: disable=g-import-not-at-top
    from tensorflow_serving.util import status as status_lib  # pylint: disable=g-import-not-at-top
    server = server_lib.Server(_options_from_flags())
    try:
        server.build_and_start()
    except server_lib.StartupError as e:
        _fail(str(e))
    except status_lib.ServingError as e:
        _fail(f"{e.code.name}: {e.message}")
    except KeyboardInterrupt:
        _fail("interrupted during startup", 130)
    while not stop_requested.wait(3600):
        pass
    server.stop()
    logging.flush()
    return 0


def run():
    absl_handler_setup()
    app.run(main, flags_parser=_parse_flags)


def absl_handler_setup():
    # Upstream logs to stderr; so does absl once it is told to.
    logging.set_stderrthreshold(logging.INFO)


if __name__ == "__main__":
    run()
