"""memory_release: cyclic garbage collected, freed pages given back, glibc arenas capped."""

import gc
import os
import subprocess
import sys
import textwrap
import weakref

from absl.testing import absltest

from tensorflow_serving.util import memory_release

_MB = 1 << 20


class _Node:
    """A link of a reference cycle."""

    def __init__(self, payload=None):
        self.payload = payload
        self.other = None


class MemoryReleaseTest(absltest.TestCase):

    def setUp(self):
        super().setUp()
        gc.disable()  # only release() may collect the cycles made here
        self.addCleanup(gc.enable)

    def test_freed_heap_pages_leave_the_resident_set(self):
        # 64 KiB blocks stay below the allocators' mmap thresholds, so they come
        # from the heap; the block allocated after them keeps the heap's top
        # from shrinking on free(), as a long-lived allocation does in a server.
        baseline = memory_release.rss_bytes()
        blocks = [b"x" * (64 << 10) for _ in range(3200)]  # 200 MiB
        pin = b"y" * (64 << 10)
        self.assertGreater(memory_release.rss_bytes() - baseline, 150 * _MB)
        del blocks
        released = memory_release.release()
        # glibc keeps all 200 MiB resident without the trim; jemalloc may have
        # begun to return some on its own.
        self.assertLess(memory_release.rss_bytes() - baseline, 50 * _MB, str(released))
        self.assertLessEqual(released.rss_after, released.rss_before)
        self.assertIn(released.allocator, ("glibc", "jemalloc", "tcmalloc", "asan"))
        self.assertGreaterEqual(released.seconds, 0)
        self.assertIn("MB ->", str(released))
        del pin

    def test_collects_reference_cycles(self):
        a, b = _Node(bytearray(8 * _MB)), _Node()
        a.other, b.other = b, a
        alive = weakref.ref(a)
        del a, b
        self.assertIsNotNone(alive())  # a cycle: reference counts never reach 0
        released = memory_release.release()
        self.assertIsNone(alive())
        self.assertGreaterEqual(released.collected, 2)

    def test_without_collect_cycles_stay(self):
        a, b = _Node(), _Node()
        a.other, b.other = b, a
        alive = weakref.ref(a)
        del a, b
        released = memory_release.release(collect=False)
        self.assertEqual(released.collected, 0)
        self.assertIsNotNone(alive())
        gc.collect()
        self.assertIsNone(alive())

    def test_rss_is_read(self):
        self.assertGreater(memory_release.rss_bytes(), 0)


# Frees 200 MiB of 64 KiB blocks and prints the allocator, then the RSS above
# the start in MiB with them, after freeing them and after release().
_FREE_AND_RELEASE = textwrap.dedent("""
    from tensorflow_serving.util import memory_release as m
    base = m.rss_bytes()
    blocks = [b"x" * (64 << 10) for _ in range(3200)]
    pin = b"y" * (64 << 10)
    used = m.rss_bytes() - base
    del blocks
    freed = m.rss_bytes() - base
    print(m.release().allocator, used >> 20, freed >> 20, (m.rss_bytes() - base) >> 20)
""")


def _gcc_library(name: str) -> str:
    """The path of one of gcc's runtime libraries (tools/bazel installs g++)."""
    return os.path.realpath(subprocess.run(
        ["gcc", f"-print-file-name={name}"], capture_output=True, text=True,
        check=True).stdout.strip())


class AddressSanitizerTest(absltest.TestCase):

    def test_purges_the_quarantine(self):
        # As the tests start the server under --config=asan (server_launcher).
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        env.update(
            LD_PRELOAD=f"{_gcc_library('libasan.so')} {_gcc_library('libstdc++.so')}",
            ASAN_OPTIONS="detect_leaks=0", PYTHONPATH=os.pathsep.join(sys.path))
        result = subprocess.run([sys.executable, "-c", _FREE_AND_RELEASE],
                                capture_output=True, text=True, env=env,
                                check=True, timeout=120)
        allocator, used, freed, released = result.stdout.split()
        self.assertEqual("asan", allocator)
        self.assertGreater(int(used), 150)
        self.assertGreater(int(freed), 150)  # the quarantine holds them
        self.assertLess(int(released), 50, result.stdout)


# Starts 8 threads that allocate at once and prints how many arenas glibc
# then has (the <heap> elements of malloc_info), after limit_arenas(argv[1])
# when argv[1] > 0.
_COUNT_ARENAS = textwrap.dedent("""
    import ctypes, sys, threading
    from tensorflow_serving.util import memory_release
    limit = int(sys.argv[1])
    if limit:
        print(memory_release.limit_arenas(limit))
    barrier = threading.Barrier(8)
    def work():
        barrier.wait()
        blocks = [bytearray(1000) for _ in range(2000)]
        barrier.wait()
    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    libc = ctypes.CDLL(None)
    libc.open_memstream.restype = ctypes.c_void_p
    buf, size = ctypes.c_char_p(), ctypes.c_size_t()
    stream = libc.open_memstream(ctypes.byref(buf), ctypes.byref(size))
    libc.malloc_info(0, ctypes.c_void_p(stream))
    libc.fclose(ctypes.c_void_p(stream))
    print(buf.value.decode().count("<heap nr="))
""")


class LimitArenasTest(absltest.TestCase):

    def _arenas(self, limit, **env):
        environment = {k: v for k, v in os.environ.items()
                       if k not in ("MALLOC_ARENA_MAX", "GLIBC_TUNABLES", "LD_PRELOAD")}
        environment.update(env)
        environment["PYTHONPATH"] = os.pathsep.join(sys.path)
        result = subprocess.run([sys.executable, "-c", _COUNT_ARENAS, str(limit)],
                                capture_output=True, text=True, env=environment,
                                check=True, timeout=60)
        return result.stdout.split()

    def test_glibc_makes_no_more_arenas_than_asked(self):
        self.assertGreater(int(self._arenas(0)[-1]), 2)
        applied, arenas = self._arenas(2)
        self.assertEqual("True", applied)
        self.assertLessEqual(int(arenas), 2)

    def test_the_environment_decides_first(self):
        applied, arenas = self._arenas(2, MALLOC_ARENA_MAX="4")
        self.assertEqual("False", applied)
        self.assertGreater(int(arenas), 2)


if __name__ == "__main__":
    absltest.main()
