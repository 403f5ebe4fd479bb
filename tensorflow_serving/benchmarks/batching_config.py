"""The --batching_parameters_file the benchmark gives the server.

Upstream's BatchingParameters message in protobuf's text format (the model
server reads it with --enable_batching).
"""

from tensorflow_serving.batching import batching_parameters


def batching_parameters_text(max_batch_size: int, batch_timeout_micros: int,
                             max_enqueued_batches: int, num_batch_threads: int) -> str:
    for name, value in (("max_batch_size", max_batch_size),
                        ("max_enqueued_batches", max_enqueued_batches),
                        ("num_batch_threads", num_batch_threads)):
        if value < 1:
            raise ValueError(f"{name} must be positive, got {value}")
    if batch_timeout_micros < 0:
        raise ValueError(f"batch_timeout_micros must be >= 0, got {batch_timeout_micros}")
    return batching_parameters.to_text(batching_parameters.BatchingOptions(
        max_batch_size=max_batch_size, batch_timeout_micros=batch_timeout_micros,
        max_enqueued_batches=max_enqueued_batches, num_batch_threads=num_batch_threads))
