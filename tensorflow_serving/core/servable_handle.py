"""A reference to a loaded servable version that keeps it loaded while held."""


class ServableHandle:
    """Use as a context manager; the version is not unloaded until released.

    Attributes:
      id: the ServableId of the version that serves the request.
      servable: the Loader's servable() (e.g. a SavedModelBundle).
    """

    __slots__ = ("id", "servable", "_release_fn", "_token")

    def __init__(self, servable_id, servable, release_fn=None, token=None):
        self.id = servable_id
        self.servable = servable
        self._release_fn = release_fn
        self._token = token

    def release(self) -> None:
        """Drops the reference; idempotent."""
        fn = self._release_fn
        if fn is not None:
            self._release_fn = None
            fn(self._token)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
        return False

    def __del__(self):
        # A handle dropped without release() must not pin its version forever.
        try:
            self.release()
        except Exception:  # pylint: disable=broad-except
            pass

    def __repr__(self):
        return f"ServableHandle({self.id})"
