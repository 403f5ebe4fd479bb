"""GetModelMetadata: SignatureDefMap in an Any, model_spec, request checks."""

import grpc
from absl.testing import absltest

from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.servables.tensorflow import get_model_metadata_impl
from tensorflow_serving.servables.tensorflow import test_util


def _request(*fields, with_spec=True):
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    if with_spec:
        request.model_spec.name = "hp2"
    request.metadata_field.extend(fields)
    return request


class GetModelMetadataTest(test_util.HalfPlusTwoTestCase):

    def test_signature_def_map(self):
        response = get_model_metadata_impl.get_model_metadata(
            self.handle, _request("signature_def"))
        self.assertEqual("hp2", response.model_spec.name)
        self.assertEqual(self.VERSION, response.model_spec.version.value)
        self.assertEqual("", response.model_spec.signature_name)
        any_map = response.metadata["signature_def"]
        self.assertEqual(
            "type.googleapis.com/tensorflow.serving.SignatureDefMap",
            any_map.type_url)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        self.assertTrue(any_map.Unpack(signature_map))
        self.assertCountEqual(self.bundle.signature_defs,
                              signature_map.signature_def)
        self.assertEqual(self.bundle.signature_defs["serving_default"],
                         signature_map.signature_def["serving_default"])

    def test_request_errors(self):
        for request, message in [
                (_request("signature_def", with_spec=False),
                 "Missing ModelSpec"),
                (_request(), "GetModelMetadataRequest must specify at least "
                 "one metadata_field"),
                (_request("signature_def", "foo"),
                 "Metadata field foo is not supported")]:
            with self.subTest(message):
                self.assertServingError(
                    grpc.StatusCode.INVALID_ARGUMENT, [message],
                    get_model_metadata_impl.validate_request, request)


if __name__ == "__main__":
    absltest.main()
