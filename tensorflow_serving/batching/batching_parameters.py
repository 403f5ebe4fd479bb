"""Upstream's BatchingParameters (--batching_parameters_file, batching_params.pbtxt).

The text format is parsed by protobuf's text_format into the BatchingParameters
message (util/config_protos); unset wrapper fields keep BatchingSession's
defaults, which are upstream's queue defaults. Values BatchingSession would
refuse (e.g. allowed_batch_sizes whose last entry is not max_batch_size) are
reported here, naming the file, where upstream reports them at model load.
"""

from tensorflow_serving.batching import batching_session
from tensorflow_serving.util import config_protos
from tensorflow_serving.util import proto_util
from tensorflow_serving.util import status

BatchingParameters = config_protos.BatchingParameters

# Wrapper fields (google.protobuf.*Value): applied only when present.
_WRAPPED = ("max_batch_size", "batch_timeout_micros", "max_enqueued_batches",
            "num_batch_threads", "thread_pool_name", "enable_large_batch_splitting",
            "max_execution_batch_size")


def to_batching_options(params, source: str = "BatchingParameters",
                        base: batching_session.BatchingOptions | None = None
                        ) -> batching_session.BatchingOptions:
    """BatchingOptions from a BatchingParameters message.

    Fields `params` leaves unset come from `base` (default: upstream's
    defaults). Raises INVALID_ARGUMENT naming `source` for values batching
    cannot run with.
    """
    options = batching_session.BatchingOptions()
    if base is not None:
        options.__dict__.update(base.__dict__)
    for name in _WRAPPED:
        if params.HasField(name):
            setattr(options, name, getattr(params, name).value)
    if params.allowed_batch_sizes:
        options.allowed_batch_sizes = tuple(params.allowed_batch_sizes)
    if params.pad_variable_length_inputs:
        options.pad_variable_length_inputs = True
    try:
        options.validate()
    except status.ServingError as e:
        raise status.invalid_argument(f"Invalid BatchingParameters in '{source}': "
                                      f"{e.message}") from None
    return options


def parse_batching_parameters(text, source: str = "<batching parameters>"
                              ) -> batching_session.BatchingOptions:
    """Text-format BatchingParameters into BatchingOptions (see to_batching_options)."""
    params = proto_util.parse_text(text, BatchingParameters(), source)
    return to_batching_options(params, source)


def read_batching_parameters_file(path: str) -> batching_session.BatchingOptions:
    """Reads and parses a BatchingParameters file (any TensorFlow file system)."""
    return parse_batching_parameters(proto_util.read_file(path), path)


def to_text(options: batching_session.BatchingOptions) -> str:
    """The BatchingParameters text of `options` (every field written)."""
    params = BatchingParameters()
    params.max_batch_size.value = options.max_batch_size
    params.batch_timeout_micros.value = options.batch_timeout_micros
    params.max_enqueued_batches.value = options.max_enqueued_batches
    params.num_batch_threads.value = options.num_batch_threads
    params.thread_pool_name.value = options.thread_pool_name
    params.allowed_batch_sizes.extend(options.allowed_batch_sizes)
    params.pad_variable_length_inputs = options.pad_variable_length_inputs
    params.enable_large_batch_splitting.value = options.enable_large_batch_splitting
    if options.max_execution_batch_size is not None:
        params.max_execution_batch_size.value = options.max_execution_batch_size
    from google.protobuf import text_format  # pylint: disable=g-import-not-at-top
    return text_format.MessageToString(params)
