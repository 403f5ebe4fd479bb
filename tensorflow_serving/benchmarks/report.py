"""Turns benchmark results into the one table the benchmark prints.

Pure functions over plain data (the same dicts --output_json writes), so the
formatting and the target checks are unit-tested without running anything.
"""

import dataclasses
from collections.abc import Sequence

# The performance targets (issue 23): checked and printed, never failing the
# run (numbers on a shared machine are noisy; the figures speak for
# themselves). Ratios are to peers measured in the same run: our gRPC Predict,
# the canned-response servers (what Python alone can do), and, with
# --baseline_binary, another build of the server.
REST_MAX_CPU_US = 60.0
REST_C32_MIN_GRPC_RATIO = 0.6
REST_C32_MIN_CANNED_RATIO = 2.0
REST_C1_MAX_P50_MS = 0.2
GRPC_MAX_CPU_US = 50.0
GRPC_C1_MAX_P50_MS = 0.3
GRPC_MIN_BASELINE_SHARE = 0.95  # of the baseline's ratio to the canned ceiling
METHOD_MAX_CPU_RATIO = 2.0     # Classify and Regress CPU over Predict's
BATCHING_C32_MIN_RATIO = 1.0   # batching on vs off, c=32
SOAK_MAX_RSS_GROWTH = 0.10
STARTUP_MAX_S = 3.0
LOGGING_FULL_MIN_RATIO = 0.90     # gRPC req/s logging every request vs off
LOGGING_SAMPLED_MIN_RATIO = 0.98  # ... logging 1 in 100

MET = "MET"
NOT_MET = "NOT MET"
NOT_RUN = "n/a"


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
    verdict: str    # MET, NOT MET, or n/a when the run did not measure it


def _cell(cells, api, batching, concurrency, server="server"):
    """A cell of `server` ("server" or "baseline"); the canned servers' cells
    ("canned", "canned_rest", "canned_rest_asyncio") have no batching and no
    server."""
    for cell in cells:
        if (cell["api"] == api and cell["concurrency"] == concurrency
                and (api.startswith("canned")
                     or (cell.get("batching") == batching
                         and cell.get("server", "server") == server))):
            return cell
    return None


def _verdict(ok: bool) -> str:
    return MET if ok else NOT_MET


def _method_cell(results, call):
    for cell in results.get("methods") or []:
        if cell["call"] == call:
            return cell
    return None


def evaluate_targets(results: dict) -> list[Target]:
    """The targets against `results` (the benchmark's JSON dict)."""
    cells = results.get("cells", [])
    top = max((c["concurrency"] for c in cells), default=32)
    targets = []

    def at_most(name, value, maximum, unit, digits):
        targets.append(Target(
            name, f"{fmt(value, digits)} {unit}" if value is not None else "not run",
            f"<= {maximum:g} {unit}",
            _verdict(value <= maximum) if value is not None else NOT_RUN))

    def share_of(name, numerator, denominator, minimum, what):
        share = (ratio(numerator["req_per_s"], denominator["req_per_s"])
                 if numerator and denominator else None)
        if share is not None and "paired_ratio" in numerator:
            share = numerator["paired_ratio"]  # the median of same-round ratios
        targets.append(Target(
            name, f"{share:.2f}x {what}" if share is not None else "not run",
            f">= {minimum:g}x", _verdict(share >= minimum) if share is not None
            else NOT_RUN))

    grpc_top = _cell(cells, "grpc", False, top)
    rest_top = _cell(cells, "rest", False, top)
    at_most(f"REST predict server CPU per request, batching off, c={top}",
            rest_top.get("cpu_us_per_req") if rest_top else None, REST_MAX_CPU_US, "us", 0)
    share_of(f"REST predict req/s vs gRPC Predict's, batching off, c={top}", rest_top,
             grpc_top, REST_C32_MIN_GRPC_RATIO, "gRPC")
    share_of(f"REST predict req/s vs the canned REST ceiling, batching off, c={top}",
             rest_top, _cell(cells, "canned_rest", None, top), REST_C32_MIN_CANNED_RATIO,
             "canned REST")
    rest_1 = _cell(cells, "rest", False, 1)
    at_most("REST predict p50, batching off, c=1",
            rest_1.get("p50_ms") if rest_1 else None, REST_C1_MAX_P50_MS, "ms", 3)

    for call, predict in (("mnist Classify", "mnist Predict"),
                          ("hp2 Regress", "hp2 Predict")):
        cell, base = _method_cell(results, call), _method_cell(results, predict)
        share = (ratio(cell["cpu_us_per_req"], base["cpu_us_per_req"])
                 if cell and base else None)
        targets.append(Target(
            f"{call} server CPU vs {predict}'s, c={cell['concurrency'] if cell else top}",
            f"{share:.2f}x ({fmt(cell['cpu_us_per_req'], 0)} vs "
            f"{fmt(base['cpu_us_per_req'], 0)} us)" if share is not None else "not run",
            f"<= {METHOD_MAX_CPU_RATIO:g}x",
            _verdict(share <= METHOD_MAX_CPU_RATIO) if share is not None else NOT_RUN))

    for clients in sorted({1, top}):
        ours = _cell(cells, "grpc", False, clients)
        canned = _cell(cells, "canned", None, clients)
        baseline = _cell(cells, "grpc", False, clients, server="baseline")
        share = ratio(ours["req_per_s"], canned["req_per_s"]) if ours and canned else None
        before = (ratio(baseline["req_per_s"], canned["req_per_s"])
                  if baseline and canned else None)
        if share is None:
            measured, verdict = "not run", NOT_RUN
        elif before is None:
            measured, verdict = f"{share:.2f}x canned (no --baseline_binary)", NOT_RUN
        else:
            measured = f"{share:.2f}x canned, baseline {before:.2f}x"
            verdict = _verdict(share >= GRPC_MIN_BASELINE_SHARE * before)
        targets.append(Target(
            f"gRPC Predict req/s vs the canned gRPC ceiling, batching off, c={clients}",
            measured, f">= {GRPC_MIN_BASELINE_SHARE:g}x the baseline's ratio", verdict))
    at_most(f"gRPC Predict server CPU per request, batching off, c={top}",
            grpc_top.get("cpu_us_per_req") if grpc_top else None, GRPC_MAX_CPU_US, "us", 0)
    grpc_1 = _cell(cells, "grpc", False, 1)
    at_most("gRPC Predict p50, batching off, c=1",
            grpc_1.get("p50_ms") if grpc_1 else None, GRPC_C1_MAX_P50_MS, "ms", 3)
    share_of(f"gRPC Predict req/s, c={top}, batching on vs off",
             _cell(cells, "grpc", True, top), grpc_top, BATCHING_C32_MIN_RATIO,
             "batching off")

    logging_off = _cell(cells, "grpc", False, top, server="logging off")
    for kind, minimum in (("logging 1", LOGGING_FULL_MIN_RATIO),
                          ("logging 0.01", LOGGING_SAMPLED_MIN_RATIO)):
        share_of(f"gRPC Predict req/s with request logging at sampling "
                 f"{kind.split()[1]} vs without, c={top}",
                 _cell(cells, "grpc", False, top, server=kind), logging_off, minimum,
                 "without (per server CPU second, servers loaded at once)")

    soak = results.get("soak")
    growth = soak.get("rss_growth") if soak else None
    targets.append(Target(
        "RSS growth over the soak (gRPC c=8)",
        f"{growth:+.1%} over {soak['seconds']:.0f} s" if growth is not None
        else "not run (--soak_s=0)",
        f"< {SOAK_MAX_RSS_GROWTH:.0%} over 60 s",
        _verdict(growth < SOAK_MAX_RSS_GROWTH) if growth is not None else NOT_RUN))

    startup = results.get("server", {}).get("startup_s")
    at_most("process start to model AVAILABLE", startup, STARTUP_MAX_S, "s", 2)
    return targets


_API_LABELS = {"grpc": "gRPC Predict", "rest": "REST predict", "canned": "canned gRPC",
               "canned_rest": "canned REST, http.server",
               "canned_rest_asyncio": "canned REST, asyncio responder",
               "rest_large": "REST predict, [1,1000,1000] answer"}
_CEILINGS = {"grpc": "canned", "rest": "canned_rest"}


def render(results: dict) -> str:
    """The benchmark's report: header, figures with ratios to the ceilings,
    the calls' CPU, the large answer, then the targets."""
    headers = ["api", "batching", "c", "req/s", "p50 ms", "p99 ms", "CPU us/req",
               "errors", "vs canned", "vs in-proc"]
    numeric = [False, False, True, True, True, True, True, True, True, True]
    config = results.get("config", {})
    cells = results.get("cells", [])
    inprocess = results.get("inprocess") or {}
    in_rps = inprocess.get("calls_per_s")
    rows = []
    section = None
    for cell in cells:
        server = None if cell["api"].startswith("canned") else cell.get("server", "server")
        key = (cell["api"], server, cell.get("batching"))
        if key != section:
            section = key
            batching = {True: "batching on", False: "batching off", None: None}[key[2]]
            rows.append(", ".join(filter(None, [
                _API_LABELS.get(key[0], key[0]),
                "baseline server" if server == "baseline" else
                None if server in (None, "server") else f"request {server}", batching])))
        ceiling_api = _CEILINGS.get(cell["api"])
        ceiling = _cell(cells, ceiling_api, None, cell["concurrency"]) if ceiling_api else None
        vs_canned = ratio(cell["req_per_s"], ceiling["req_per_s"]) if ceiling else None
        vs_inproc = (ratio(cell["req_per_s"], in_rps)
                     if cell["api"] in ("grpc", "rest") or cell["api"].startswith("canned")
                     else None)
        errors = cell.get("http_errors", 0)
        grpc_errors = cell.get("grpc_errors")
        error_text = str(errors) if not grpc_errors else f"{errors}+{grpc_errors}g"
        rows.append([
            _API_LABELS.get(cell["api"], cell["api"]),
            {True: "on", False: "off", None: "-"}[cell.get("batching")],
            cell["concurrency"], fmt(cell["req_per_s"]), fmt(cell.get("p50_ms"), 3),
            fmt(cell.get("p99_ms"), 3), fmt(cell.get("cpu_us_per_req"), 0), error_text,
            f"{vs_canned:.2f}" if vs_canned is not None else None,
            f"{vs_inproc:.2f}" if vs_inproc is not None else None])
    methods = results.get("methods") or []
    if methods:
        rows.append("PredictionService calls (method_calls.py), batching off")
        for cell in methods:
            rows.append([cell["call"], "off", cell["concurrency"], fmt(cell["req_per_s"]),
                         None, None, fmt(cell["cpu_us_per_req"], 0), 0, None, None])
    if in_rps:
        rows.append("in-process ceiling: the model called in a tight loop, batch 1")
        ways = inprocess.get("ways") or {inprocess.get("method", "in-process"): inprocess}
        for method, way in ways.items():
            rows.append([method, "-", 1, fmt(way["calls_per_s"]),
                         fmt(way["us_per_call"] / 1000.0, 3)
                         if way.get("us_per_call") else None, None,
                         fmt(way.get("cpu_us_per_call"), 0), 0, None,
                         f"{ratio(way['calls_per_s'], in_rps):.2f}"])
    lines = []
    if config.get("cpu_model"):
        lines.append(f"CPU: {config['cpu_model']}, {config.get('cores', '?')} cores, "
                     f"{config.get('pinning', 'no pinning')}")
    lines.append(format_table(headers, rows, numeric))
    lines.append("errors: non-2xx HTTP responses (+Ng: gRPC responses with "
                 "grpc-status != 0); vs canned: req/s over the canned server's of the "
                 "same protocol at the same c; vs in-proc: over the faster in-process way")
    server = results.get("server", {})
    if server.get("startup_s") is not None:
        lines.append(f"server: start to AVAILABLE {server['startup_s']:.2f} s"
                     + (f" ({server['startup_batching_s']:.2f} s with "
                        "--enable_batching)" if server.get("startup_batching_s") else ""))
    if server.get("rss_after_warmup_mb") is not None:
        lines.append(f"server: RSS {server['rss_after_warmup_mb']:.0f} MB after "
                     f"warmup, {server.get('rss_after_run_mb', 0):.0f} MB after the run"
                     + (f" ({server['anon_rss_after_run_mb']:.0f} MB of it the "
                        "process's own, RssAnon; the rest is mapped files such as "
                        "libraries' code)" if server.get("anon_rss_after_run_mb")
                        else ""))
    soak = results.get("soak")
    if soak:
        lines.append(f"soak: {fmt(soak['req_per_s'])} req/s, RSS "
                     f"{soak['rss_before_mb']:.0f} -> {soak['rss_after_mb']:.0f} MB")
    top = max((c["concurrency"] for c in cells), default=32)
    rest_top = _cell(cells, "rest", False, top)
    bare = _cell(cells, "canned_rest_asyncio", None, top)
    if rest_top and bare:
        lines.append(f"REST predict req/s at c={top} vs the bare asyncio responder's: "
                     f"{ratio(rest_top['req_per_s'], bare['req_per_s']):.2f}x (no target; "
                     "the REST ceiling target is against http.server)")
    logged = [c for c in cells if c.get("sampling_rate")]
    if logged:
        lines.append("request logging: " + "; ".join(
            f"sampling {c['sampling_rate']:g}: {c.get('records_logged', 0)} records "
            f"written for {c.get('requests', '?')} measured requests and the warmup's"
            for c in logged))
    large = [c for c in cells if c["api"] == "rest_large"]
    if large:
        size = results.get("large_response_bytes")
        lines.append("REST predict with a " + (f"{size / 1e6:.1f} MB" if size else "large")
                     + " JSON answer, c=1: " + "; ".join(
                         f"{c.get('server', 'server')} p50 {fmt(c.get('p50_ms'), 1)} ms, "
                         f"p99 {fmt(c.get('p99_ms'), 1)} ms" for c in large))
    lines.append("targets:")
    for target in evaluate_targets(results):
        lines.append(f"  {target.verdict:7}  {target.name}: {target.measured} "
                     f"(wanted {target.wanted})")
    return "\n".join(lines)


def docs_block(results: dict, text: str) -> str:
    """What the benchmark writes into docs/performance.md: the machine, the
    date and the report of one run."""
    config = results.get("config", {})
    return (f"Run on {config.get('date', 'an unknown date')} on "
            f"{config.get('cpu_model', 'an unknown CPU')} "
            f"({config.get('cores', '?')} cores; {config.get('pinning', 'no pinning')}), "
            f"{fmt(config.get('duration_s'), 0)} s per cell"
            + (", with --baseline_binary" if config.get("baseline") else "") + ":\n\n"
            "```text\n" + text + "\n```")
