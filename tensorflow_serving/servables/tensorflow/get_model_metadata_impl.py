"""GetModelMetadata: the model's SignatureDefMap packed in an Any.

Lives with the servables (not model_servers/) because it only reads a
SavedModelBundle; the gRPC/REST edges resolve the handle and call this.
"""

from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.servables.tensorflow import util
from tensorflow_serving.util import deterministic_serialization
from tensorflow_serving.util import status

SIGNATURE_DEF = "signature_def"
_TYPE_URL_PREFIX = "type.googleapis.com/"


def validate_request(request: get_model_metadata_pb2.GetModelMetadataRequest
                     ) -> None:
    """Upstream's checks, in its order; run before resolving the servable.

    Raises:
      ServingError: INVALID_ARGUMENT without a model_spec, without any
        metadata_field, or with a field other than signature_def.
    """
    if not request.HasField("model_spec"):
        raise status.invalid_argument("Missing ModelSpec")
    if not request.metadata_field:
        raise status.invalid_argument(
            "GetModelMetadataRequest must specify at least one metadata_field")
    for field in request.metadata_field:
        if field != SIGNATURE_DEF:
            raise status.invalid_argument(
                f"Metadata field {field} is not supported")


def get_model_metadata(handle,
                       request: get_model_metadata_pb2.GetModelMetadataRequest
                       ) -> get_model_metadata_pb2.GetModelMetadataResponse:
    """The response for a resolved handle; validate_request() ran before the lookup."""
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    util.make_model_spec(response.model_spec, handle.id.name, None,
                         handle.id.version)
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for name, signature in handle.servable.signature_defs.items():
        signature_map.signature_def[name].CopyFrom(signature)
    # As Any.Pack, with map entries sorted by key as C++ sorts them, so the
    # Any holds the same bytes in every process and on both data planes.
    packed = response.metadata[SIGNATURE_DEF]
    packed.type_url = _TYPE_URL_PREFIX + signature_map.DESCRIPTOR.full_name
    packed.value = deterministic_serialization.serialize(signature_map)
    return response
