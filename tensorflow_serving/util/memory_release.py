"""Gives the memory of an unloaded servable back to the operating system.

Closing a version's Session frees its tensors, but that alone does not make
the server's RSS fall (docs/memory.md has the measurements):

- A tf.Graph is full of reference cycles (operations, tensors and the graph
  point at each other), so the Python objects of an unloaded version's graph
  and the C++ graph they own live until the cyclic garbage collector's next
  full pass, which a busy server may not run for many rollovers.
- The C library's allocator keeps freed memory for reuse. glibc's in
  particular raises its mmap threshold after the first large free, so a
  version's tensors are carved from its arenas and their pages stay
  resident after they are freed.

release() runs a full collection and then asks whichever allocator serves
the process to return its free pages, as upstream's SimpleLoader::Unload
does with MallocExtension::ReleaseToSystem: jemalloc and tcmalloc when one
is linked or preloaded, AddressSanitizer's when it runs, glibc's malloc_trim
otherwise.

limit_arenas() caps glibc's arenas (one heap per thread that contends for
one, up to eight per core by default). Memory freed on one arena is reused
only by threads of that arena, so while a version loads (the load thread
parses, TensorFlow's threads restore the variables) and requests run, few
arenas mean less fresh memory: the peak of a rollover is lower.
"""

import ctypes
import dataclasses
import gc
import os
import threading
import time

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_lock = threading.Lock()
_purge = None  # (allocator name, function returning nothing), once found

# jemalloc's MALLCTL_ARENAS_ALL: the pseudo-arena that means every arena.
_JEMALLOC_PURGE_ALL = b"arena.4096.purge"
# glibc's mallopt() parameter for the most arenas (malloc.h).
_M_ARENA_MAX = -8


def _find_purge():
    """(allocator name, purge function) of the allocator serving malloc here."""
    process = ctypes.CDLL(None)
    # AddressSanitizer's allocator (the tests' --config=asan) keeps freed
    # memory in a quarantine as well as in its caches.
    sanitizer_purge = getattr(process, "__sanitizer_purge_allocator", None)
    if sanitizer_purge is not None:
        sanitizer_purge.argtypes = []
        sanitizer_purge.restype = None
        return "asan", sanitizer_purge
    mallctl = getattr(process, "mallctl", None)
    if mallctl is not None:
        mallctl.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p,
                            ctypes.c_void_p, ctypes.c_size_t]
        mallctl.restype = ctypes.c_int
        return "jemalloc", lambda: mallctl(_JEMALLOC_PURGE_ALL, None, None, None, 0)
    release = getattr(process, "MallocExtension_ReleaseFreeMemory", None)
    if release is not None:
        release.argtypes = []
        release.restype = None
        return "tcmalloc", release
    malloc_trim = getattr(process, "malloc_trim", None)
    if malloc_trim is not None:
        malloc_trim.argtypes = [ctypes.c_size_t]
        malloc_trim.restype = ctypes.c_int
        return "glibc", lambda: malloc_trim(0)
    return "unknown", lambda: None


def allocator() -> str:
    """"asan", "jemalloc", "tcmalloc", "glibc" or "unknown": what serves malloc."""
    global _purge  # pylint: disable=global-statement
    with _lock:
        if _purge is None:
            _purge = _find_purge()
        return _purge[0]


def rss_bytes() -> int:
    """This process's resident set size (0 where /proc is not mounted)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return 0


@dataclasses.dataclass(frozen=True)
class Released:
    """What one release() did: RSS before and after, and how long it took."""
    rss_before: int
    rss_after: int
    collected: int     # unreachable objects the garbage collector found
    allocator: str
    seconds: float

    def __str__(self):
        return (f"RSS {self.rss_before / 2**20:.0f} MB -> {self.rss_after / 2**20:.0f} MB "
                f"({self.collected} objects collected, {self.allocator} allocator "
                f"purged, {self.seconds * 1000:.0f} ms)")


def release(collect: bool = True) -> Released:
    """Frees cyclic garbage (with `collect`) and returns free pages to the OS.

    One release at a time: two threads unloading at once would only trim
    the same arenas twice.
    """
    name = allocator()
    with _lock:
        start = time.monotonic()
        before = rss_bytes()
        collected = gc.collect() if collect else 0
        _purge[1]()
        return Released(before, rss_bytes(), collected, name,
                        time.monotonic() - start)


def limit_arenas(count: int) -> bool:
    """Has glibc make at most `count` arenas from now on; True if it will.

    Call it before the process starts its threads. Nothing is changed under
    another allocator or when the environment already chooses
    (MALLOC_ARENA_MAX, or glibc.malloc.arena_max in GLIBC_TUNABLES).
    """
    if allocator() != "glibc" or count < 1:
        return False
    if ("MALLOC_ARENA_MAX" in os.environ or
            "glibc.malloc.arena_max" in os.environ.get("GLIBC_TUNABLES", "")):
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt(_M_ARENA_MAX, count) == 1
