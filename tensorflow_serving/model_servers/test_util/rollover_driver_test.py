"""rollover_driver: the kernel's memory figures, the targets' verdicts."""

import os

from absl.testing import absltest

from tensorflow_serving.model_servers.test_util import rollover_driver

_MB = 1 << 20


def _rollovers(rss_and_peaks):
    return tuple(rollover_driver.Rollover(v, 1.0, rss * _MB, peak * _MB)
                 for v, (rss, peak) in enumerate(rss_and_peaks, start=2))


class KernelFiguresTest(absltest.TestCase):

    def test_rss_and_peak_of_this_process(self):
        pid = os.getpid()
        rss = rollover_driver.rss_bytes(pid)
        self.assertGreater(rss, _MB)
        self.assertGreaterEqual(rollover_driver.peak_rss_bytes(pid), rss)

    def test_peak_is_reset_to_the_current_rss(self):
        pid = os.getpid()
        block = bytearray(b"x" * (64 * _MB))
        del block
        high = rollover_driver.peak_rss_bytes(pid)
        self.assertGreaterEqual(high - rollover_driver.rss_bytes(pid), 60 * _MB)
        self.assertTrue(rollover_driver.reset_peak_rss(pid))
        self.assertLess(rollover_driver.peak_rss_bytes(pid), high - 60 * _MB)

    def test_directory_bytes(self):
        root = self.create_tempdir()
        root.create_file("a", "x" * 1000)
        root.create_file("sub/b", "y" * 24)
        self.assertEqual(1024, rollover_driver.directory_bytes(root.full_path))


class MemoryTargetsTest(absltest.TestCase):

    def test_within_both_targets(self):
        targets = rollover_driver.MemoryTargets(
            800 * _MB, 80 * _MB, 100 * _MB,
            _rollovers([(820, 900), (870, 915), (876, 910)]))
        self.assertAlmostEqual(0.095, targets.growth)
        self.assertTrue(targets.growth_ok())
        self.assertAlmostEqual(1.15, targets.peak_versions)
        self.assertTrue(targets.peak_ok())
        lines = targets.lines()
        self.assertIn("876 MB: +9.5% (target <= +10%): PASS", lines[0])
        self.assertIn("915 MB", lines[1])
        self.assertIn("1.15 x a version's resident 100 MB (1.44 x its 80 MB on "
                      "disk) (target <= 1.2 x): PASS", lines[1])

    def test_growth_and_peak_misses(self):
        targets = rollover_driver.MemoryTargets(
            800 * _MB, 100 * _MB, 100 * _MB, _rollovers([(850, 900), (900, 925)]))
        self.assertFalse(targets.growth_ok())
        self.assertFalse(targets.peak_ok())
        self.assertTrue(all(line.endswith("MISS") for line in targets.lines()))


class GrowthSinceFirstTest(absltest.TestCase):

    def test_median_of_the_last_readings_minus_the_first(self):
        self.assertEqual(15, rollover_driver.growth_since_first([100, 150, 110, 120]))
        self.assertEqual(10, rollover_driver.growth_since_first([100, 90, 110, 110],
                                                                tail=3))

    def test_one_version_per_rollover_shows(self):
        leak = [800 + 40 * i for i in range(5)]
        self.assertEqual(140, rollover_driver.growth_since_first(leak))

    def test_needs_enough_readings(self):
        with self.assertRaises(ValueError):
            rollover_driver.growth_since_first([1, 2])


if __name__ == "__main__":
    absltest.main()
