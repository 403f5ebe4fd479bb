"""The --batching_parameters_file the benchmark gives the server.

Upstream's BatchingParameters text format (the model server reads it with
--enable_batching); written by hand because pip's tensorflow-serving-api has
no session_bundle_config_pb2.
"""


def batching_parameters_text(max_batch_size: int, batch_timeout_micros: int,
                             max_enqueued_batches: int, num_batch_threads: int) -> str:
    for name, value in (("max_batch_size", max_batch_size),
                        ("max_enqueued_batches", max_enqueued_batches),
                        ("num_batch_threads", num_batch_threads)):
        if value < 1:
            raise ValueError(f"{name} must be positive, got {value}")
    if batch_timeout_micros < 0:
        raise ValueError(f"batch_timeout_micros must be >= 0, got {batch_timeout_micros}")
    return (f"max_batch_size {{ value: {max_batch_size} }}\n"
            f"batch_timeout_micros {{ value: {batch_timeout_micros} }}\n"
            f"max_enqueued_batches {{ value: {max_enqueued_batches} }}\n"
            f"num_batch_threads {{ value: {num_batch_threads} }}\n")
