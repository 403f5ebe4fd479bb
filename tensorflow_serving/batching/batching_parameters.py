"""Upstream's BatchingParameters (--batching_parameters_file, batching_params.pbtxt).

The text format is parsed by protobuf's text_format into the BatchingParameters
message (util/config_protos) and becomes the BatchingOptions the native
batching_session.cc batches with; unset wrapper fields keep upstream's queue
defaults, which are BatchingOptions' defaults (the only place they are
written). Values batching would refuse (e.g. allowed_batch_sizes whose last
entry is not max_batch_size) are reported here, naming the file, where
upstream reports them at model load.
"""

import dataclasses

from tensorflow_serving.util import config_protos
from tensorflow_serving.util import cpu_info
from tensorflow_serving.util import proto_util
from tensorflow_serving.util import status

BatchingParameters = config_protos.BatchingParameters


def _default_num_batch_threads() -> int:
    return cpu_info.num_schedulable_cpus()


@dataclasses.dataclass
class BatchingOptions:
    """Upstream's BatchingParameters (session_bundle_config.proto), with its defaults.

    Unset wrapper fields upstream fall back to SharedBatchScheduler's
    QueueOptions/Options defaults, which are the defaults here.
    """

    max_batch_size: int = 1000
    batch_timeout_micros: int = 0
    max_enqueued_batches: int = 10
    num_batch_threads: int = dataclasses.field(default_factory=_default_num_batch_threads)
    allowed_batch_sizes: tuple[int, ...] = ()
    pad_variable_length_inputs: bool = False
    thread_pool_name: str = "batch_threads"
    # Large batch splitting (upstream's enable_large_batch_splitting and
    # max_execution_batch_size): max_batch_size then bounds one request, and a
    # request bigger than the room left in the open batch is cut into pieces
    # of at most max_execution_batch_size rows, run in several batches.
    enable_large_batch_splitting: bool = False
    max_execution_batch_size: int | None = None

    @property
    def execution_batch_size(self) -> int:
        """The largest batch handed to run_fn (before allowed_batch_sizes padding)."""
        if self.enable_large_batch_splitting and self.max_execution_batch_size is not None:
            return self.max_execution_batch_size
        return self.max_batch_size

    def validate(self) -> None:
        """Raises ServingError INVALID_ARGUMENT with upstream's messages."""
        if self.max_batch_size <= 0:
            raise status.invalid_argument(
                f"max_batch_size must be positive; was {self.max_batch_size}")
        if self.batch_timeout_micros < 0:
            raise status.invalid_argument(
                f"batch_timeout_micros must be non-negative; was {self.batch_timeout_micros}")
        if self.max_enqueued_batches < 0:
            raise status.invalid_argument(
                f"max_enqueued_batches must be non-negative; was {self.max_enqueued_batches}")
        if self.num_batch_threads < 1:
            raise status.invalid_argument(
                f"num_batch_threads must be positive; was {self.num_batch_threads}")
        if self.enable_large_batch_splitting and self.max_execution_batch_size is not None:
            if self.max_execution_batch_size <= 0:
                raise status.invalid_argument(
                    "max_execution_batch_size must be positive; was "
                    f"{self.max_execution_batch_size}")
            if self.max_execution_batch_size > self.max_batch_size:
                raise status.invalid_argument(
                    "max_execution_batch_size must be less than or equal to max_batch_size "
                    "when enable_large_batch_splitting is true; was "
                    f"{self.max_execution_batch_size}, max_batch_size is {self.max_batch_size}")
        sizes = tuple(self.allowed_batch_sizes)
        if sizes:
            last = 0
            for size in sizes:
                if size <= 0:
                    raise status.invalid_argument(
                        f"allowed_batch_sizes entries must be positive; got {size}")
                if size <= last:
                    raise status.invalid_argument(
                        "allowed_batch_sizes entries must be monotonically increasing; got "
                        f"{list(sizes)}")
                last = size
            limit = self.execution_batch_size
            if sizes[-1] != limit:
                what = ("max_execution_batch_size" if limit != self.max_batch_size
                        else "max_batch_size")
                raise status.invalid_argument(
                    f"Last entry in allowed_batch_sizes must match {what}; last entry was "
                    f"{sizes[-1]}; expected {limit}")


# Wrapper fields (google.protobuf.*Value): applied only when present.
_WRAPPED = ("max_batch_size", "batch_timeout_micros", "max_enqueued_batches",
            "num_batch_threads", "thread_pool_name", "enable_large_batch_splitting",
            "max_execution_batch_size")


def to_batching_options(params, source: str = "BatchingParameters",
                        base: BatchingOptions | None = None
                        ) -> BatchingOptions:
    """BatchingOptions from a BatchingParameters message.

    Fields `params` leaves unset come from `base` (default: upstream's
    defaults). Raises INVALID_ARGUMENT naming `source` for values batching
    cannot run with.
    """
    options = BatchingOptions()
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
                              ) -> BatchingOptions:
    """Text-format BatchingParameters into BatchingOptions (see to_batching_options)."""
    params = proto_util.parse_text(text, BatchingParameters(), source)
    return to_batching_options(params, source)


def read_batching_parameters_file(path: str) -> BatchingOptions:
    """Reads and parses a BatchingParameters file (any TensorFlow file system)."""
    return parse_batching_parameters(proto_util.read_file(path), path)


def to_text(options: BatchingOptions) -> str:
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
