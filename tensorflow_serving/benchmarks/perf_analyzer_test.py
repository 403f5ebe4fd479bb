"""Reading perf_analyzer's report, and finding the binary and its library."""

import os

from absl.testing import absltest

from tensorflow_serving.benchmarks import perf_analyzer

_REPORT = """\
*** Measurement Settings ***
  Batch size: 1
  Service Kind: Triton

Request concurrency: 1
  Client: 
    Request count: 28257
    Throughput: 3919.35 infer/sec
    Avg latency: 254 usec (standard deviation 445 usec)
    p50 latency: 183 usec
    p99 latency: 2926 usec
    Avg HTTP time: 251 usec (send/recv 47 usec + response wait 204 usec)
Inferences/Second vs. Client Average Batch Latency
Concurrency: 1, throughput: 3919.35 infer/sec, latency 254 usec
"""


class PerfAnalyzerTest(absltest.TestCase):

    def test_client_lines(self):
        self.assertEqual(perf_analyzer.client_lines(_REPORT), [
            "    Request count: 28257",
            "    Throughput: 3919.35 infer/sec",
            "    Avg latency: 254 usec (standard deviation 445 usec)",
            "    p50 latency: 183 usec",
            "    p99 latency: 2926 usec",
            "    Avg HTTP time: 251 usec (send/recv 47 usec + response wait 204 usec)",
        ])

    def test_throughput(self):
        self.assertEqual(perf_analyzer.throughput(_REPORT), 3919.35)
        self.assertIsNone(perf_analyzer.throughput("error: no server"))

    def test_the_venv_has_it_and_its_cuda_runtime(self):
        command, env = perf_analyzer.command()
        self.assertTrue(os.access(command[0], os.X_OK))
        lib = env["LD_LIBRARY_PATH"].split(":")[0]
        self.assertTrue(os.path.isfile(os.path.join(lib, "libcudart.so.12")))

    def test_a_failed_run_says_why(self):
        command, env = perf_analyzer.command()
        with self.assertRaisesRegex(RuntimeError, "failed"):
            perf_analyzer.run(command + ["-m", "m", "-u", "127.0.0.1:1", "-i", "http"],
                              env, timeout=60)


if __name__ == "__main__":
    absltest.main()
