"""KServe's own Python ModelServer serving a SavedModel's signature over v2:
the Open Inference Protocol benchmark's peer. Runs in KServe's SDK venv
(@kserve_client//:python, which has tensorflow-cpu too).

  kserve_peer_server.py SAVED_MODEL_DIR MODEL_NAME SIGNATURE HTTP_PORT GRPC_PORT

A kserve.Model, as KServe's docs write a custom predictor: load() loads the
SavedModel with TensorFlow, predict() calls the signature on the request's
inputs (by name) and answers every output as FP32 (the benchmark's model's
type). One worker, as the server it is compared with runs on one core.
"""

import sys

from kserve import InferOutput
from kserve import InferResponse
from kserve import Model
from kserve import ModelServer
from kserve.utils.utils import generate_uuid
import tensorflow as tf


class SavedModelPredictor(Model):

    def __init__(self, name, path, signature):
        super().__init__(name)
        self.path = path
        self.signature = signature
        self.function = None

    def load(self):
        self._saved_model = tf.saved_model.load(self.path)
        self.function = self._saved_model.signatures[self.signature]
        self.ready = True
        return self.ready

    def predict(self, payload, headers=None, response_headers=None):
        del headers, response_headers
        inputs = {tensor.name: tf.constant(tensor.as_numpy()) for tensor in payload.inputs}
        outputs = []
        for name, value in sorted(self.function(**inputs).items()):
            output = InferOutput(name=name, shape=list(value.shape), datatype="FP32")
            output.set_data_from_numpy(value.numpy(), binary_data=False)
            outputs.append(output)
        return InferResponse(model_name=self.name, infer_outputs=outputs,
                             response_id=payload.id or generate_uuid())


def main(argv):
    if len(argv) != 6:
        sys.exit(__doc__)
    path, name, signature, http_port, grpc_port = argv[1:]
    model = SavedModelPredictor(name, path, signature)
    model.load()
    ModelServer(http_port=int(http_port), grpc_port=int(grpc_port), workers=1).start([model])


if __name__ == "__main__":
    main(sys.argv)
