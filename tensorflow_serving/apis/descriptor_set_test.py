"""Tests descriptor_set: the closure protoc gets from pip's descriptors."""

import os
import subprocess
import sys
import tempfile

from absl.testing import absltest
from google.protobuf import descriptor_pb2

import descriptor_set  # pylint: disable=import-error  (a script beside this test)


class DescriptorSetTest(absltest.TestCase):

    def test_dependencies_come_before_dependents(self):
        # pylint: disable=g-import-not-at-top
        from tensorflow_serving.apis import get_model_status_pb2
        from tensorflow_serving.apis import prediction_service_pb2
        # pylint: enable=g-import-not-at-top
        result = descriptor_set.descriptor_set(
            [prediction_service_pb2.DESCRIPTOR, get_model_status_pb2.DESCRIPTOR])
        names = [f.name for f in result.file]
        self.assertEqual(len(names), len(set(names)))
        self.assertIn("tensorflow_serving/apis/prediction_service.proto", names)
        self.assertEqual(names[-1], "tensorflow_serving/apis/get_model_status.proto")
        position = {name: i for i, name in enumerate(names)}
        for f in result.file:
            for dep in f.dependency:
                self.assertLess(position[dep], position[f.name], (dep, f.name))
        self.assertIn("google/protobuf/wrappers.proto", names)
        self.assertIn("tensorflow/core/framework/tensor.proto", names)

    def test_the_open_inference_protocol_comes_from_tritonclient(self):
        from tritonclient.grpc import service_pb2  # pylint: disable=g-import-not-at-top
        result = descriptor_set.descriptor_set([service_pb2.DESCRIPTOR])
        self.assertEqual([f.name for f in result.file],
                         ["model_config.proto", "grpc_service.proto"])
        service = result.file[-1]
        self.assertEqual(service.package, "inference")
        methods = {m.name for s in service.service if s.name == "GRPCInferenceService"
                   for m in s.method}
        self.assertLessEqual({"ServerLive", "ServerReady", "ModelReady", "ServerMetadata",
                              "ModelMetadata", "ModelInfer", "ModelConfig"}, methods)

    def test_editions_are_refused(self):
        proto = descriptor_pb2.FileDescriptorProto(name="x.proto", syntax="editions")
        self.assertTrue(descriptor_set.uses_editions(proto))
        proto = descriptor_pb2.FileDescriptorProto(name="x.proto", syntax="proto3")
        self.assertFalse(descriptor_set.uses_editions(proto))
        proto.message_type.add(name="M").options.features.SetInParent()
        self.assertTrue(descriptor_set.uses_editions(proto))

    def test_a_changed_file_list_fails_with_the_difference(self):
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                              "descriptor_set.py")
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "set.pb")
            result = subprocess.run(
                [sys.executable, script, out, "tensorflow/core/framework/tensor.proto",
                 "not/a/real.proto"],
                capture_output=True, text=True, check=False,
                env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
            self.assertEqual(result.returncode, 1, result.stderr)
            self.assertIn("update PROTO_FILES", result.stderr)
            self.assertIn("not/a/real.proto", result.stderr)
            self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    absltest.main()
