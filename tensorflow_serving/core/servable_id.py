"""Identity of one servable version, printed the way upstream's logs print it."""

from typing import NamedTuple


class ServableId(NamedTuple):
    name: str
    version: int

    def __str__(self):
        return f"{{name: {self.name} version: {self.version}}}"
