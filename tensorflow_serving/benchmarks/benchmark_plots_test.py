from absl.testing import absltest

from tensorflow_serving.benchmarks import benchmark_plots
from tensorflow_serving.example import png_panels


def _cell(api, concurrency, rps, batching=None, server="server"):
    return {"api": api, "batching": batching, "concurrency": concurrency,
            "req_per_s": rps, "p50_ms": 1000.0 * concurrency / rps,
            "p99_ms": 2000.0 * concurrency / rps, "server": server}


_RESULTS = {"cells": [
    _cell("grpc", 32, 12000.0, False), _cell("grpc", 1, 2000.0, False),
    _cell("grpc", 8, 9000.0, False), _cell("grpc", 1, 1800.0, True),
    _cell("grpc", 32, 20000.0, True), _cell("rest", 1, 1500.0, False),
    _cell("rest", 32, 8000.0, False), _cell("canned", 1, 1000.0, server=None),
    _cell("canned", 32, 5000.0, server=None),
    _cell("grpc", 1, 1900.0, False, server="baseline"),
    {"api": "rest", "concurrency": 8, "req_per_s": None},  # a failed cell
]}


class SeriesTest(absltest.TestCase):

    def test_one_line_per_server_api_and_batching_by_concurrency(self):
        lines = benchmark_plots.series(_RESULTS)
        self.assertEqual(list(lines), [
            "baseline grpc, batching off", "canned", "grpc, batching off",
            "grpc, batching on", "rest, batching off"])
        self.assertEqual([p[:2] for p in lines["grpc, batching off"]],
                         [(1, 2000.0), (8, 9000.0), (32, 12000.0)])
        self.assertEqual(lines["rest, batching off"][1][2:], (4.0, 8.0))


class WritePlotsTest(absltest.TestCase):

    def test_two_pngs_with_one_and_two_panels(self):
        out = self.create_tempdir().full_path
        throughput, latency = benchmark_plots.write_plots(_RESULTS, out, "AMD EPYC")
        self.assertTrue(throughput.endswith(benchmark_plots.THROUGHPUT_FILE))
        self.assertEqual(png_panels.count_panels(
            throughput, benchmark_plots.PANEL_BACKGROUND), 1)
        self.assertEqual(png_panels.count_panels(
            latency, benchmark_plots.PANEL_BACKGROUND), 2)


if __name__ == "__main__":
    absltest.main()
