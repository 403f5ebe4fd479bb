"""Merges concurrent Run() calls into one batched call of the wrapped model.

The Python counterpart of upstream's BatchingSession sitting on a
SharedBatchScheduler queue: callers block in run() while their rows are
concatenated along dim 0 with other callers' rows, the wrapped `run_fn` runs
once per batch on one of `num_batch_threads` threads, and each caller gets its
own slice of the outputs back. Scheduling follows upstream's queue: a batch is
processed when it is full, or `batch_timeout_micros` after its first task
arrived, or right away when the session closes; at most `max_enqueued_batches`
batches wait (the open one included) and a task that would need one more is
refused with UNAVAILABLE, so the queue never grows without bound.

Where upstream fails a whole batch because two callers sent tensors of
different non-batch shapes or dtypes (FAILED_PRECONDITION for every task in
it), this implementation runs such tasks as separate sub-batches instead: a
request that would succeed alone also succeeds when batched.

This sits on the Predict hot path, so the per-request work is one lock, one
queue append and one wait on a private lock; concatenation, padding and
splitting happen once per batch on the batch thread.
"""

import _thread
import collections
import dataclasses
import os
import threading
import time
from typing import Callable, Mapping, Sequence

from absl import logging
import numpy as np

from tensorflow_serving.util import monitoring
from tensorflow_serving.util import run_options
from tensorflow_serving.util import status

RunFn = Callable[[dict[str, np.ndarray], tuple[str, ...]], Mapping[str, np.ndarray]]

# Upstream's batching_session metrics.
_BATCH_SIZE_BUCKETS = monitoring.exponential_buckets(1, 2, 14)
_queuing_latency = monitoring.Sampler(
    "/tensorflow/serving/batching_session/queuing_latency",
    "Wall time (microseconds) tasks spend queued for a batch.", ("thread_pool_name",),
    monitoring.exponential_buckets(100, 1.2, 52))
_wrapped_run_count = monitoring.Counter(
    "/tensorflow/serving/batching_session/wrapped_run_count",
    "Runs of the wrapped model (one per batch).", ())
_input_batch_size = monitoring.Sampler(
    "/tensorflow/serving/batching_session/input_batch_size",
    "Dim 0 of each input tensor of each request.", (), _BATCH_SIZE_BUCKETS)
_processed_batch_size = monitoring.Sampler(
    "/tensorflow/serving/batching_session/processed_batch_size",
    "Size of each batch run, padding included.", (), _BATCH_SIZE_BUCKETS)
_padding_size = monitoring.Sampler(
    "/tensorflow/serving/batching_session/padding_size",
    "Padding rows added to each batch, by padded batch size.", ("execution_batch_size",),
    _BATCH_SIZE_BUCKETS)


def _default_num_batch_threads() -> int:
    return os.cpu_count() or 1


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


class _Task:
    """One run() call (or one piece of a split call) waiting in a batch."""

    __slots__ = ("inputs", "size", "done", "outputs", "error", "parent", "index", "deadline",
                 "enqueued")

    def __init__(self, inputs, size, parent=None, index=0, deadline=None):
        self.inputs = inputs
        self.size = size
        self.deadline = deadline
        self.enqueued = time.monotonic()
        self.outputs = None
        self.error = None
        self.parent = parent
        self.index = index
        if parent is None:
            # The cheapest blocking primitive: the caller parks on acquire()
            # and the batch thread releases it once outputs or error are set.
            self.done = _thread.allocate_lock()
            self.done.acquire()
        else:
            self.done = None


class _SplitParent:
    """Collects the pieces of a split request and wakes its caller once all are done."""

    __slots__ = ("task", "pieces", "pending", "lock")

    def __init__(self, task, num_pieces):
        self.task = task
        self.pieces = [None] * num_pieces
        self.pending = num_pieces
        self.lock = _thread.allocate_lock()


class _Batch:
    __slots__ = ("tasks", "size", "start")

    def __init__(self):
        self.tasks = []
        self.size = 0
        self.start = 0.0


class _Queue:
    """Batches of one signature: closed ones waiting for a thread, then the open one."""

    __slots__ = ("input_keys", "output_keys", "closed", "open")

    def __init__(self, input_keys, output_keys):
        self.input_keys = input_keys
        self.output_keys = output_keys
        self.closed = collections.deque()
        self.open = _Batch()


def _dtype_key(dtype):
    # Fixed-width numpy strings of different widths concatenate losslessly.
    return dtype.kind if dtype.kind in "SU" else dtype


def _round_to_allowed(allowed, size):
    for allowed_size in allowed:
        if allowed_size >= size:
            return allowed_size
    return size


class BatchingSession:
    """Batches run() calls that share input and output keys into calls of `run_fn`.

    `run_fn(inputs, output_keys)` receives arrays whose dim 0 is the batch and
    must return at least `output_keys`, each with the same dim 0.
    """

    def __init__(self, run_fn: RunFn, options: BatchingOptions | None = None):
        options = options if options is not None else BatchingOptions()
        options.validate()
        self._run_fn = run_fn
        self._options = options
        self._task_limit = options.max_batch_size
        self._batch_limit = options.execution_batch_size
        self._split = options.enable_large_batch_splitting
        self._timeout = options.batch_timeout_micros / 1e6
        self._max_enqueued = options.max_enqueued_batches
        self._allowed = tuple(options.allowed_batch_sizes)
        self._pad_variable = options.pad_variable_length_inputs
        self._cond = threading.Condition(threading.Lock())
        self._queues: dict[tuple, _Queue] = {}
        self._queue_list: list[_Queue] = []
        self._next_queue = 0
        self._closed = False
        self._threads = []
        for i in range(options.num_batch_threads):
            thread = threading.Thread(target=self._thread_logic,
                                      name=f"{options.thread_pool_name}_{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    @property
    def options(self) -> BatchingOptions:
        return self._options

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # ---------------------------------------------------------------- callers

    def run(self, inputs: Mapping[str, np.ndarray], output_keys: Sequence[str],
            timeout: float | None = None) -> dict[str, np.ndarray]:
        """Blocks until this call's rows went through run_fn in some batch.

        `timeout` (seconds, e.g. a gRPC context's time_remaining()) plays the
        role of upstream's RunOptions.timeout_in_ms: a batch whose tasks all
        outlived their timeout while queued is not run, and each gets
        RESOURCE_EXHAUSTED, as upstream. None means no timeout.

        Raises ServingError: INVALID_ARGUMENT for inputs that cannot be batched
        or a request larger than max_batch_size, UNAVAILABLE when the queue is
        full or the session is closed, and whatever run_fn raised for the batch.
        """
        if not inputs:
            raise status.invalid_argument("Batching Run() must have at least one input tensor")
        size = -1
        for value in inputs.values():
            shape = getattr(value, "shape", None)
            if shape is None:
                shape = np.shape(value)
            if not shape:
                raise status.invalid_argument(
                    "Batching Run() input tensors must have at least one dimension")
            if size < 0:
                size = shape[0]
            elif shape[0] != size:
                raise status.invalid_argument(
                    "Batching Run() input tensors must have equal 0th-dimension size")
        if size > self._task_limit:
            raise status.invalid_argument(
                f"Task size {size} is larger than maximum input batch size {self._task_limit}")
        if not all(type(v) is np.ndarray for v in inputs.values()):
            inputs = {k: np.asarray(v) for k, v in inputs.items()}
        if monitoring.enabled():
            for _ in inputs:
                _input_batch_size.add((), size)
        key = (tuple(sorted(inputs)), tuple(sorted(set(output_keys))))
        task = _Task(inputs, size,
                     deadline=None if timeout is None else time.monotonic() + timeout)

        limit = self._batch_limit
        cond = self._cond
        with cond:
            if self._closed:
                raise status.unavailable(
                    "BatchingSession is closed (the model is being unloaded); retry the request")
            queue = self._queues.get(key)
            if queue is None:
                queue = _Queue(*key)
                self._queues[key] = queue
                self._queue_list.append(queue)
            batch = queue.open
            if batch.size + size > limit:
                if self._split:
                    self._schedule_split_locked(queue, task)
                    cond.notify()
                    batch = None
                else:
                    if len(queue.closed) + 1 >= self._max_enqueued:
                        raise status.unavailable(
                            "The batch scheduling queue to which this task was submitted "
                            "is full")
                    queue.closed.append(batch)
                    queue.open = batch = _Batch()
            if batch is not None:
                notify = not batch.tasks
                if notify:
                    batch.start = time.monotonic()
                batch.tasks.append(task)
                batch.size += size
                if notify or batch.size >= limit or queue.closed:
                    cond.notify()
        task.done.acquire()
        if task.error is not None:
            raise task.error
        return task.outputs

    def _schedule_split_locked(self, queue, task):
        """Cuts `task` into a piece filling the open batch plus pieces of `limit` rows."""
        limit = self._batch_limit
        room = limit - queue.open.size
        sizes = [room] if room > 0 else []
        left = task.size - room if room > 0 else task.size
        while left > 0:
            sizes.append(min(left, limit))
            left -= limit
        new_batches = len(sizes) - (1 if room > 0 else 0)
        if len(queue.closed) + new_batches >= self._max_enqueued:
            raise status.unavailable(
                "The batch scheduling queue to which this task was submitted is full")
        parent = _SplitParent(task, len(sizes))
        start = 0
        for index, piece_size in enumerate(sizes):
            end = start + piece_size
            piece = _Task({k: v[start:end] for k, v in task.inputs.items()}, piece_size,
                          parent=parent, index=index, deadline=task.deadline)
            start = end
            batch = queue.open
            if batch.size + piece_size > limit:
                queue.closed.append(batch)
                queue.open = batch = _Batch()
            if not batch.tasks:
                batch.start = time.monotonic()
            batch.tasks.append(piece)
            batch.size += piece_size

    def num_enqueued_tasks(self) -> int:
        """Tasks accepted but not yet taken by a batch thread (upstream's NumEnqueuedTasks)."""
        with self._cond:
            return sum(len(b.tasks) for q in self._queue_list for b in (*q.closed, q.open))

    def close(self) -> None:
        """Refuses new run() calls, finishes every queued one, stops the threads."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        current = threading.current_thread()
        for thread in self._threads:
            if thread is not current:
                thread.join()

    # ---------------------------------------------------------- batch threads

    def _take_batch_locked(self):
        """Returns (queue, batch, None) for a batch ready to run, else (None, None, wait_s)."""
        queues = self._queue_list
        count = len(queues)
        wait = None
        now = None
        start = self._next_queue
        for i in range(count):
            queue = queues[(start + i) % count]
            if queue.closed:
                batch = queue.closed.popleft()
            else:
                batch = queue.open
                if not batch.tasks:
                    continue
                if not (self._closed or batch.size >= self._batch_limit):
                    if now is None:
                        now = time.monotonic()
                    due = batch.start + self._timeout
                    if now < due:
                        if wait is None or due - now < wait:
                            wait = due - now
                        continue
                queue.open = _Batch()
            self._next_queue = (start + i + 1) % count
            return queue, batch, None
        return None, None, wait

    def _thread_logic(self):
        cond = self._cond
        while True:
            with cond:
                while True:
                    queue, batch, wait = self._take_batch_locked()
                    if batch is not None:
                        break
                    if self._closed:
                        # Closed: every open batch is schedulable, so nothing
                        # found means nothing is left.
                        cond.notify_all()
                        return
                    cond.wait(wait)
                # Another thread may have work as well (e.g. several closed batches).
                if self._queue_list and any(q.closed for q in self._queue_list):
                    cond.notify()
            self._process_batch(queue, batch)

    def _process_batch(self, queue, batch):
        tasks = batch.tasks
        try:
            self._run_tasks(queue, tasks)
        except BaseException as e:  # pylint: disable=broad-except
            error = e
            if not isinstance(e, status.ServingError):
                logging.log_every_n_seconds(
                    logging.WARNING, "Batched run failed: %r", 60, e)
            for task in tasks:
                if task.outputs is None and task.error is None:
                    task.error = error
        for task in tasks:
            if task.parent is None:
                task.done.release()
            else:
                self._finish_piece(task)

    @staticmethod
    def _finish_piece(piece):
        parent = piece.parent
        with parent.lock:
            parent.pieces[piece.index] = piece
            parent.pending -= 1
            last = parent.pending == 0
        if not last:
            return
        task = parent.task
        errors = [p.error for p in parent.pieces if p.error is not None]
        if errors:
            task.error = errors[0]
        else:
            try:
                task.outputs = {
                    k: np.concatenate([p.outputs[k] for p in parent.pieces], axis=0)
                    for k in parent.pieces[0].outputs
                }
            except Exception as e:  # pylint: disable=broad-except
                task.error = status.internal(
                    f"Failed to merge the outputs of a split request: {e}")
        task.done.release()

    def _run_tasks(self, queue, tasks):
        now = time.monotonic()
        if monitoring.enabled():
            for task in tasks:
                _queuing_latency.add((self._options.thread_pool_name,),
                                     (now - task.enqueued) * 1e6)
        # The batch runs until its last task's deadline (none if one has none).
        deadline = None
        if all(t.deadline is not None for t in tasks):
            deadline = max(t.deadline for t in tasks)
            if deadline <= now:
                raise status.resource_exhausted(
                    "Run() timeout exceeded while waiting in batching queue")
        with run_options.deadline_scope(deadline):
            self._run_grouped_tasks(queue, tasks)

    def _run_grouped_tasks(self, queue, tasks):
        input_keys = queue.input_keys
        if len(tasks) == 1:
            self._run_group(queue, tasks)
            return
        # Group tasks whose tensors can be concatenated (same dtype, and same
        # non-batch dims unless padding fixes those up).
        groups = {}
        pad = self._pad_variable
        for task in tasks:
            inputs = task.inputs
            if pad:
                group_key = tuple((_dtype_key(inputs[k].dtype), inputs[k].ndim)
                                  for k in input_keys)
            else:
                group_key = tuple((_dtype_key(inputs[k].dtype), inputs[k].shape[1:])
                                  for k in input_keys)
            group = groups.get(group_key)
            if group is None:
                groups[group_key] = [task]
            else:
                group.append(task)
        if len(groups) == 1:
            self._run_group(queue, tasks)
            return
        for group in groups.values():
            try:
                self._run_group(queue, group)
            except Exception as e:  # pylint: disable=broad-except
                for task in group:
                    task.error = e

    def _run_group(self, queue, tasks):
        """Runs `tasks` (mutually concatenable) through run_fn as one batch."""
        input_keys = queue.input_keys
        output_keys = queue.output_keys
        size = 0
        for task in tasks:
            size += task.size
        padded_size = _round_to_allowed(self._allowed, size) if self._allowed else size
        padding = padded_size - size
        if padding and size == 0:
            padding, padded_size = 0, 0  # no row to pad with
        if len(tasks) == 1 and not padding and not self._pad_variable:
            merged = tasks[0].inputs
        else:
            merged = {}
            for key in input_keys:
                arrays = [task.inputs[key] for task in tasks]
                if self._pad_variable:
                    arrays = self._pad_to_max(arrays)
                if padding:
                    # Like upstream, pad with copies of a real row, which the
                    # model is known to accept.
                    row = next(a for a in reversed(arrays) if a.shape[0])[:1]
                    arrays.append(np.repeat(row, padding, axis=0))
                merged[key] = arrays[0] if len(arrays) == 1 else np.concatenate(arrays, axis=0)
        if monitoring.enabled():
            _padding_size.add((str(padded_size),), padding)
            _processed_batch_size.add((), padded_size)
            _wrapped_run_count.increment_by()
        outputs = self._run_fn(merged, output_keys)
        batched = []
        for key in output_keys:
            try:
                value = outputs[key]
            except (KeyError, TypeError):
                raise status.internal(
                    f"Batched run did not produce output tensor '{key}'") from None
            if type(value) is not np.ndarray:
                value = np.asarray(value)
            if value.ndim == 0:
                raise status.failed_precondition(
                    f"Batched output tensor '{key}' has 0 dimensions")
            if value.shape[0] != padded_size:
                raise status.failed_precondition(
                    f"Batched output tensor '{key}' has 0th dimension {value.shape[0]}, which "
                    f"does not equal the sum of the 0th dimension sizes of the input tensors "
                    f"({padded_size})")
            batched.append((key, value))
        if len(tasks) == 1 and not padding:
            tasks[0].outputs = dict(batched)
            return
        start = 0
        for task in tasks:
            end = start + task.size
            task.outputs = {key: value[start:end] for key, value in batched}
            start = end

    @staticmethod
    def _pad_to_max(arrays):
        """Pads non-batch dims to the batch's max, with each tensor's first element.

        Upstream's batching_util pads the same way: the fill value is the
        tensor's own first element, appended after the existing values.
        """
        ndim = arrays[0].ndim
        if ndim < 2:
            return arrays
        target = list(arrays[0].shape[1:])
        ragged = False
        for a in arrays[1:]:
            for d in range(1, ndim):
                if a.shape[d] != target[d - 1]:
                    ragged = True
                    if a.shape[d] > target[d - 1]:
                        target[d - 1] = a.shape[d]
        if not ragged:
            return arrays
        target = tuple(target)
        out = []
        for a in arrays:
            if a.shape[1:] == target:
                out.append(a)
                continue
            if a.size == 0:
                raise status.invalid_argument("Got empty tensor in batch of non-empty tensors.")
            padded = np.full((a.shape[0],) + target, a.flat[0], dtype=a.dtype)
            padded[tuple(slice(0, n) for n in a.shape)] = a
            out.append(padded)
        return out
