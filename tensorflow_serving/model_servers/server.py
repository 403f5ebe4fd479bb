"""The model server's wiring: ServerCore + gRPC + REST + config polling + shutdown.

Mirrors upstream's model_servers/server.cc: refuse the option combinations
upstream refuses, build the ModelServerConfig (the --model_config_file if
given, else one model from --model_name/--model_base_path), read the batching,
session, monitoring and SSL config files, start ServerCore (which returns once
the initial models are loaded, or fails naming the ones that failed), then
start the native listeners, gRPC (over TLS with --ssl_config_file, or ALTS)
and the HTTP/REST API (with the Prometheus page when monitoring asks for
it), whose calls for the control plane (ModelService, a model's status, the
page) this process answers, and log where they listen.
"""

import dataclasses
import importlib.metadata
import os
import ssl
import tempfile
import threading

from absl import logging
from google.protobuf import text_format

from tensorflow_serving.config import model_server_config_pb2
from tensorflow_serving.model_servers.server_options import Options
from tensorflow_serving.util import config_protos
from tensorflow_serving.util import cpu_info
from tensorflow_serving.util import proto_util
from tensorflow_serving.util import status as status_lib

# How long a stopping server waits for the request logs' last records.
_LOG_FLUSH_SECONDS = 30


# The serving modules (and so TensorFlow) are imported only after the flags
# and config files have been checked: a config error is reported at once, as
# one line, before TensorFlow's start-up noise.

class StartupError(Exception):
    """A configuration or startup problem reported to the user as one line."""


def read_config_file(path: str, message, flag: str):
    """Upstream's ParseProtoTextFile for a --flag's file; StartupError if bad."""
    try:
        return proto_util.parse_proto_text_file(path, message)
    except status_lib.ServingError as e:
        raise StartupError(f"--{flag}: {e.message}") from None


def read_model_server_config(path: str) -> model_server_config_pb2.ModelServerConfig:
    return read_config_file(path, model_server_config_pb2.ModelServerConfig(),
                            "model_config_file")


def build_single_model_config(name: str, base_path: str):
    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add()
    model.name = name
    model.base_path = base_path
    model.model_platform = "tensorflow"
    return config


def validate_config(config, source: str) -> None:
    """ServerCore's checks of a ModelServerConfig from `source`, as one line.

    Raises:
      StartupError: naming `source` and what ServerCore refuses.
    """
    from tensorflow_serving.model_servers import server_core  # pylint: disable=g-import-not-at-top
    try:
        server_core.validate_model_server_config(config)
    except status_lib.ServingError as e:
        raise StartupError(f"{source}: {e.message}") from None


def parse_grpc_channel_arguments(text: str) -> list[tuple[str, object]]:
    """'key=value,key2=value2' -> gRPC options; integer values stay integers.

    Raises:
      StartupError: an item without '='.
    """
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


def check_ssl_config(config, path: str) -> None:
    """Fails with one line if the SSLConfig's key, certificate or CA is unusable.

    gRPC would only find out at the first handshake; Python's ssl module loads
    the same PEM data now and checks that the key belongs to the certificate.

    Raises:
      StartupError: naming the file and what is wrong with it.
    """
    if not config.server_key or not config.server_cert:
        raise StartupError(f"--ssl_config_file '{path}': server_key and server_cert "
                           "must both be set")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as tmp:
        cert_path = os.path.join(tmp, "cert.pem")
        key_path = os.path.join(tmp, "key.pem")
        for file_path, text in ((cert_path, config.server_cert), (key_path, config.server_key)):
            with open(os.open(file_path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(text)
        try:
            context.load_cert_chain(cert_path, key_path)
        except ssl.SSLError as e:
            raise StartupError(f"--ssl_config_file '{path}': server_key and "
                               f"server_cert are not a usable PEM key and certificate "
                               f"pair ({e.reason or e})") from None
    if config.custom_ca:
        try:
            context.load_verify_locations(cadata=config.custom_ca)
        except (ssl.SSLError, ValueError) as e:
            raise StartupError(f"--ssl_config_file '{path}': custom_ca is not a PEM "
                               f"certificate ({getattr(e, 'reason', None) or e})") from None
    elif config.client_verify:
        raise StartupError(f"--ssl_config_file '{path}': client_verify needs custom_ca "
                           "(the CA that signs client certificates)")


def prometheus_page_path() -> str:
    from tensorflow_serving.util import prometheus_exporter  # pylint: disable=g-import-not-at-top
    return prometheus_exporter.PROMETHEUS_PATH


def _import_bundle_factory():
    from tensorflow_serving.servables.tensorflow import saved_model_bundle_factory  # pylint: disable=g-import-not-at-top
    return saved_model_bundle_factory


class Server:
    """Owns ServerCore and the native listeners; build_and_start(), then stop()."""

    def __init__(self, options: Options):
        self._options = options
        self._core = None
        self._native = None          # NativeDataPlane: the listeners
        self._log_collector = None   # writes the sampled requests' records
        self._stop_polling = threading.Event()
        self._poll_thread = None
        self.grpc_port = None
        self.http_port = None

    # ---------------------------------------------------------------- start
    def _check_options(self) -> None:
        """The option combinations upstream's BuildAndStart refuses (and ours)."""
        o = self._options
        if not (o.grpc_port or o.grpc_socket_path or o.http_port):
            raise StartupError("Nothing to listen on: --port is 0 and neither "
                               "--grpc_socket_path nor --rest_api_port is set")
        if o.use_alts_credentials and o.ssl_config_file:
            raise StartupError("Either use_alts_credentials must be false or "
                               "ssl_config_file must be empty.")
        if not o.model_config_file and not o.model_base_path:
            raise StartupError("Both server_options.model_base_path and "
                               "server_options.model_config_file are empty!")
        if not o.enable_batching and o.batching_parameters_file:
            raise StartupError("server_options.batching_parameters_file is set "
                               "without setting server_options.enable_batching to "
                               "true.")
        if (o.tensorflow_intra_op_parallelism > 0 and o.tensorflow_inter_op_parallelism > 0
                and o.tensorflow_session_parallelism > 0):
            raise StartupError("Either configure server_options.tensorflow_session_"
                               "parallelism or (server_options.tensorflow_intra_op_"
                               "parallelism, server_options.tensorflow_inter_op_"
                               "parallelism) separately. You cannot configure all.")

    def _model_server_config(self):
        """--model_config_file if set (model name and base path are then ignored)."""
        o = self._options
        if o.model_config_file:
            config = read_model_server_config(o.model_config_file)
        else:
            config = build_single_model_config(o.model_name, o.model_base_path)
        validate_config(config, o.model_config_file or "--model_base_path")
        return config

    def _batching_options(self):
        o = self._options
        if not o.enable_batching:
            return None
        from tensorflow_serving.batching import batching_parameters  # pylint: disable=g-import-not-at-top
        if not o.batching_parameters_file:
            return batching_parameters.BatchingOptions(
                thread_pool_name="model_server_batch_threads")
        params = read_config_file(o.batching_parameters_file,
                                  batching_parameters.BatchingParameters(),
                                  "batching_parameters_file")
        try:
            return batching_parameters.to_batching_options(
                params, o.batching_parameters_file)
        except status_lib.ServingError as e:
            raise StartupError(f"--batching_parameters_file: {e.message}") from None

    def _session_config(self):
        o = self._options
        if not o.tensorflow_session_config_file:
            return None
        from tensorflow.core.protobuf import config_pb2  # pylint: disable=g-import-not-at-top
        return read_config_file(o.tensorflow_session_config_file,
                                config_pb2.ConfigProto(),
                                "tensorflow_session_config_file")

    def _monitoring(self):
        """The PrometheusConfig when --monitoring_config_file enables it, else None.

        As upstream, the file is read only when the HTTP/REST API is exported.
        """
        o = self._options
        if not o.monitoring_config_file or not o.http_port or o.http_port == o.grpc_port:
            return None
        config = read_config_file(o.monitoring_config_file,
                                  config_protos.MonitoringConfig(),
                                  "monitoring_config_file")
        if not config.prometheus_config.enable:
            return None
        from tensorflow_serving.util import monitoring  # pylint: disable=g-import-not-at-top
        monitoring.enable()
        return config.prometheus_config

    def _ssl_config(self):
        """The checked SSLConfig of --ssl_config_file, or None."""
        o = self._options
        if o.use_alts_credentials or not o.ssl_config_file:
            return None
        config = read_config_file(o.ssl_config_file, config_protos.SSLConfig(),
                                  "ssl_config_file")
        check_ssl_config(config, o.ssl_config_file)
        return config

    def _saved_model_tags(self) -> tuple:
        tags = tuple(t.strip() for t in self._options.saved_model_tags.split(",")
                     if t.strip())
        return tags or ("serve",)

    def _loader_factory(self, batching_options, session_config):
        o = self._options
        factory_mod = _import_bundle_factory()
        tags = self._saved_model_tags()
        if o.tensorflow_intra_op_parallelism > 0 or o.tensorflow_inter_op_parallelism > 0:
            intra = o.tensorflow_intra_op_parallelism
            inter = o.tensorflow_inter_op_parallelism
        else:
            intra = inter = o.tensorflow_session_parallelism
        bundle_options = factory_mod.BundleOptions(
            make_native_bundle=self._native.make_bundle,
            tags=tags,
            intra_op_parallelism=intra,
            inter_op_parallelism=inter,
            batching_options=batching_options,
            enable_per_model_batching_params=o.enable_per_model_batching_params,
            session_config=session_config,
            enable_model_warmup=o.enable_model_warmup,
            num_request_iterations_for_warmup=max(1, o.num_request_iterations_for_warmup))
        return factory_mod.make_loader_factory(bundle_options)

    def build_and_start(self) -> None:
        """Validates everything, loads the models, starts listening.

        Raises StartupError for anything the user must fix, and ServingError
        when a model fails to load.
        """
        o = self._options
        self._check_options()
        config = self._model_server_config()
        channel_args = parse_grpc_channel_arguments(o.grpc_channel_arguments)
        batching_options = self._batching_options()
        monitoring = self._monitoring()
        ssl_config = self._ssl_config()
        session_config = self._session_config()

        if not o.model_config_file:
            logging.info("Building single TensorFlow model file config:  model_name: "
                         "%s model_base_path: %s", o.model_name, o.model_base_path)
        from tensorflow_serving.model_servers import native_data_plane  # pylint: disable=g-import-not-at-top
        from tensorflow_serving.model_servers import server_core  # pylint: disable=g-import-not-at-top
        from tensorflow_serving.model_servers import tfrecord_log_collector  # pylint: disable=g-import-not-at-top
        try:
            module = native_data_plane.load()
        except RuntimeError as e:
            raise StartupError(str(e)) from None
        self._native = native_data_plane.NativeDataPlane(module, self._saved_model_tags())
        self._log_collector = tfrecord_log_collector.TfRecordLogCollector(
            self._native.next_request_logs, o.request_log_max_file_bytes)
        self._log_collector.start()
        # Before the models load: their warmup runs on the native side.
        self._native.configure(self._native_options(channel_args, ssl_config, monitoring))
        core_options = server_core.ServerCoreOptions(
            model_server_config=config,
            loader_factory=self._loader_factory(batching_options, session_config),
            file_system_poll_wait_seconds=o.file_system_poll_wait_seconds,
            max_num_load_retries=o.max_num_load_retries,
            load_retry_interval_micros=max(0, o.load_retry_interval_micros),
            num_load_threads=o.num_load_threads,
            num_unload_threads=o.num_unload_threads,
            allow_version_labels_for_unavailable_models=(
                o.allow_version_labels_for_unavailable_models),
            serving_observer=self._native)
        self._core = server_core.ServerCore(core_options)
        self._core.start()
        self._start_listeners()
        if o.model_config_file and o.model_config_file_poll_wait_seconds > 0:
            self._poll_thread = threading.Thread(
                target=self._poll_config_file, name="model_config_poller", daemon=True)
            self._poll_thread.start()

    def _native_options(self, channel_args, ssl_config, monitoring) -> dict:
        """What the native listeners take: the options, and what derives from them."""
        o = self._options
        addresses = []
        if o.grpc_port:  # --port=0 disables the TCP listener, as upstream.
            addresses.append(f"0.0.0.0:{o.grpc_port}")
        if o.grpc_socket_path:
            addresses.append("unix:" + o.grpc_socket_path)
        http_port = o.http_port
        if http_port and http_port == o.grpc_port:
            logging.error("--rest_api_port cannot be same as --port. Please use a "
                          "different port for HTTP/REST API. Skipped exporting "
                          "HTTP/REST API.")
            http_port = 0
        ssl = None
        if ssl_config is not None:
            ssl = (ssl_config.server_key, ssl_config.server_cert, ssl_config.custom_ca,
                   ssl_config.client_verify)
        options = dataclasses.asdict(o)
        options.update(
            http_port=http_port,
            grpc_addresses=addresses,
            # A thread per completion queue: one per CPU, and at least two,
            # so that one long model run never holds up every other call.
            grpc_threads=min(o.grpc_max_threads, max(2, cpu_info.num_schedulable_cpus())),
            grpc_int_channel_arguments=[(k, v) for k, v in channel_args
                                        if isinstance(v, int)],
            grpc_str_channel_arguments=[(k, str(v)) for k, v in channel_args
                                        if not isinstance(v, int)],
            ssl=ssl,
            metrics_path=(monitoring.path or prometheus_page_path()) if monitoring else "",
            server_version=importlib.metadata.version("tensorflow-serving-api"))
        return options

    def _start_listeners(self) -> None:
        # pylint: disable=g-import-not-at-top
        from tensorflow_serving.model_servers import model_service_impl
        from tensorflow_serving.util import prometheus_exporter
        # pylint: enable=g-import-not-at-top
        o = self._options
        model_service = model_service_impl.ModelServiceImpl(self._core)
        exporter = prometheus_exporter.PrometheusExporter()
        handlers = {
            "GetModelStatus": model_service.get_model_status,
            "HandleReloadConfigRequest": model_service.handle_reload_config_request,
            "PrometheusPage": lambda request, call: exporter.generate_page(),
        }
        try:
            grpc_ports, self.http_port = self._native.start(handlers)
        except RuntimeError as e:
            raise StartupError(str(e)) from None
        if o.use_alts_credentials:
            logging.info("Using ALTS credentials")
        elif o.ssl_config_file:
            logging.info("Using SSL credentials")
        if o.grpc_port:
            self.grpc_port = grpc_ports[0]
            logging.info("Running gRPC ModelServer at 0.0.0.0:%d ...", self.grpc_port)
        if o.grpc_socket_path:
            logging.info("Running gRPC ModelServer at UNIX socket %s ...",
                         o.grpc_socket_path)
        if self.http_port:
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
            # As upstream, every poll applies the file, so a config a gRPC
            # reload changed goes back to the file's; applying what is already
            # served changes nothing and is skipped.
            if config == self._core.config:
                continue
            logging.info("Reloading the model config from %s", o.model_config_file)
            try:
                self._core.reload_config(config)
            except Exception as e:  # pylint: disable=broad-except
                logging.error("ReloadConfig from %s failed: %s", o.model_config_file, e)

    # ----------------------------------------------------------------- stop
    def stop(self) -> None:
        """Stops accepting, drains requests in flight, unloads every model."""
        self._stop_polling.set()
        if self._native is not None:
            self._native.enter_graceful_shutdown()
            self._native.stop(self._options.shutdown_grace_seconds)
            # Requests are drained: what they logged is written and closed.
            self._native.close_request_logs()
            if self._log_collector is not None and not self._log_collector.join(
                    _LOG_FLUSH_SECONDS):
                logging.warning("Request logs were still being written after %d s",
                                _LOG_FLUSH_SECONDS)
        if self._core is not None:
            self._core.stop()
        logging.info("Server stopped.")
