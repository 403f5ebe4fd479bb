"""Tests for report: table layout, target verdicts, the rendered table."""

import re

from absl.testing import absltest

from tensorflow_serving.benchmarks import report


def _cell(api, batching, c, rps, p50=0.5, p99=2.0, cpu=800.0, errors=0, grpc_errors=0,
          plane="native"):
    return {"api": api, "batching": batching, "concurrency": c, "req_per_s": rps,
            "p50_ms": p50, "p99_ms": p99, "cpu_us_per_req": cpu, "http_errors": errors,
            "grpc_errors": grpc_errors, "plane": plane}


def _results(**overrides):
    results = {
        "cells": [
            _cell("grpc", False, 1, 4000.0, p50=0.25),
            _cell("grpc", False, 32, 9000.0, cpu=90.0),
            _cell("grpc", True, 32, 8000.0, grpc_errors=3),
            _cell("rest", False, 8, 600.0, errors=2),
            _cell("grpc", False, 32, 2000.0, plane="python"),
            _cell("canned", None, 8, 2000.0, grpc_errors=None, plane=None),
            _cell("canned", None, 32, 4000.0, grpc_errors=None, plane=None),
        ],
        "inprocess": {"calls_per_s": 4000.0, "us_per_call": 250.0, "cpu_us_per_call": 240.0,
                      "method": "callable_from_options",
                      "ways": {"make_callable": {"calls_per_s": 1000.0, "us_per_call": 1000.0,
                                                 "cpu_us_per_call": 900.0},
                               "callable_from_options": {"calls_per_s": 4000.0,
                                                         "us_per_call": 250.0,
                                                         "cpu_us_per_call": 240.0}}},
        "server": {"startup_s": 2.5, "rss_after_warmup_mb": 500.0,
                   "rss_after_run_mb": 510.0},
        "python_plane": {"startup_s": 4.0, "rss_after_warmup_mb": 505.0,
                         "rss_after_run_mb": 520.0},
        "soak": None,
    }
    results.update(overrides)
    return results


class FormatTableTest(absltest.TestCase):

    def test_alignment_sections_and_missing_values(self):
        text = report.format_table(["name", "n"], [["a", 5], "part two", ["long name", None]],
                                   numeric=[False, True])
        self.assertEqual(text.splitlines(), [
            "name       n",
            "------------",
            "a          5",
            "-- part two ",
            "long name  -",
        ])

    def test_row_width_mismatch(self):
        with self.assertRaisesRegex(ValueError, "2 columns"):
            report.format_table(["a", "b"], [[1]])


class TargetsTest(absltest.TestCase):

    def test_verdicts(self):
        verdicts = {t.name: t.verdict for t in report.evaluate_targets(_results())}
        self.assertEqual(verdicts, {
            "gRPC Predict, batching off, c=32 vs canned": "PASS",      # 9000/4000 >= 2
            "gRPC Predict, batching off, c=32 vs pure Python plane": "PASS",  # 4.5 >= 4
            "gRPC Predict, c=32, batching on vs off": "MISS",           # 8000 < 9000
            "gRPC Predict server CPU per request, batching off, c=32": "PASS",  # 90 <= 100
            "gRPC Predict p50, batching off, c=1": "PASS",              # 0.25 <= 0.3
            "REST predict, batching off, c=8": "MISS",                  # 600 < 700
            "RSS growth over the soak (gRPC c=8)": "n/a",               # no soak
            "process start to model AVAILABLE": "PASS",                 # 2.5 <= 3
            "server RSS after the run vs the pure Python plane's": "PASS",  # 510 <= 520
        })

    def test_soak_and_missing_cells(self):
        results = _results(cells=[], soak={"seconds": 60, "req_per_s": 900.0,
                                           "rss_before_mb": 500.0, "rss_after_mb": 560.0,
                                           "rss_growth": 0.12})
        targets = {t.name: t for t in report.evaluate_targets(results)}
        self.assertEqual(targets["RSS growth over the soak (gRPC c=8)"].verdict, "MISS")
        self.assertEqual(targets["RSS growth over the soak (gRPC c=8)"].measured,
                         "+12.0% over 60 s")
        self.assertEqual(targets["gRPC Predict, batching off, c=32 vs canned"].verdict, "n/a")
        self.assertEqual(targets["REST predict, batching off, c=8"].measured, "not run")


class RenderTest(absltest.TestCase):

    def test_rows_ratios_and_targets(self):
        lines = report.render(_results()).splitlines()
        self.assertIn("-- gRPC Predict, native plane, batching off ", lines[2])
        row = next(l for l in lines if re.match(r"gRPC Predict +off +32 +9,000", l))
        # 9,000 req/s: 2.25 of the canned c=32 figure, 4.50 of the Python plane's,
        # 2.25 of in-process.
        self.assertRegex(row, r"9,000\.0 .* 2\.25 +4\.50 +2\.25 +PASS >= 2\.0x; PASS >= 4\.0x$")
        batching = next(l for l in lines if re.match(r"gRPC Predict +on ", l))
        self.assertIn("0+3g", batching)
        self.assertIn("MISS >= 1.0x", batching)
        python = next(l for l in lines if re.match(r"gRPC Predict +off +32 +2,000", l))
        self.assertRegex(python, r"2,000\.0 .* 0\.50 +- +0\.50 +-$")
        self.assertTrue(any("-- gRPC Predict, pure Python plane, batching off" in l
                            for l in lines))
        rest = next(l for l in lines if l.startswith("REST predict"))
        self.assertRegex(rest, r" 2 +- +- +0\.15 +MISS >= 700 req/s$")  # no canned c=8 REST
        self.assertTrue(any(re.match(r"callable_from_options .* 4,000\.0 .* 1\.00 +-$", l)
                            for l in lines))
        self.assertTrue(any(re.match(r"make_callable .* 1,000\.0 .* 0\.25 +-$", l)
                            for l in lines))
        self.assertTrue(any(l.startswith("PASS  process start to model AVAILABLE: 2.50 s")
                            for l in lines))
        self.assertTrue(any(l.startswith("PASS  server RSS after the run vs the pure "
                                         "Python plane's: 510 MB vs 520 MB") for l in lines))
        self.assertIn("      pure Python plane: start to AVAILABLE 4.00 s", lines)


if __name__ == "__main__":
    absltest.main()
