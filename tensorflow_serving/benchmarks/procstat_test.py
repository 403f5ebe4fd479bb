"""Tests for procstat: /proc parsing, on sample text and on live processes."""

import os
import subprocess
import threading
import time

from absl.testing import absltest

from tensorflow_serving.benchmarks import procstat
from tensorflow_serving.test_util import test_util

# A command name with a space and a ')' must not shift the fields.
_STAT = ("4242 (my) server) S 1 4242 4242 0 -1 4194560 123 0 0 0 "
         "250 50 0 0 20 0 9 0 1000 123456789 2048 18446744073709551615")


class ParseTest(absltest.TestCase):

    def test_cpu_seconds(self):
        self.assertAlmostEqual(procstat.parse_cpu_seconds(_STAT, clock_ticks=100), 3.0)

    def test_ppid(self):
        self.assertEqual(procstat.parse_ppid(_STAT), 1)

    def test_vm_rss(self):
        status = "Name:\tpython\nVmPeak:\t  9999 kB\nVmRSS:\t  123456 kB\nThreads:\t9\n"
        self.assertEqual(procstat.parse_vm_rss_kib(status), 123456)
        with self.assertRaisesRegex(ValueError, "no VmRSS"):
            procstat.parse_vm_rss_kib("Name:\tzombie\n")

    def test_rss_anon(self):
        status = "VmRSS:\t  123456 kB\nRssAnon:\t  100000 kB\nRssFile:\t  23456 kB\n"
        self.assertEqual(procstat.parse_status_kib(status, "RssAnon"), 100000)
        with self.assertRaisesRegex(ValueError, "no RssAnon"):
            procstat.parse_status_kib("VmRSS:\t 1 kB\n", "RssAnon")

    def test_cpu_model(self):
        text = ("processor\t: 0\nvendor_id\t: AuthenticAMD\n"
                "model name\t: AMD EPYC 7B13\nprocessor\t: 1\n"
                "model name\t: AMD EPYC 7B13\n")
        self.assertEqual(procstat.parse_cpu_model(text), "AMD EPYC 7B13")
        self.assertIsNone(procstat.parse_cpu_model("processor\t: 0\n"))

    def test_cpu_model_names_family_and_model(self):
        text = ("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\n"
                "model\t\t: 1\nmodel name\t: AMD EPYC\nprocessor\t: 1\n"
                "cpu family\t: 26\nmodel\t\t: 2\nmodel name\t: AMD EPYC\n")
        self.assertEqual(procstat.parse_cpu_model(text), "AMD EPYC, family 25 model 1")


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


class LiveTest(absltest.TestCase):

    def test_own_process(self):
        self.assertGreater(procstat.rss_bytes(os.getpid()), 1 << 20)
        self.assertLess(procstat.anon_rss_bytes(os.getpid()), procstat.rss_bytes(os.getpid()))
        before = procstat.cpu_seconds(os.getpid())
        deadline = time.process_time() + 0.3
        while time.process_time() < deadline:
            pass
        self.assertGreaterEqual(procstat.cpu_seconds(os.getpid()) - before, 0.2)

    def test_cpu_nanos_counts_every_thread(self):
        spun, release = threading.Event(), threading.Event()

        def spin():
            deadline = time.thread_time() + 0.2
            while time.thread_time() < deadline:
                pass
            spun.set()
            release.wait()  # alive, so its CPU is still the process's

        before = procstat.cpu_nanos(os.getpid())
        thread = threading.Thread(target=spin)
        thread.start()
        try:
            self.assertTrue(spun.wait(30))
            self.assertGreaterEqual(procstat.cpu_nanos(os.getpid()) - before, 150_000_000)
        finally:
            release.set()
            thread.join()

    def test_serving_pid_follows_a_forking_launcher(self):
        # sh forks `sleep` (a command follows it), as a non-exec launcher would.
        launcher = subprocess.Popen(["sh", "-c", "sleep 30; true"])
        try:
            # The child exists before it has exec'd `sleep`: wait for both.
            def sleep_started():
                kids = procstat.children(launcher.pid)
                return kids and _cmdline(kids[0]).startswith(b"sleep")
            test_util.wait_for(sleep_started, "the launcher's child to exec sleep", 10)
            (child,) = procstat.children(launcher.pid)
            self.assertEqual(procstat.serving_pid(launcher.pid), child)
            self.assertTrue(_cmdline(child).startswith(b"sleep"))
        finally:
            launcher.kill()
            launcher.wait()

    def test_serving_pid_of_a_childless_process_is_itself(self):
        process = subprocess.Popen(["sleep", "30"])
        try:
            self.assertEqual(procstat.serving_pid(process.pid), process.pid)
        finally:
            process.kill()
            process.wait()


if __name__ == "__main__":
    absltest.main()
