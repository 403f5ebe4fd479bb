"""Runs h2load (nghttp2's HTTP/2 load generator) and reads what it reports.

h2load's summary gives req/s and min/max/mean request times, not
percentiles, so each measured run also writes `--log-file` (one line per
request: start time in microseconds since the epoch, HTTP status or -1 for a
failed stream, microseconds until the end of the response) and the
percentiles come from that.

A gRPC error travels as HTTP 200 with grpc-status in the trailers, which h2load
does not show. A failed unary RPC has no response message, though, so the DATA
bytes h2load counts tell how many requests got one: a run is measured without
h2load's --warm-up-time (whose DATA bytes are counted too, while its requests
are not), and the benchmark warms up with a separate run instead.
"""

import dataclasses
import re
import shutil
import subprocess

INSTALL_HINT = ("h2load not found: install it with `apt-get install nghttp2-client` "
                "(Debian/Ubuntu package nghttp2-client)")


def find_h2load() -> str | None:
    return shutil.which("h2load")


@dataclasses.dataclass
class Summary:
    """h2load's end-of-run summary."""
    duration_s: float
    req_per_s: float
    total: int
    started: int
    done: int
    succeeded: int
    failed: int
    errored: int
    timeout: int
    status_2xx: int
    status_3xx: int
    status_4xx: int
    status_5xx: int
    data_bytes: int
    mean_ms: float | None = None


_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _duration_ms(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(us|ms|s)", text)
    if not match:
        raise ValueError(f"not an h2load duration: {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_summary(output: str) -> Summary:
    """Parses h2load's stdout; ValueError naming the line h2load did not print."""
    def need(pattern, what):
        match = re.search(pattern, output, re.MULTILINE)
        if not match:
            raise ValueError(f"h2load output has no {what} line:\n{output}")
        return match

    finished = need(r"^finished in ([0-9.]+)(us|ms|s), ([0-9.]+) req/s", "'finished in'")
    requests = need(
        r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
        r"(\d+) failed, (\d+) errored, (\d+) timeout", "'requests:'")
    codes = need(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx",
                 "'status codes:'")
    traffic = need(r"^traffic: .*? ([0-9.]+\w*) \((\d+)\) data\s*$", "'traffic:'")
    mean = re.search(r"^time for request:\s+(\S+)\s+(\S+)\s+(\S+)", output, re.MULTILINE)
    r = [int(x) for x in requests.groups()]
    c = [int(x) for x in codes.groups()]
    return Summary(
        duration_s=_duration_ms(finished.group(1) + finished.group(2)) / 1e3,
        req_per_s=float(finished.group(3)),
        total=r[0], started=r[1], done=r[2], succeeded=r[3], failed=r[4],
        errored=r[5], timeout=r[6],
        status_2xx=c[0], status_3xx=c[1], status_4xx=c[2], status_5xx=c[3],
        data_bytes=int(traffic.group(2)),
        mean_ms=_duration_ms(mean.group(3)) if mean else None)


@dataclasses.dataclass
class LogEntry:
    start_us: int
    status: int          # -1: the stream failed
    duration_us: int


def parse_log(text: str) -> list[LogEntry]:
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 3:
            raise ValueError(f"h2load log line {number}: expected 3 tab-separated "
                             f"fields, got {line!r}")
        try:
            entries.append(LogEntry(int(fields[0]), int(fields[1]), int(fields[2])))
        except ValueError:
            raise ValueError(f"h2load log line {number}: not integers: {line!r}") from None
    return entries


def http_errors(summary: Summary) -> int:
    """Requests without a 2xx response (failed streams, errors, non-2xx codes)."""
    return max(0, summary.total - summary.status_2xx)


def grpc_errors_from_data(summary: Summary, response_frame_bytes: int) -> int:
    """How many 2xx gRPC responses carried no message (i.e. grpc-status != 0).

    `response_frame_bytes` is the size of one successful response body (5-byte
    frame header + message); every successful unary RPC sends exactly that.
    """
    if response_frame_bytes <= 0:
        raise ValueError("response_frame_bytes must be positive")
    with_message = summary.data_bytes // response_frame_bytes
    return max(0, summary.status_2xx - with_message)


def command(url: str, *, clients: int, duration_s: float | None = None,
            requests: int | None = None, data_file: str | None = None,
            headers=(), http1: bool = False, log_file: str | None = None,
            threads: int = 1) -> list[str]:
    """h2load's argv; one stream per client (-m 1) so concurrency == clients."""
    if (duration_s is None) == (requests is None):
        raise ValueError("give exactly one of duration_s and requests")
    argv = ["h2load", "-c", str(clients), "-t", str(threads), "-m", "1"]
    if duration_s is not None:
        # h2load takes whole seconds, or a unit suffix; milliseconds keep
        # fractions exact.
        argv += ["-D", f"{max(1, round(duration_s * 1000))}ms"]
    else:
        argv += ["-n", str(max(requests, clients))]
    if data_file:
        argv += ["-d", data_file]
    for header in headers:
        argv += ["-H", header]
    if http1:
        argv.append("--h1")
    if log_file:
        argv.append(f"--log-file={log_file}")
    argv.append(url)
    return argv


def run(argv: list[str], *, binary: str = "h2load", cpu: int | None = None,
        timeout: float | None = None) -> str:
    """Runs h2load (pinned to `cpu` if given); returns stdout, raises on failure."""
    argv = [binary] + list(argv[1:])
    if cpu is not None:
        # taskset pins before h2load starts, its threads included. Not a
        # preexec_fn: by now the benchmark has gRPC's threads, and Python run
        # between fork and exec in a threaded process can crash the child
        # (it did, with SIGSEGV).
        argv = ["taskset", "-c", str(cpu)] + argv
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                            check=False)
    if result.returncode != 0:
        raise RuntimeError(f"h2load exited with {result.returncode}: "
                           f"{' '.join(argv)}\n{result.stdout}\n{result.stderr}")
    return result.stdout
