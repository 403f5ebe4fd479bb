"""Message classes for upstream's config protos that pip's wheel lacks.

tensorflow-serving-api ships model_server_config, platform_config and a few
more under tensorflow_serving.config, but not monitoring_config.proto,
ssl_config.proto or servables/tensorflow/session_bundle_config.proto. Their
messages are described here field by field (names, numbers and types are
upstream's) and registered in protobuf's default pool under upstream's file
and message names, so text_format parses upstream's files unchanged and the
full names in error messages are upstream's.
"""

from google.protobuf import descriptor_pb2
from google.protobuf import descriptor_pool
from google.protobuf import message_factory
from google.protobuf import wrappers_pb2  # registers google/protobuf/wrappers.proto

_F = descriptor_pb2.FieldDescriptorProto
_PACKAGE = "tensorflow.serving"


def _field(message, name, number, kind, type_name=None, repeated=False):
    field = message.field.add(name=name, number=number, type=kind,
                              label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL)
    if type_name is not None:
        field.type_name = type_name


def _file(name, dependencies=()):
    proto = descriptor_pb2.FileDescriptorProto(
        name=name, package=_PACKAGE, syntax="proto3")
    proto.dependency.extend(dependencies)
    return proto


def _monitoring_config_file():
    proto = _file("tensorflow_serving/config/monitoring_config.proto")
    prometheus = proto.message_type.add(name="PrometheusConfig")
    _field(prometheus, "enable", 1, _F.TYPE_BOOL)
    _field(prometheus, "path", 2, _F.TYPE_STRING)
    monitoring = proto.message_type.add(name="MonitoringConfig")
    _field(monitoring, "prometheus_config", 1, _F.TYPE_MESSAGE,
           ".tensorflow.serving.PrometheusConfig")
    return proto


def _ssl_config_file():
    proto = _file("tensorflow_serving/config/ssl_config.proto")
    ssl = proto.message_type.add(name="SSLConfig")
    _field(ssl, "server_key", 1, _F.TYPE_STRING)
    _field(ssl, "server_cert", 2, _F.TYPE_STRING)
    _field(ssl, "custom_ca", 3, _F.TYPE_STRING)
    _field(ssl, "client_verify", 4, _F.TYPE_BOOL)
    return proto


def _batching_parameters_file():
    # Only BatchingParameters of session_bundle_config.proto: the file's other
    # messages need TensorFlow's config.proto, and nothing here reads them.
    proto = _file("tensorflow_serving/servables/tensorflow/session_bundle_config.proto",
                  ["google/protobuf/wrappers.proto"])
    batching = proto.message_type.add(name="BatchingParameters")
    int64_value = ".google.protobuf.Int64Value"
    _field(batching, "max_batch_size", 1, _F.TYPE_MESSAGE, int64_value)
    _field(batching, "batch_timeout_micros", 2, _F.TYPE_MESSAGE, int64_value)
    _field(batching, "max_enqueued_batches", 3, _F.TYPE_MESSAGE, int64_value)
    _field(batching, "num_batch_threads", 4, _F.TYPE_MESSAGE, int64_value)
    _field(batching, "thread_pool_name", 5, _F.TYPE_MESSAGE,
           ".google.protobuf.StringValue")
    _field(batching, "allowed_batch_sizes", 6, _F.TYPE_INT64, repeated=True)
    _field(batching, "pad_variable_length_inputs", 7, _F.TYPE_BOOL)
    _field(batching, "enable_large_batch_splitting", 8, _F.TYPE_MESSAGE,
           ".google.protobuf.BoolValue")
    _field(batching, "max_execution_batch_size", 9, _F.TYPE_MESSAGE, int64_value)
    return proto


def _register(file_proto):
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName(file_proto.name)
    except KeyError:
        pool.AddSerializedFile(file_proto.SerializeToString())


def _message_class(full_name):
    return message_factory.GetMessageClass(
        descriptor_pool.Default().FindMessageTypeByName(full_name))


assert wrappers_pb2.Int64Value  # the dependency above is registered first
for _proto in (_monitoring_config_file(), _ssl_config_file(), _batching_parameters_file()):
    _register(_proto)

PrometheusConfig = _message_class("tensorflow.serving.PrometheusConfig")
MonitoringConfig = _message_class("tensorflow.serving.MonitoringConfig")
SSLConfig = _message_class("tensorflow.serving.SSLConfig")
BatchingParameters = _message_class("tensorflow.serving.BatchingParameters")
