"""Tests for the config messages pip lacks and for proto_util's parsing."""

import os

from absl.testing import absltest
import grpc
from google.protobuf import any_pb2
from google.protobuf import text_format

from tensorflow_serving.util import config_protos
from tensorflow_serving.util import proto_util
from tensorflow_serving.util import status


class ConfigProtosTest(absltest.TestCase):

    def test_upstream_names_and_fields(self):
        self.assertEqual(config_protos.SSLConfig.DESCRIPTOR.full_name,
                         "tensorflow.serving.SSLConfig")
        self.assertEqual(config_protos.SSLConfig.DESCRIPTOR.file.name,
                         "tensorflow_serving/config/ssl_config.proto")
        ssl = text_format.Parse('server_key: "k" server_cert: "c" custom_ca: "ca" '
                                'client_verify: true', config_protos.SSLConfig())
        self.assertEqual(ssl.SerializeToString(),
                         b'\n\x01k\x12\x01c\x1a\x02ca \x01')
        monitoring = text_format.Parse(
            'prometheus_config { enable: true path: "/m" }',
            config_protos.MonitoringConfig())
        self.assertTrue(monitoring.prometheus_config.enable)
        self.assertEqual(monitoring.prometheus_config.path, "/m")

    def test_any_resolves_the_type(self):
        params = config_protos.BatchingParameters()
        params.max_batch_size.value = 7
        packed = any_pb2.Any()
        packed.Pack(params)
        self.assertEqual(packed.type_url,
                         "type.googleapis.com/tensorflow.serving.BatchingParameters")
        text = text_format.MessageToString(packed)
        self.assertIn("max_batch_size", text)


class ProtoUtilTest(absltest.TestCase):

    def test_parse_error_names_file_type_line_and_column(self):
        path = os.path.join(self.create_tempdir().full_path, "monitoring.config")
        with open(path, "w") as f:
            f.write("prometheus_config {\n  enable: true\n  colour: 1\n}\n")
        with self.assertRaises(status.ServingError) as cm:
            proto_util.parse_proto_text_file(path, config_protos.MonitoringConfig())
        self.assertEqual(cm.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(
            cm.exception.message,
            f"Invalid protobuf file: '{path}': Error parsing text-format "
            "tensorflow.serving.MonitoringConfig: 3:3: Message type "
            '"tensorflow.serving.PrometheusConfig" has no field named "colour".')

    def test_unreadable_files(self):
        tmp = self.create_tempdir().full_path
        with self.assertRaises(status.ServingError) as cm:
            proto_util.read_file(os.path.join(tmp, "missing"))
        self.assertEqual(cm.exception.code, grpc.StatusCode.NOT_FOUND)
        with self.assertRaises(status.ServingError) as cm:
            proto_util.read_file(tmp)
        self.assertIn(tmp, cm.exception.message)
        with open(os.path.join(tmp, "binary"), "wb") as f:
            f.write(b"\xff\xfe")
        with self.assertRaises(status.ServingError) as cm:
            proto_util.parse_proto_text_file(os.path.join(tmp, "binary"),
                                             config_protos.SSLConfig())
        self.assertIn("UTF-8", cm.exception.message)

    def test_has_scheme(self):
        self.assertTrue(proto_util.has_scheme("gs://bucket/x"))
        self.assertTrue(proto_util.has_scheme("ram://x"))
        self.assertFalse(proto_util.has_scheme("/tmp/a://b"))
        self.assertFalse(proto_util.has_scheme("relative/path"))


if __name__ == "__main__":
    absltest.main()
