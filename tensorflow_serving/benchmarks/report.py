"""Turns benchmark results into the one table the benchmark prints.

Pure functions over plain data (the same dicts --output_json writes), so the
formatting and the target checks are unit-tested without running anything.
"""

import dataclasses
from collections.abc import Sequence

# The performance targets: checked and printed, never failing the run
# (numbers on a shared machine are noisy; the figures speak for themselves).
# gRPC Predict runs on the native data plane; the pure Python plane and the
# canned-response grpcio server are measured in the same run.
NATIVE_C32_MIN_CANNED_RATIO = 2.0
NATIVE_C32_MIN_PYTHON_RATIO = 4.0
NATIVE_MAX_CPU_US = 100.0
NATIVE_C1_MAX_P50_MS = 0.3
BATCHING_C32_MIN_RATIO = 1.0   # batching on vs off, native, c=32
REST_C8_MIN_RPS = 700.0
SOAK_MAX_RSS_GROWTH = 0.10
STARTUP_MAX_S = 3.0


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]],
                 numeric: Sequence[bool] | None = None) -> str:
    """A plain-text table; numeric columns right-aligned, None shown as '-'.

    A row that is a single string is printed as a section rule.
    """
    cells = [["-" if v is None else str(v) for v in row] for row in rows
             if not isinstance(row, str)]
    widths = [len(h) for h in headers]
    for row in cells:
        if len(row) != len(headers):
            raise ValueError(f"row has {len(row)} cells, table has {len(headers)} "
                             f"columns: {row}")
        widths = [max(w, len(v)) for w, v in zip(widths, row)]
    if numeric is None:
        numeric = [False] * len(headers)

    def line(values):
        out = [v.rjust(w) if num else v.ljust(w)
               for v, w, num in zip(values, widths, numeric)]
        return "  ".join(out).rstrip()

    total = sum(widths) + 2 * (len(widths) - 1)
    lines = [line(list(headers)), "-" * total]
    it = iter(cells)
    for row in rows:
        if isinstance(row, str):
            lines.append(f"-- {row} ".ljust(total, "-"))
        else:
            lines.append(line(next(it)))
    return "\n".join(lines)


def fmt(value: float | None, digits: int = 1) -> str | None:
    if value is None:
        return None
    return f"{value:,.{digits}f}"


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


@dataclasses.dataclass
class Target:
    name: str
    measured: str
    wanted: str
    verdict: str    # PASS, MISS, or "n/a" when the run did not measure it
    cell: tuple | None = None   # (api, batching, concurrency) the target is about


def _plane(cell):
    """"native" or "python" for our server's cells, None for the canned server's."""
    return None if cell["api"] == "canned" else cell.get("plane", "native")


def _cell(cells, api, batching, concurrency, plane="native"):
    if api == "canned":
        plane = None
    for cell in cells:
        if (cell["api"] == api and cell.get("batching") == batching
                and cell["concurrency"] == concurrency and _plane(cell) == plane):
            return cell
    return None


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def evaluate_targets(results: dict) -> list[Target]:
    """The targets against `results` (the benchmark's JSON dict)."""
    cells = results.get("cells", [])
    targets = []

    def ratio_target(name, cell_key, numerator, denominator, minimum, what):
        share = (ratio(numerator["req_per_s"], denominator["req_per_s"])
                 if numerator and denominator else None)
        targets.append(Target(
            name, f"{share:.2f}x {what}" if share is not None else "not run",
            f">= {minimum:.1f}x", _verdict(share >= minimum) if share is not None else "n/a",
            cell_key))

    native32 = _cell(cells, "grpc", False, 32)
    ratio_target("gRPC Predict, batching off, c=32 vs canned", ("grpc", False, 32, "native"),
                 native32, _cell(cells, "canned", None, 32),
                 NATIVE_C32_MIN_CANNED_RATIO, "canned")
    ratio_target("gRPC Predict, batching off, c=32 vs pure Python plane",
                 ("grpc", False, 32, "native"), native32,
                 _cell(cells, "grpc", False, 32, plane="python"),
                 NATIVE_C32_MIN_PYTHON_RATIO, "Python plane")
    ratio_target("gRPC Predict, c=32, batching on vs off", ("grpc", True, 32, "native"),
                 _cell(cells, "grpc", True, 32), native32, BATCHING_C32_MIN_RATIO,
                 "batching off")

    cpu = native32.get("cpu_us_per_req") if native32 else None
    targets.append(Target(
        "gRPC Predict server CPU per request, batching off, c=32",
        f"{fmt(cpu, 0)} us" if cpu is not None else "not run",
        f"<= {NATIVE_MAX_CPU_US:.0f} us",
        _verdict(cpu <= NATIVE_MAX_CPU_US) if cpu is not None else "n/a"))

    cell = _cell(cells, "grpc", False, 1)
    p50 = cell.get("p50_ms") if cell else None
    targets.append(Target(
        "gRPC Predict p50, batching off, c=1",
        f"{fmt(p50, 3)} ms" if p50 is not None else "not run",
        f"<= {NATIVE_C1_MAX_P50_MS} ms",
        _verdict(p50 <= NATIVE_C1_MAX_P50_MS) if p50 is not None else "n/a",
        ("grpc", False, 1, "native")))

    cell = _cell(cells, "rest", False, 8)
    rps = cell["req_per_s"] if cell else None
    targets.append(Target(
        "REST predict, batching off, c=8", f"{fmt(rps)} req/s" if cell else "not run",
        f">= {REST_C8_MIN_RPS:,.0f} req/s",
        _verdict(rps >= REST_C8_MIN_RPS) if cell else "n/a", ("rest", False, 8, "native")))

    soak = results.get("soak")
    growth = soak.get("rss_growth") if soak else None
    targets.append(Target(
        "RSS growth over the soak (gRPC c=8)",
        f"{growth:+.1%} over {soak['seconds']:.0f} s" if growth is not None
        else "not run (--soak_s=0)",
        f"< {SOAK_MAX_RSS_GROWTH:.0%} over 60 s",
        _verdict(growth < SOAK_MAX_RSS_GROWTH) if growth is not None else "n/a"))

    startup = results.get("server", {}).get("startup_s")
    targets.append(Target(
        "process start to model AVAILABLE",
        f"{startup:.2f} s" if startup is not None else "not run",
        f"<= {STARTUP_MAX_S:.0f} s",
        _verdict(startup <= STARTUP_MAX_S) if startup is not None else "n/a"))

    rss = results.get("server", {}).get("rss_after_run_mb")
    python_rss = results.get("python_plane", {}).get("rss_after_run_mb")
    targets.append(Target(
        "server RSS after the run vs the pure Python plane's",
        f"{rss:.0f} MB vs {python_rss:.0f} MB" if rss and python_rss else "not run",
        "<= the Python plane's",
        _verdict(rss <= python_rss) if rss and python_rss else "n/a"))
    return targets


_API_LABELS = {"grpc": "gRPC Predict", "rest": "REST predict", "canned": "canned gRPC"}
_PLANE_LABELS = {"native": "native plane", "python": "pure Python plane", None: None}


def _target_text(target: Target) -> str:
    return f"{target.verdict} {target.wanted}"


def render(results: dict) -> str:
    """The benchmark's one table: figures, ratios to the ceilings, targets."""
    headers = ["api", "batching", "c", "req/s", "p50 ms", "p99 ms", "CPU us/req",
               "errors", "vs canned", "vs Python", "vs in-proc", "target"]
    numeric = [False, False, True, True, True, True, True, True, True, True, True, False]
    cells = results.get("cells", [])
    inprocess = results.get("inprocess") or {}
    in_rps = inprocess.get("calls_per_s")
    targets = evaluate_targets(results)
    by_cell = {}
    for target in targets:
        if target.cell is not None:
            by_cell.setdefault(target.cell, []).append(target)
    rows = []
    section = None
    for cell in cells:
        plane = _plane(cell)
        key = (cell["api"], plane, cell.get("batching"))
        if key != section:
            section = key
            batching = {True: "batching on", False: "batching off", None: None}[key[2]]
            rows.append(", ".join(filter(None, [_API_LABELS.get(key[0], key[0]),
                                                _PLANE_LABELS.get(plane), batching])))
        canned = _cell(cells, "canned", None, cell["concurrency"])
        # The canned server is a gRPC ceiling: REST rows get no such ratio.
        vs_canned = (ratio(cell["req_per_s"], canned["req_per_s"])
                     if canned and cell["api"] == "grpc" else None)
        python = _cell(cells, cell["api"], False, cell["concurrency"], plane="python")
        vs_python = (ratio(cell["req_per_s"], python["req_per_s"])
                     if python and plane == "native" and cell["api"] == "grpc" else None)
        vs_inproc = ratio(cell["req_per_s"], in_rps)
        errors = cell.get("http_errors", 0)
        grpc_errors = cell.get("grpc_errors")
        error_text = str(errors) if not grpc_errors else f"{errors}+{grpc_errors}g"
        cell_targets = by_cell.get((cell["api"], cell.get("batching"),
                                    cell["concurrency"], plane), [])
        rows.append([
            _API_LABELS.get(cell["api"], cell["api"]),
            {True: "on", False: "off", None: "-"}[cell.get("batching")],
            cell["concurrency"], fmt(cell["req_per_s"]), fmt(cell.get("p50_ms"), 3),
            fmt(cell.get("p99_ms"), 3), fmt(cell.get("cpu_us_per_req"), 0), error_text,
            f"{vs_canned:.2f}" if vs_canned is not None else None,
            f"{vs_python:.2f}" if vs_python is not None else None,
            f"{vs_inproc:.2f}" if vs_inproc is not None else None,
            "; ".join(_target_text(t) for t in cell_targets) or None])
    if in_rps:
        rows.append("in-process ceiling: the model called in a tight loop, batch 1")
        ways = inprocess.get("ways") or {inprocess.get("method", "in-process"): inprocess}
        for method, way in ways.items():
            rows.append([method, "-", 1, fmt(way["calls_per_s"]),
                         fmt(way["us_per_call"] / 1000.0, 3)
                         if way.get("us_per_call") else None, None,
                         fmt(way.get("cpu_us_per_call"), 0), 0, None, None,
                         f"{ratio(way['calls_per_s'], in_rps):.2f}", None])
    footer = []
    for target in targets:
        if target.cell is None:
            footer.append(f"{target.verdict:4}  {target.name}: {target.measured} "
                          f"(wanted {target.wanted})")
    for label, server in (("native plane", results.get("server", {})),
                          ("pure Python plane", results.get("python_plane", {}))):
        if server.get("startup_s") is not None:
            footer.append(f"      {label}: start to AVAILABLE {server['startup_s']:.2f} s"
                          + (f" ({server['startup_batching_s']:.2f} s with "
                             "--enable_batching)" if server.get("startup_batching_s")
                             else ""))
        if server.get("rss_after_warmup_mb") is not None:
            footer.append(f"      {label}: RSS {server['rss_after_warmup_mb']:.0f} MB after "
                          f"warmup, {server.get('rss_after_run_mb', 0):.0f} MB after the run"
                          + (f" ({server['anon_rss_after_run_mb']:.0f} MB of it the "
                             "process's own, RssAnon; the rest is mapped files such as "
                             "libraries' code)" if server.get("anon_rss_after_run_mb")
                             else ""))
    soak = results.get("soak")
    if soak:
        footer.append(f"      soak: {fmt(soak['req_per_s'])} req/s, RSS "
                      f"{soak['rss_before_mb']:.0f} -> {soak['rss_after_mb']:.0f} MB")
    lines = [format_table(headers, rows, numeric)]
    lines.append("errors: non-2xx HTTP responses (+Ng: gRPC responses with "
                 "grpc-status != 0); vs: req/s over the ceiling's or the pure Python "
                 "plane's at the same c (in-proc: the faster in-process way)")
    lines.extend(footer)
    return "\n".join(lines)
