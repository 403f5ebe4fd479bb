"""Builds Loaders of SavedModelBundles for ServerCore (upstream's
SavedModelBundleFactory + SavedModelBundleSourceAdapter).

A Loader's load() opens the SavedModel, replays its warmup requests (before
the manager marks the version AVAILABLE) and leaves run() wrapped in batching
when configured; unload() drains batching and closes the Session.
"""

import dataclasses
from typing import Callable

from absl import logging

from tensorflow_serving.core import loader as loader_lib
from tensorflow_serving.core import servable_id as servable_id_lib
from tensorflow_serving.servables.tensorflow import saved_model_bundle
from tensorflow_serving.servables.tensorflow import warmup


@dataclasses.dataclass
class BundleOptions:
    tags: tuple[str, ...] = ("serve",)
    intra_op_parallelism: int = 0
    inter_op_parallelism: int = 0
    batching_options: object | None = None  # batching_session.BatchingOptions
    enable_model_warmup: bool = True
    num_request_iterations_for_warmup: int = 1


@dataclasses.dataclass(frozen=True)
class _WarmupHandle:
    """What request handlers need: .id and .servable."""
    id: servable_id_lib.ServableId
    servable: saved_model_bundle.SavedModelBundle


class SavedModelBundleLoader(loader_lib.Loader):
    """One version directory of one model."""

    def __init__(self, name: str, version: int, export_dir: str,
                 options: BundleOptions):
        self.id = servable_id_lib.ServableId(name, version)
        self.export_dir = export_dir
        self.options = options
        self._bundle = None

    def load(self) -> None:
        options = self.options
        bundle = saved_model_bundle.SavedModelBundle(
            self.export_dir, tags=options.tags,
            intra_op_parallelism=options.intra_op_parallelism,
            inter_op_parallelism=options.inter_op_parallelism,
            batching_options=options.batching_options)
        try:
            if options.enable_model_warmup:
                warmup.run_saved_model_warmup(
                    _WarmupHandle(self.id, bundle), self.export_dir,
                    options.num_request_iterations_for_warmup)
        except BaseException:
            bundle.close()
            raise
        self._bundle = bundle

    def unload(self) -> None:
        bundle, self._bundle = self._bundle, None
        if bundle is not None:
            bundle.close()

    def servable(self) -> saved_model_bundle.SavedModelBundle:
        return self._bundle


def make_loader_factory(options: BundleOptions | None = None
                        ) -> Callable[[str, int, str], loader_lib.Loader]:
    """ServerCoreOptions.loader_factory: (name, version, dir) -> Loader."""
    options = options if options is not None else BundleOptions()
    if options.batching_options is not None:
        logging.info("Wrapping sessions in batching sessions: %s",
                     options.batching_options)

    def factory(name: str, version: int, export_dir: str):
        return SavedModelBundleLoader(name, version, export_dir, options)

    return factory
