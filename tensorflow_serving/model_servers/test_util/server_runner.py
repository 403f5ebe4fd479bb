"""What the end-to-end tests add to the launcher: a test case whose servers
always stop, and upstream's half_plus_two test model in versions."""

import os

from absl.testing import absltest

from tensorflow_serving.model_servers import server_launcher


class ServerTestCase(absltest.TestCase):
    """A test with its own temp dir (self.tmp) whose servers always stop."""

    def setUp(self):
        super().setUp()
        self.tmp = self.create_tempdir().full_path
        self.server = None

    def start_server(self, args, models=(), rest=False) -> server_launcher.ServerRunner:
        """Starts a server (the latest is also self.server); stopped on cleanup."""
        server = server_launcher.ServerRunner(args, rest=rest)
        self.addCleanup(server.cleanup)
        self.server = server
        return server.start(models)


# ------------------------------------------------------- half_plus_two models

def export_half_plus_two_versions(base_path: str, versions: dict,
                                  blocking: bool = False) -> None:
    """versions: {version: b}; writes base_path/<version>/ (y = 0.5 x + b).

    blocking: runs never finish until cancelled (see saved_model_half_plus_two).
    """
    from tensorflow_serving.servables.tensorflow.testdata import saved_model_half_plus_two  # pylint: disable=g-import-not-at-top
    os.makedirs(base_path, exist_ok=True)
    for version, b in versions.items():
        tmp = os.path.join(base_path, f".tmp-{version}")
        saved_model_half_plus_two.export_half_plus_two(tmp, b=b, blocking=blocking)
        # Appear atomically so a polling server never sees half a SavedModel.
        os.rename(tmp, os.path.join(base_path, str(version)))


def half_plus_two_request(name, values, shape=None):
    """A PredictRequest for half_plus_two's `x` (float, shape [len(values), 1])."""
    # pylint: disable=g-import-not-at-top
    from tensorflow.core.framework import tensor_pb2
    from tensorflow.core.framework import types_pb2
    from tensorflow_serving.apis import predict_pb2
    # pylint: enable=g-import-not-at-top
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT)
    for size in shape or (len(values), 1):
        tensor.tensor_shape.dim.add(size=size)
    tensor.float_val.extend(values)
    request.inputs["x"].CopyFrom(tensor)
    return request
