"""Loader: how the manager loads, serves and unloads one servable version.

The core knows nothing of TensorFlow; platforms (servables/tensorflow) supply
loaders through the loader factory given to ServerCore.
"""


class Loader:
    """One servable version, e.g. a SavedModel export directory.

    load() runs on a manager thread (never on a request thread) and may be
    called again after it raised, when retries are configured. servable() is
    called once after a successful load(); unload() once, after every handle
    to the servable has been released.
    """

    def load(self) -> None:
        """Loads the servable; raises (any exception) on failure."""
        raise NotImplementedError

    def unload(self) -> None:
        """Frees what load() acquired."""
        raise NotImplementedError

    def servable(self) -> object:
        """The loaded object handed to requests (e.g. a SavedModelBundle)."""
        raise NotImplementedError
