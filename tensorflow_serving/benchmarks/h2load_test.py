"""Tests for h2load: command lines and parsing h2load 1.52's real output."""

from absl.testing import absltest

from tensorflow_serving.benchmarks import h2load

# Real h2load 1.52.0 output (gRPC Predict against the canned server).
_OUTPUT = """starting benchmark...
spawning thread #0: 8 total client(s). Timing-based test with 0s of warm-up time and 2s of main duration for measurements.
Application protocol: h2c
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 2.00s, 2183.50 req/s, 339.27KB/s
requests: 4367 total, 4367 started, 4367 done, 4360 succeeded, 7 failed, 2 errored, 1 timeout
status codes: 4360 2xx, 0 3xx, 3 4xx, 1 5xx
traffic: 678.54KB (694829) total, 20.46KB (20955) headers (space savings 96.19%), 426.17KB (436400) data
                     min         max         mean         sd        +/- sd
time for request:     1.29ms     16.67ms      3.64ms      1.13ms    80.76%
time for connect:        0us         0us         0us         0us     0.00%
time to 1st byte:        0us         0us         0us         0us     0.00%
req/s           :     271.94      273.94      272.88        0.73    62.50%
"""


class ParseSummaryTest(absltest.TestCase):

    def test_parses_every_figure(self):
        s = h2load.parse_summary(_OUTPUT)
        self.assertEqual(s.duration_s, 2.0)
        self.assertEqual(s.req_per_s, 2183.5)
        self.assertEqual((s.total, s.started, s.done, s.succeeded, s.failed, s.errored,
                          s.timeout), (4367, 4367, 4367, 4360, 7, 2, 1))
        self.assertEqual((s.status_2xx, s.status_3xx, s.status_4xx, s.status_5xx),
                         (4360, 0, 3, 1))
        self.assertEqual(s.data_bytes, 436400)
        self.assertAlmostEqual(s.mean_ms, 3.64)

    def test_durations_in_other_units(self):
        text = (_OUTPUT.replace("finished in 2.00s", "finished in 850.5ms")
                .replace("3.64ms      1.13ms", "640us      1.13ms"))
        s = h2load.parse_summary(text)
        self.assertAlmostEqual(s.duration_s, 0.8505)
        self.assertAlmostEqual(s.mean_ms, 0.64)

    def test_missing_line_is_named(self):
        text = "\n".join(l for l in _OUTPUT.splitlines()
                         if not l.startswith("status codes"))
        with self.assertRaisesRegex(ValueError, "status codes"):
            h2load.parse_summary(text)


class ErrorsTest(absltest.TestCase):

    def test_http_errors_count_everything_but_2xx(self):
        self.assertEqual(h2load.http_errors(h2load.parse_summary(_OUTPUT)), 7)

    def test_grpc_errors_from_missing_response_bytes(self):
        s = h2load.parse_summary(_OUTPUT)
        # 4360 2xx responses of 100-byte frames: 436400 bytes covers them all
        # (the rest is error bodies). With 435600 bytes, 4 carried no message.
        self.assertEqual(h2load.grpc_errors_from_data(s, 100), 0)
        s.data_bytes = 435600
        self.assertEqual(h2load.grpc_errors_from_data(s, 100), 4)
        s.data_bytes = 435650  # a partial frame's worth does not count
        self.assertEqual(h2load.grpc_errors_from_data(s, 100), 4)
        with self.assertRaises(ValueError):
            h2load.grpc_errors_from_data(s, 0)


class ParseLogTest(absltest.TestCase):

    def test_parses_rows(self):
        entries = h2load.parse_log("1795482865918959\t200\t3646\n"
                                   "1795482865919472\t-1\t12\n\n")
        self.assertEqual([(e.start_us, e.status, e.duration_us) for e in entries],
                         [(1795482865918959, 200, 3646), (1795482865919472, -1, 12)])

    def test_extra_columns_are_ignored(self):
        self.assertEqual(h2load.parse_log("1\t200\t5\tnew\n")[0].duration_us, 5)

    def test_bad_rows_name_the_line(self):
        with self.assertRaisesRegex(ValueError, "line 2"):
            h2load.parse_log("1\t200\t5\n1\t200\n")
        with self.assertRaisesRegex(ValueError, "line 1.*integers"):
            h2load.parse_log("a\tb\tc\n")


class CommandTest(absltest.TestCase):

    def test_grpc_duration_command(self):
        argv = h2load.command("http://127.0.0.1:1/p", clients=8, duration_s=2.5,
                              data_file="/tmp/body",
                              headers=("content-type: application/grpc", "te: trailers"),
                              log_file="/tmp/log")
        self.assertEqual(argv, [
            "h2load", "-c", "8", "-t", "1", "-m", "1", "-D", "2500ms", "-d", "/tmp/body",
            "-H", "content-type: application/grpc", "-H", "te: trailers",
            "--log-file=/tmp/log", "http://127.0.0.1:1/p"])

    def test_http1_request_count_command(self):
        argv = h2load.command("http://h/x", clients=4, requests=2, http1=True)
        # At least one request per client, or h2load refuses to start.
        self.assertEqual(argv, ["h2load", "-c", "4", "-t", "1", "-m", "1", "-n", "4",
                                "--h1", "http://h/x"])

    def test_needs_exactly_one_of_duration_and_count(self):
        with self.assertRaises(ValueError):
            h2load.command("http://h/", clients=1)
        with self.assertRaises(ValueError):
            h2load.command("http://h/", clients=1, duration_s=1, requests=1)


if __name__ == "__main__":
    absltest.main()
