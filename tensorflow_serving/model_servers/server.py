"""The model server's wiring: ServerCore + gRPC + REST + config polling + shutdown.

Mirrors upstream's model_servers/server.cc: build the ModelServerConfig (one
model from --model_name/--model_base_path or the --model_config_file), start
ServerCore (which returns once the initial versions are loaded), then start
the gRPC services and the HTTP/REST API and log where they listen.
"""

import concurrent.futures
import dataclasses
import os
import threading

import grpc
from absl import logging
from google.protobuf import text_format

from tensorflow_serving.config import model_server_config_pb2
from tensorflow_serving.model_servers import metrics as metrics_lib

# The serving modules (and so TensorFlow) are imported only after the flags
# and config files have been checked: a config error is reported at once, as
# one line, before TensorFlow's start-up noise.

_INT32_MAX = 2**31 - 1


class StartupError(Exception):
    """A configuration or startup problem reported to the user as one line."""


@dataclasses.dataclass
class Options:
    """Upstream's Server::Options, filled from the command-line flags."""
    grpc_port: int = 8500
    grpc_socket_path: str = ""
    grpc_channel_arguments: str = ""
    grpc_max_threads: int = 4 * (os.cpu_count() or 1)
    enable_grpc_healthcheck_service: bool = False
    http_port: int = 0
    http_num_threads: int = 4 * (os.cpu_count() or 1)
    http_timeout_in_ms: int = 30000
    http_enable_cors: bool = False
    http_max_connections: int = 4096
    http_max_body_bytes: int = 0  # 0: half the memory available
    http_read_timeout_in_ms: int = 50000
    enable_batching: bool = False
    batching_parameters_file: str = ""
    model_name: str = "default"
    model_base_path: str = ""
    model_config_file: str = ""
    model_config_file_poll_wait_seconds: int = 0
    file_system_poll_wait_seconds: int = 1
    max_num_load_retries: int = 5
    load_retry_interval_micros: int = 60 * 1000 * 1000
    monitoring_config_file: str = ""
    enable_model_warmup: bool = True
    num_request_iterations_for_warmup: int = 1
    saved_model_tags: str = "serve"
    tensorflow_intra_op_parallelism: int = 0
    tensorflow_inter_op_parallelism: int = 0
    tensorflow_session_parallelism: int = 0
    allow_version_labels_for_unavailable_models: bool = False
    shutdown_grace_seconds: float = 30.0


def _read_text(path: str, what: str) -> str:
    try:
        with open(path, "r", encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise StartupError(f"Could not read {what} '{path}': {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise StartupError(f"{what} '{path}' is not UTF-8 text") from None


def read_model_server_config(path: str) -> model_server_config_pb2.ModelServerConfig:
    text = _read_text(path, "--model_config_file")
    config = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as e:
        raise StartupError(f"Invalid protobuf file: '{path}': {e}") from None
    return config


def build_single_model_config(name: str, base_path: str):
    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add()
    model.name = name
    model.base_path = base_path
    model.model_platform = "tensorflow"
    return config


def validate_config(config, source: str) -> None:
    which = config.WhichOneof("config")
    if which == "custom_model_config":
        raise StartupError(f"{source}: ModelServer does not yet support custom model config.")
    names = set()
    for model in config.model_config_list.config:
        if not model.name:
            raise StartupError(f"{source}: a model config has no name")
        if not model.base_path:
            raise StartupError(f"{source}: model '{model.name}' has no base_path")
        if model.name in names:
            raise StartupError(f"{source}: model name '{model.name}' appears twice")
        if model.model_platform not in ("", "tensorflow"):
            raise StartupError(f"{source}: model '{model.name}': model_platform "
                               f"'{model.model_platform}' is not supported (only "
                               "'tensorflow')")
        names.add(model.name)


def parse_grpc_channel_arguments(text: str) -> list[tuple[str, object]]:
    """'key=value,key2=value2' -> gRPC options; integer values stay integers."""
    result = []
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise StartupError(f"--grpc_channel_arguments: expected key=value, got {item!r}")
        key, value = key.strip(), value.strip()
        try:
            result.append((key, int(value)))
        except ValueError:
            result.append((key, value))
    return result


def _import_bundle_factory():
    from tensorflow_serving.servables.tensorflow import saved_model_bundle_factory  # pylint: disable=g-import-not-at-top
    return saved_model_bundle_factory


class Server:
    """Owns ServerCore and the listeners; start() then wait(), stop() from a signal."""

    def __init__(self, options: Options):
        self._options = options
        self._core = None
        self._grpc_server = None
        self._http_server = None
        self._health = None
        self._metrics = None
        self._stop_polling = threading.Event()
        self._poll_thread = None
        self._config_lock = threading.Lock()
        self._config_text = None
        self.grpc_port = None
        self.http_port = None

    # ---------------------------------------------------------------- start
    def _model_server_config(self):
        o = self._options
        if o.model_config_file and o.model_base_path:
            raise StartupError("Specify only one of --model_config_file and "
                               "--model_base_path")
        if not o.model_config_file and not o.model_base_path:
            raise StartupError("Either --model_config_file or --model_base_path "
                               "must be specified")
        if o.model_base_path:
            config = build_single_model_config(o.model_name, o.model_base_path)
        else:
            config = read_model_server_config(o.model_config_file)
            self._config_text = text_format.MessageToString(config)
        validate_config(config, o.model_config_file or "--model_base_path")
        return config

    def _batching_options(self):
        o = self._options
        if not o.enable_batching:
            if o.batching_parameters_file:
                logging.warning("--batching_parameters_file is ignored without "
                                "--enable_batching")
            return None
        from tensorflow_serving.batching import batching_parameters  # pylint: disable=g-import-not-at-top
        from tensorflow_serving.batching import batching_session  # pylint: disable=g-import-not-at-top
        if not o.batching_parameters_file:
            return batching_session.BatchingOptions(
                thread_pool_name="model_server_batch_threads")
        text = _read_text(o.batching_parameters_file, "--batching_parameters_file")
        try:
            return batching_parameters.parse_batching_parameters(text)
        except ValueError as e:
            raise StartupError(f"Invalid --batching_parameters_file "
                               f"'{o.batching_parameters_file}': {e}") from None

    def _monitoring(self):
        o = self._options
        if not o.monitoring_config_file:
            return None
        text = _read_text(o.monitoring_config_file, "--monitoring_config_file")
        try:
            config = metrics_lib.parse_monitoring_config(text)
        except ValueError as e:
            raise StartupError(f"Invalid --monitoring_config_file "
                               f"'{o.monitoring_config_file}': {e}") from None
        return config if config.prometheus_enable else None

    def _loader_factory(self, batching_options):
        o = self._options
        factory_mod = _import_bundle_factory()
        tags = tuple(t.strip() for t in o.saved_model_tags.split(",") if t.strip())
        intra = o.tensorflow_intra_op_parallelism or o.tensorflow_session_parallelism
        inter = o.tensorflow_inter_op_parallelism or o.tensorflow_session_parallelism
        bundle_options = factory_mod.BundleOptions(
            tags=tags or ("serve",),
            intra_op_parallelism=intra,
            inter_op_parallelism=inter,
            batching_options=batching_options,
            enable_model_warmup=o.enable_model_warmup,
            num_request_iterations_for_warmup=o.num_request_iterations_for_warmup)
        return factory_mod.make_loader_factory(bundle_options)

    def build_and_start(self) -> None:
        """Validates everything, loads the models, starts listening.

        Raises StartupError for anything the user must fix.
        """
        o = self._options
        for name in ("grpc_port", "http_port"):
            port = getattr(o, name)
            if not 0 <= port <= 65535:
                raise StartupError(f"--{'port' if name == 'grpc_port' else 'rest_api_port'}"
                                   f" must be in [0, 65535], got {port}")
        if o.grpc_max_threads < 1 or o.http_num_threads < 1:
            raise StartupError("--grpc_max_threads and --rest_api_num_threads must be >= 1")
        if o.file_system_poll_wait_seconds < 0 or o.model_config_file_poll_wait_seconds < 0:
            raise StartupError("poll wait seconds must be >= 0")
        if o.max_num_load_retries < 0 or o.load_retry_interval_micros < 0:
            raise StartupError("--max_num_load_retries and --load_retry_interval_micros "
                               "must be >= 0")
        if o.num_request_iterations_for_warmup < 1:
            raise StartupError("--num_request_iterations_for_warmup must be >= 1")
        if not (o.grpc_port or o.grpc_socket_path or o.http_port):
            raise StartupError("Nothing to listen on: --port is 0 and neither "
                               "--grpc_socket_path nor --rest_api_port is set")
        config = self._model_server_config()
        channel_args = parse_grpc_channel_arguments(o.grpc_channel_arguments)
        batching_options = self._batching_options()
        monitoring = self._monitoring()
        if monitoring is not None:
            self._metrics = metrics_lib.Metrics()
        if o.model_base_path:
            logging.info("Building single TensorFlow model file config:  model_name: "
                         "%s model_base_path: %s", o.model_name, o.model_base_path)

        from tensorflow_serving.model_servers import server_core  # pylint: disable=g-import-not-at-top
        core_options = server_core.ServerCoreOptions(
            model_server_config=config,
            loader_factory=self._loader_factory(batching_options),
            file_system_poll_wait_seconds=o.file_system_poll_wait_seconds,
            max_num_load_retries=o.max_num_load_retries,
            load_retry_interval_micros=o.load_retry_interval_micros,
            allow_version_labels_for_unavailable_models=(
                o.allow_version_labels_for_unavailable_models))
        self._core = server_core.ServerCore(core_options)
        self._core.start()

        self._start_grpc(channel_args)
        if monitoring is not None and not o.http_port:
            logging.warning("Prometheus monitoring is enabled but --rest_api_port is "
                            "not set: metrics are exported on the REST port only.")
        if o.http_port:
            if o.http_port == o.grpc_port:
                logging.error("--rest_api_port cannot be same as --port. Please use a "
                              "different port for HTTP/REST API. Skipped exporting "
                              "HTTP/REST API.")
            else:
                self._start_http(monitoring)
        if o.model_config_file and o.model_config_file_poll_wait_seconds > 0:
            self._poll_thread = threading.Thread(
                target=self._poll_config_file, name="model_config_poller", daemon=True)
            self._poll_thread.start()

    def _start_grpc(self, channel_args) -> None:
        # pylint: disable=g-import-not-at-top
        from tensorflow_serving.apis import model_service_pb2_grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc
        from tensorflow_serving.model_servers import model_service_impl
        from tensorflow_serving.model_servers import prediction_service_impl
        # pylint: enable=g-import-not-at-top
        o = self._options
        executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=o.grpc_max_threads, thread_name_prefix="grpc")
        grpc_options = [("grpc.max_send_message_length", _INT32_MAX),
                        ("grpc.max_receive_message_length", _INT32_MAX),
                        ("grpc.so_reuseport", 0)]
        grpc_options += channel_args
        server = grpc.server(executor, options=grpc_options)
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            prediction_service_impl.PredictionServiceImpl(self._core, self._metrics),
            server)
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(
            model_service_impl.ModelServiceImpl(self._core),
            server)
        if o.enable_grpc_healthcheck_service:
            from grpc_health.v1 import health  # pylint: disable=g-import-not-at-top
            from grpc_health.v1 import health_pb2  # pylint: disable=g-import-not-at-top
            from grpc_health.v1 import health_pb2_grpc  # pylint: disable=g-import-not-at-top
            self._health = health.HealthServicer()
            health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
            self._health.set("", health_pb2.HealthCheckResponse.SERVING)
        address = f"0.0.0.0:{o.grpc_port}"
        if o.grpc_port:  # --port=0 disables the TCP listener, as upstream.
            try:
                self.grpc_port = server.add_insecure_port(address)
            except RuntimeError:
                self.grpc_port = 0
            if not self.grpc_port:
                raise StartupError(f"Failed to start gRPC server: could not bind "
                                   f"{address} (port in use?)")
        if o.grpc_socket_path:
            try:
                bound = server.add_insecure_port("unix:" + o.grpc_socket_path)
            except RuntimeError:
                bound = 0
            if not bound:
                raise StartupError(f"Failed to listen on --grpc_socket_path "
                                   f"'{o.grpc_socket_path}'")
        server.start()
        self._grpc_server = server
        if o.grpc_port:
            logging.info("Running gRPC ModelServer at 0.0.0.0:%d ...", self.grpc_port)
        if o.grpc_socket_path:
            logging.info("Running gRPC ModelServer at UNIX socket %s ...",
                         o.grpc_socket_path)

    def _start_http(self, monitoring) -> None:
        # pylint: disable=g-import-not-at-top
        from tensorflow_serving.model_servers import http_rest_api_handler
        from tensorflow_serving.model_servers import http_server
        # pylint: enable=g-import-not-at-top
        o = self._options
        handler = http_rest_api_handler.HttpRestApiHandler(self._core, self._metrics)
        try:
            self._http_server = http_server.HttpServer(
                o.http_port, handler, o.http_timeout_in_ms, metrics=self._metrics,
                metrics_path=monitoring.prometheus_path if monitoring else None,
                num_threads=o.http_num_threads, enable_cors=o.http_enable_cors,
                max_connections=o.http_max_connections,
                max_body_bytes=o.http_max_body_bytes,
                read_timeout_in_ms=o.http_read_timeout_in_ms)
        except OSError as e:
            logging.error("Failed to start HTTP Server at localhost:%d: %s",
                          o.http_port, e.strerror or e)
            raise StartupError(f"Failed to start HTTP Server at localhost:{o.http_port}:"
                               f" {e.strerror or e}") from None
        self._http_server.start()
        self.http_port = self._http_server.server_address[1]
        logging.info("Exporting HTTP/REST API at:localhost:%d ...", self.http_port)

    # ------------------------------------------------------- config polling
    def _poll_config_file(self) -> None:
        o = self._options
        while not self._stop_polling.wait(o.model_config_file_poll_wait_seconds):
            try:
                config = read_model_server_config(o.model_config_file)
                validate_config(config, o.model_config_file)
            except StartupError as e:
                logging.error("Failed to read the model config file, keeping the "
                              "current config: %s", e)
                continue
            text = text_format.MessageToString(config)
            with self._config_lock:
                if text == self._config_text:
                    continue
                self._config_text = text
            logging.info("Model config file %s changed; reloading",
                         o.model_config_file)
            try:
                self._core.reload_config(config)
            except Exception as e:  # pylint: disable=broad-except
                logging.error("ReloadConfig from %s failed: %s", o.model_config_file, e)

    # ----------------------------------------------------------------- stop
    def stop(self) -> None:
        """Stops accepting, drains requests in flight, unloads every model."""
        grace = self._options.shutdown_grace_seconds
        self._stop_polling.set()
        if self._health is not None:
            self._health.enter_graceful_shutdown()
        events = []
        if self._grpc_server is not None:
            events.append(self._grpc_server.stop(grace))
        if self._http_server is not None:
            self._http_server.stop(grace)
        for event in events:
            event.wait(grace + 1)
        if self._core is not None:
            self._core.stop()
        logging.info("Server stopped.")
