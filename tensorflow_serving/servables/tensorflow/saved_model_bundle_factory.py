"""Builds Loaders of SavedModelBundles for ServerCore (upstream's
SavedModelBundleFactory + SavedModelBundleSourceAdapter).

A Loader's load() opens the SavedModel, replays its warmup requests (before
the manager marks the version AVAILABLE) and leaves run() wrapped in batching
when configured; unload() drains batching, closes and deletes the Session and
gives the version's memory back to the operating system (memory_release). With
per-model batching parameters, a version's own `batching_params.pbtxt` says
how it batches (and a version without one does not batch), while the batch
threads' count and name stay the server's, as upstream's shared scheduler.
Each load is counted in TensorFlow's SavedModel load metrics.
"""

import dataclasses
import os
import time
from typing import Callable

from absl import logging
import tensorflow as tf

from tensorflow_serving.batching import batching_parameters
from tensorflow_serving.core import loader as loader_lib
from tensorflow_serving.core import servable_id as servable_id_lib
from tensorflow_serving.servables.tensorflow import saved_model_bundle
from tensorflow_serving.servables.tensorflow import warmup
from tensorflow_serving.util import memory_release
from tensorflow_serving.util import monitoring

BATCHING_PARAMS_FILENAME = "batching_params.pbtxt"

# TensorFlow's own SavedModel load metrics (tensorflow/cc/saved_model), which
# upstream's C++ loader records.
_load_attempt_count = monitoring.Counter(
    "/tensorflow/cc/saved_model/load_attempt_count",
    "SavedModel loads, by path and outcome (success or fail).", ("model_path", "status"))
_load_latency = monitoring.Counter(
    "/tensorflow/cc/saved_model/load_latency",
    "Total microseconds spent loading SavedModels, by path.", ("model_path",))


@dataclasses.dataclass
class BundleOptions:
    tags: tuple[str, ...] = ("serve",)
    intra_op_parallelism: int = 0
    inter_op_parallelism: int = 0
    batching_options: object | None = None  # batching_session.BatchingOptions
    enable_per_model_batching_params: bool = False
    session_config: object | None = None  # tf.compat.v1.ConfigProto
    enable_model_warmup: bool = True
    num_request_iterations_for_warmup: int = 1


@dataclasses.dataclass(frozen=True)
class _WarmupHandle:
    """What request handlers need: .id and .servable."""
    id: servable_id_lib.ServableId
    servable: saved_model_bundle.SavedModelBundle


def per_model_batching_options(export_dir: str, server_options):
    """The batching of one version under --enable_per_model_batching_parameters.

    None (no batching) without a batching_params.pbtxt in export_dir.
    """
    path = os.path.join(export_dir, BATCHING_PARAMS_FILENAME)
    if not tf.io.gfile.exists(path):
        return None
    options = batching_parameters.read_batching_parameters_file(path)
    options.num_batch_threads = server_options.num_batch_threads
    options.thread_pool_name = server_options.thread_pool_name
    logging.info("Batching %s with its own parameters: %s", export_dir, options)
    return options


class SavedModelBundleLoader(loader_lib.Loader):
    """One version directory of one model."""

    def __init__(self, name: str, version: int, export_dir: str,
                 options: BundleOptions):
        self.id = servable_id_lib.ServableId(name, version)
        self.export_dir = export_dir
        self.options = options
        self._bundle = None

    def _batching_options(self):
        options = self.options
        if options.batching_options is None or not options.enable_per_model_batching_params:
            return options.batching_options
        return per_model_batching_options(self.export_dir, options.batching_options)

    def _open_bundle(self):
        options = self.options
        start = time.monotonic()
        outcome = "fail"
        try:
            bundle = saved_model_bundle.SavedModelBundle(
                self.export_dir, tags=options.tags,
                intra_op_parallelism=options.intra_op_parallelism,
                inter_op_parallelism=options.inter_op_parallelism,
                batching_options=self._batching_options(),
                session_config=options.session_config)
            outcome = "success"
            return bundle
        finally:
            _load_attempt_count.increment_by((self.export_dir, outcome))
            _load_latency.increment_by(
                (self.export_dir,), int((time.monotonic() - start) * 1e6))

    def load(self) -> None:
        options = self.options
        # Pages the allocator keeps from earlier work (requests' buffers on
        # other threads' arenas) are not reused by this thread's load; handed
        # back first, they do not add to the peak of a rollover, when the
        # serving version and this one are both resident.
        memory_release.release(collect=False)
        bundle = self._open_bundle()
        try:
            if options.enable_model_warmup:
                warmup.run_saved_model_warmup(
                    _WarmupHandle(self.id, bundle), self.export_dir,
                    options.num_request_iterations_for_warmup)
        except BaseException:
            bundle.close()
            del bundle
            memory_release.release()
            raise
        self._bundle = bundle
        # The load has freed about a fifth of a version's size again (read
        # and parse buffers), which would stay resident next to the version.
        memory_release.release(collect=False)

    def unload(self) -> None:
        bundle, self._bundle = self._bundle, None
        if bundle is not None:
            bundle.close()
            del bundle
            released = memory_release.release()
            logging.info("Released the memory of servable version %s: %s",
                         self.id, released)

    def servable(self) -> saved_model_bundle.SavedModelBundle:
        return self._bundle


def make_loader_factory(options: BundleOptions | None = None
                        ) -> Callable[[str, int, str], loader_lib.Loader]:
    """ServerCoreOptions.loader_factory: (name, version, dir) -> Loader."""
    options = options if options is not None else BundleOptions()
    if options.batching_options is not None:
        if options.enable_per_model_batching_params:
            logging.info("Batching models that have a %s, with %d shared batch "
                         "threads", BATCHING_PARAMS_FILENAME,
                         options.batching_options.num_batch_threads)
        else:
            logging.info("Wrapping sessions in batching sessions: %s",
                         options.batching_options)

    def factory(name: str, version: int, export_dir: str):
        return SavedModelBundleLoader(name, version, export_dir, options)

    return factory

