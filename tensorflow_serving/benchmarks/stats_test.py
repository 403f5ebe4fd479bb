"""Tests for stats: percentiles checked by hand and against numpy."""

import random

from absl.testing import absltest
import numpy as np

from tensorflow_serving.benchmarks import stats


class PercentileTest(absltest.TestCase):

    def test_by_hand(self):
        values = [40, 10, 30, 20]          # sorted: 10 20 30 40
        self.assertEqual(stats.percentile(values, 0), 10)
        self.assertEqual(stats.percentile(values, 100), 40)
        self.assertEqual(stats.percentile(values, 50), 25)       # between 20 and 30
        self.assertAlmostEqual(stats.percentile(values, 90), 37)  # 30 + 0.7 * 10
        self.assertEqual(stats.percentile([7], 99), 7)

    def test_matches_numpy(self):
        rng = random.Random(3)
        values = [rng.expovariate(1.0) for _ in range(1001)]
        for q in (1, 50, 90, 99, 99.9):
            self.assertAlmostEqual(stats.percentile(values, q),
                                   float(np.percentile(values, q)), places=12)

    def test_rejects_bad_input(self):
        with self.assertRaises(ValueError):
            stats.percentile([], 50)
        with self.assertRaises(ValueError):
            stats.percentile([1], 101)


class LatencyTest(absltest.TestCase):

    def test_microseconds_to_milliseconds(self):
        latency = stats.latency_ms(list(range(1000, 101000, 1000)))  # 1..100 ms
        self.assertEqual(latency.count, 100)
        self.assertAlmostEqual(latency.p50_ms, 50.5)
        self.assertAlmostEqual(latency.p99_ms, 99.01)
        self.assertEqual(latency.max_ms, 100.0)

    def test_no_requests(self):
        self.assertIsNone(stats.latency_ms([]))


class PairedRatioTest(absltest.TestCase):

    def test_median_of_same_round_ratios(self):
        # The machine slows by half in round 2: each round's ratio is 2, and
        # so is their median; the ratio of the sides' medians would be 1.5.
        self.assertEqual(stats.paired_ratio([200, 100, 300], [100, 50, 150]), 2)
        self.assertEqual(stats.paired_ratio([3, 8], [1, 2]), 3.5)  # even: the middle two

    def test_rejects_unpaired_rounds(self):
        with self.assertRaises(ValueError):
            stats.paired_ratio([1, 2], [1])
        with self.assertRaises(ValueError):
            stats.paired_ratio([], [])


if __name__ == "__main__":
    absltest.main()
