"""The split `tensorflow_serving` package and the hermetic toolchain.

pip's tensorflow-serving-api and this repo both provide `tensorflow_serving`;
every target must see both halves, and run under the project's venv rather
than the host's site-packages.
"""

import importlib
import os
import sys

from absl.testing import absltest


class SplitPackageTest(absltest.TestCase):

    def test_pip_protos_import(self):
        from tensorflow_serving.apis import model_pb2
        from tensorflow_serving.apis import predict_pb2
        from tensorflow_serving.apis import prediction_service_pb2_grpc
        from tensorflow_serving.config import model_server_config_pb2

        request = predict_pb2.PredictRequest()
        request.model_spec.name = "mnist"
        self.assertIsInstance(request.model_spec, model_pb2.ModelSpec)
        self.assertTrue(hasattr(prediction_service_pb2_grpc,
                                "PredictionServiceStub"))
        self.assertIn("site-packages", model_server_config_pb2.__file__)

    def test_repo_half_comes_first(self):
        import tensorflow_serving

        paths = list(tensorflow_serving.__path__)
        self.assertGreaterEqual(len(paths), 2, paths)
        self.assertNotIn("site-packages", paths[0])
        self.assertTrue(any("site-packages" in p for p in paths[1:]), paths)
        # This very file lives in the repo's half.
        self.assertEqual(os.path.dirname(os.path.abspath(__file__)),
                         os.path.abspath(paths[0]))

    def test_repo_module_imports_beside_pip(self):
        module = importlib.import_module(
            "tensorflow_serving.split_package_test")
        self.assertTrue(hasattr(module, "SplitPackageTest"))
        self.assertNotIn("site-packages", module.__file__)

    def test_runs_under_project_venv(self):
        # A venv has its own prefix; the host's site-packages stay invisible.
        self.assertNotEqual(sys.prefix, sys.base_prefix)
        host_site = [p for p in sys.path
                     if p.startswith(sys.base_prefix) and "site-packages" in p]
        self.assertEqual(host_site, [])
        import tensorflow as tf
        self.assertEqual(tf.__version__, "2.21.0")


if __name__ == "__main__":
    absltest.main()
