"""Upstream's Server::Options: every setting of the model server, declared once.

Each field carries the command-line flag that sets it (upstream's 48 flags
minus --version, which only the binary reads), its help text and, for
settings that mean something only on hardware or runtimes this server does
not have, why they have no effect here. tensorflow_model_server defines its
absl flags from these fields, so a default is written in one place, and any
other front end (tests, an embedded server) builds an Options directly.
"""

import dataclasses

from tensorflow_serving.util import cpu_info

_CPUS = cpu_info.num_schedulable_cpus()


def _option(flag: str, default, help_text: str, no_effect: str = "", **kwargs):
    return dataclasses.field(default=default, metadata={
        "flag": flag, "help": help_text, "no_effect": no_effect, **kwargs})


@dataclasses.dataclass
class Options:
    """The model server's options; fields with a `flag` come from the command line."""

    # gRPC.
    grpc_port: int = _option(
        "port", 8500, "TCP port for the gRPC API (0: none; then --grpc_socket_path "
        "or --rest_api_port must be set).", lower_bound=0, upper_bound=65535)
    grpc_socket_path: str = _option(
        "grpc_socket_path", "", "If set, also serve gRPC on this UNIX socket path.")
    grpc_channel_arguments: str = _option(
        "grpc_channel_arguments", "", "Comma-separated gRPC server arguments "
        "key=value (e.g. grpc.max_connection_age_ms=2000); integer values are "
        "passed as integers.")
    grpc_max_threads: int = _option(
        "grpc_max_threads", 4 * _CPUS, "Most threads handling gRPC calls at once "
        "(the server runs one per CPU, at least two, up to this).",
        lower_bound=1)
    enable_grpc_healthcheck_service: bool = _option(
        "enable_grpc_healthcheck_service", False, "Serve grpc.health.v1.Health.")
    use_alts_credentials: bool = _option(
        "use_alts_credentials", False, "Serve gRPC with Google ALTS credentials "
        "(handshakes work only where an ALTS handshaker service runs, i.e. on "
        "Google Cloud).")
    ssl_config_file: str = _option(
        "ssl_config_file", "", "Text-format SSLConfig: serve gRPC over TLS (mutual "
        "TLS with client_verify).")

    # HTTP/REST.
    http_port: int = _option(
        "rest_api_port", 0, "TCP port for the HTTP/REST API (0: none). Must differ "
        "from --port.", lower_bound=0, upper_bound=65535)
    http_num_threads: int = _option(
        "rest_api_num_threads", 4 * _CPUS, "Most HTTP/REST requests processed at "
        "once.", lower_bound=1)
    http_timeout_in_ms: int = _option(
        "rest_api_timeout_in_ms", 30000, "Timeout of the model run of an HTTP/REST "
        "request, in milliseconds (<= 0: none).")
    http_enable_cors: bool = _option(
        "rest_api_enable_cors_support", False, "Add CORS headers to HTTP/REST "
        "responses.")

    # Models.
    model_name: str = _option(
        "model_name", "default", "Name of the model (ignored with "
        "--model_config_file).")
    model_base_path: str = _option(
        "model_base_path", "", "Directory (or URI of any TensorFlow file system) "
        "whose numeric subdirectories are the model's versions (ignored with "
        "--model_config_file).")
    model_config_file: str = _option(
        "model_config_file", "", "Text-format ModelServerConfig naming the models "
        "to serve; wins over --model_name and --model_base_path.")
    model_config_file_poll_wait_seconds: int = _option(
        "model_config_file_poll_wait_seconds", 0, "Seconds between reloads of "
        "--model_config_file (<= 0: read once at startup).")
    file_system_poll_wait_seconds: int = _option(
        "file_system_poll_wait_seconds", 1, "Seconds between looks for new model "
        "versions (0: look once at startup).", lower_bound=0)
    max_num_load_retries: int = _option(
        "max_num_load_retries", 5, "Retries of a failed model load (0: one "
        "attempt).", lower_bound=0)
    load_retry_interval_micros: int = _option(
        "load_retry_interval_micros", 60 * 1000 * 1000, "Microseconds between load "
        "retries (negative: no wait).")
    num_load_threads: int = _option(
        "num_load_threads", 0, "Threads loading models after startup (0: one at a "
        "time). Startup loads use 4 per CPU.", lower_bound=0)
    num_unload_threads: int = _option(
        "num_unload_threads", 0, "Threads unloading models (0: one at a time).",
        lower_bound=0)
    allow_version_labels_for_unavailable_models: bool = _option(
        "allow_version_labels_for_unavailable_models", False, "Allow assigning a "
        "new version label to a version that is not available yet.")
    request_log_max_file_bytes: int = _option(
        "request_log_max_file_bytes", 64 * 1024 * 1024, "Not in upstream. Size at "
        "which a request log file (a model's logging_config) is closed and the "
        "next one begun.", lower_bound=1, upstream=False)
    flush_filesystem_caches: bool = _option(
        "flush_filesystem_caches", True, "Flush file system caches after loads.",
        no_effect="TensorFlow's Python API cannot flush its file systems' caches; "
        "only memory use can differ")

    # Sessions.
    saved_model_tags: str = _option(
        "saved_model_tags", "serve", "Comma-separated tags of the MetaGraphDef to "
        "load.")
    tensorflow_session_parallelism: int = _option(
        "tensorflow_session_parallelism", 0, "Threads of both TensorFlow thread "
        "pools (0: TensorFlow decides).", lower_bound=0)
    tensorflow_intra_op_parallelism: int = _option(
        "tensorflow_intra_op_parallelism", 0, "Threads of TensorFlow's intra-op "
        "pool (0: TensorFlow decides).", lower_bound=0)
    tensorflow_inter_op_parallelism: int = _option(
        "tensorflow_inter_op_parallelism", 0, "Threads of TensorFlow's inter-op "
        "pool (0: TensorFlow decides).", lower_bound=0)
    tensorflow_session_config_file: str = _option(
        "tensorflow_session_config_file", "", "Text-format TensorFlow ConfigProto "
        "for the models' sessions (the parallelism flags set its thread counts).")
    platform_config_file: str = _option(
        "platform_config_file", "", "Text-format PlatformConfigMap (not supported "
        "by this server: refused at startup).")
    enable_model_warmup: bool = _option(
        "enable_model_warmup", True, "Replay assets.extra/tf_serving_warmup_requests "
        "before a version serves.")
    num_request_iterations_for_warmup: int = _option(
        "num_request_iterations_for_warmup", 0, "Times each warmup request is "
        "replayed (<= 0: once).")
    enable_signature_method_name_check: bool = _option(
        "enable_signature_method_name_check", False, "Check SignatureDef "
        "method_name in Classify, Regress and MultiInference.")
    enable_serialization_as_tensor_content: bool = _option(
        "enable_serialization_as_tensor_content", False, "Answer gRPC Predict with "
        "tensors in tensor_content (packed bytes) instead of typed value fields.")
    remove_unused_fields_from_bundle_metagraph: bool = _option(
        "remove_unused_fields_from_bundle_metagraph", True, "Keep only the "
        "SignatureDefs of a loaded MetaGraphDef, to save memory.",
        no_effect="the session keeps its graph in TensorFlow's runtime; only "
        "memory use can differ")

    # Batching.
    enable_batching: bool = _option(
        "enable_batching", False, "Batch concurrent requests to a model.")
    batching_parameters_file: str = _option(
        "batching_parameters_file", "", "Text-format BatchingParameters for "
        "--enable_batching (needs --enable_batching).")
    enable_per_model_batching_params: bool = _option(
        "enable_per_model_batching_parameters", False, "With --enable_batching, "
        "batch each version by the batching_params.pbtxt in its directory (no "
        "file: no batching); only the batch threads come from "
        "--batching_parameters_file.")

    # Monitoring.
    monitoring_config_file: str = _option(
        "monitoring_config_file", "", "Text-format MonitoringConfig (Prometheus "
        "metrics on the HTTP/REST port).")

    # Hardware and runtimes this server does not have.
    per_process_gpu_memory_fraction: float = _option(
        "per_process_gpu_memory_fraction", 0.0, "Fraction of GPU memory to take "
        "(0: TensorFlow decides).", no_effect="no GPU is used")
    xla_cpu_compilation_enabled: bool = _option(
        "xla_cpu_compilation_enabled", False, "Enable XLA:CPU JIT compilation.",
        no_effect="the sessions run without XLA JIT compilation")
    xla_gpu_compilation_enabled: bool = _option(
        "xla_gpu_compilation_enabled", False, "Enable XLA:CPU and XLA:GPU JIT "
        "compilation.", no_effect="no GPU, no XLA JIT compilation")
    prefer_tflite_model: bool = _option(
        "prefer_tflite_model", False, "Serve model.tflite instead of the "
        "SavedModel when a version has one.",
        no_effect="TensorFlow Lite is not supported; the SavedModel is served, as "
        "upstream does when there is no model.tflite")
    num_tflite_pools: int = _option(
        "num_tflite_pools", _CPUS, "TensorFlow Lite interpreter pools per model.",
        no_effect="TensorFlow Lite is not supported")
    num_tflite_interpreters_per_pool: int = _option(
        "num_tflite_interpreters_per_pool", 1, "TensorFlow Lite interpreters per "
        "pool.", no_effect="TensorFlow Lite is not supported")
    mixed_precision: str = _option(
        "mixed_precision", "", "Mixed precision mode (e.g. bfloat16).",
        no_effect="mixed precision rewrites need an accelerator")
    skip_initialize_tpu: bool = _option(
        "skip_initialize_tpu", False, "Do not initialize the TPU system.",
        no_effect="no TPU")
    thread_pool_factory_config_file: str = _option(
        "thread_pool_factory_config_file", "", "Text-format ThreadPoolConfig of "
        "per-request thread pools.",
        no_effect="sessions use TensorFlow's own thread pools")
    enable_profiler: bool = _option(
        "enable_profiler", True, "Serve TensorFlow's profiler gRPC service.",
        no_effect="the profiler service is not served")

    # Flags upstream does not have.
    http_max_connections: int = _option(
        "rest_api_max_connections", 4096, "Not in upstream. Most open HTTP/REST "
        "connections (lowered to the open-file limit); at the limit, the one "
        "idle the longest is closed to admit a new one.", lower_bound=1,
        upstream=False)
    http_max_body_bytes: int = _option(
        "rest_api_max_body_bytes", 0, "Not in upstream. Largest HTTP/REST request "
        "body, with Content-Length or chunked; larger ones get 413. 0: half the "
        "memory available to the server.", lower_bound=0, upstream=False)
    http_read_timeout_in_ms: int = _option(
        "rest_api_read_timeout_in_ms", 50000, "Not in upstream. Time allowed to "
        "receive an HTTP/REST request's headers (from their first byte) and its "
        "body (from its start, plus 1 s per 64 KiB received), and to send a "
        "reply; also the idle time after which a keep-alive connection closes.",
        lower_bound=1, upstream=False)
    max_tensor_fill_bytes: int = _option(
        "max_tensor_fill_bytes", 64 << 20, "Not in upstream. A request tensor "
        "whose *_val list is shorter than its shape is filled with its last value, "
        "as TensorFlow does; fills to more than this many bytes are refused with "
        "INVALID_ARGUMENT before anything is allocated.", lower_bound=0,
        upstream=False)

    # Not flags.
    enforce_session_run_timeout: bool = True  # gRPC deadline -> run timeout
    shutdown_grace_seconds: float = 30.0


def flag_fields():
    """The Options fields that are command-line flags, in declaration order."""
    return [f for f in dataclasses.fields(Options) if "flag" in f.metadata]
