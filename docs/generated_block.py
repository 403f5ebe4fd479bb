"""Blocks of a Markdown page that a program writes, between two HTML comments.

    <!-- BEGIN GENERATED: flag_table -->
    ...written by the program, never by hand...
    <!-- END GENERATED: flag_table -->

The comments do not show on a rendered page. A writer replaces what is between
them and leaves the rest of the page alone; a test compares what is there with
what the writer would write now, so a page cannot drift from its source.
"""

import re


class BlockError(Exception):
    """A page lacks a block's markers, or has them twice or out of order."""


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- BEGIN GENERATED: {name} -->", f"<!-- END GENERATED: {name} -->"


def _span(text: str, name: str) -> tuple[int, int]:
    """Where the block's content starts and ends (just inside its markers)."""
    begin, end = _markers(name)
    starts = [m.start() for m in re.finditer(re.escape(begin), text)]
    ends = [m.start() for m in re.finditer(re.escape(end), text)]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise BlockError(f"expected one {begin!r} followed by one {end!r}")
    return starts[0] + len(begin), ends[0]


def read_block(text: str, name: str) -> str:
    """The content of block `name`, without the newlines next to its markers."""
    start, end = _span(text, name)
    return text[start:end].strip("\n")


def replace_block(text: str, name: str, content: str) -> str:
    """`text` with block `name` holding `content` (one line per line)."""
    start, end = _span(text, name)
    return text[:start] + "\n" + content.strip("\n") + "\n" + text[end:]


def update_file(path: str, name: str, content: str) -> bool:
    """Writes `content` into block `name` of the file; True if it changed."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    updated = replace_block(text, name, content)
    if updated == text:
        return False
    with open(path, "w", encoding="utf-8") as f:
        f.write(updated)
    return True
