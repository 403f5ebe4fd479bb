"""The serving benchmark's pictures: throughput and latency against concurrency.

Two PNG files from one run's results (the JSON serving_benchmark writes):
requests per second against concurrency, one line per server, API and
batching setting, ceilings dashed; and the p50 and p99 latencies of the same
lines, side by side. Drawn on matplotlib's Agg canvas (no pyplot, no display).
"""

import os

from matplotlib.backends import backend_agg
from matplotlib import figure

THROUGHPUT_FILE = "throughput.png"
LATENCY_FILE = "latency.png"
_DPI = 100
# Each panel's face: what the plots' test counts panels by.
PANEL_BACKGROUND = "#f4efe1"
_CEILING_APIS = ("canned", "canned_rest", "canned_rest_asyncio")


def series(results: dict) -> dict:
    """{label: [(concurrency, req_per_s, p50_ms, p99_ms), ...]}, sorted by
    concurrency: one line per server, API and batching setting."""
    lines = {}
    for cell in results.get("cells", []):
        if cell.get("req_per_s") is None or cell.get("concurrency") is None:
            continue
        label = cell["api"]
        server = cell.get("server")
        if server and server != "server":
            label = f"{server} {label}"
        if cell.get("batching") is not None:
            label += ", batching " + ("on" if cell["batching"] else "off")
        lines.setdefault(label, []).append((cell["concurrency"], cell["req_per_s"],
                                            cell.get("p50_ms"), cell.get("p99_ms")))
    return {label: sorted(points) for label, points in sorted(lines.items())}


def _style(label):
    return "--" if label.split(",")[0].split()[-1] in _CEILING_APIS else "-"


def _axes(fig, where, title, ylabel, concurrencies):
    axes = fig.add_subplot(*where)
    axes.set_facecolor(PANEL_BACKGROUND)
    axes.set_title(title)
    axes.set_xlabel("concurrent clients")
    axes.set_ylabel(ylabel)
    axes.set_xscale("log", base=2)
    axes.set_xticks(concurrencies, [str(c) for c in concurrencies])
    axes.minorticks_off()
    return axes


def _save(fig, path):
    backend_agg.FigureCanvasAgg(fig)
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI, facecolor="white")


def write_plots(results: dict, out_dir: str, subtitle: str = "") -> list[str]:
    """Writes THROUGHPUT_FILE (one panel) and LATENCY_FILE (p50 and p99
    panels) into out_dir; returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    lines = series(results)
    concurrencies = sorted({p[0] for points in lines.values() for p in points})
    throughput = figure.Figure(figsize=(8, 5))
    axes = _axes(throughput, (1, 1, 1), "Throughput" + (f" ({subtitle})" if subtitle else ""),
                 "requests per second", concurrencies)
    for label, points in lines.items():
        axes.plot([p[0] for p in points], [p[1] for p in points], _style(label),
                  marker="o", label=label)
    axes.legend(fontsize="small")
    latency = figure.Figure(figsize=(12, 5))
    for column, (index, name) in enumerate(((2, "p50"), (3, "p99"))):
        axes = _axes(latency, (1, 2, column + 1), f"{name} latency", "milliseconds",
                     concurrencies)
        axes.set_yscale("log")
        for label, points in lines.items():
            kept = [(p[0], p[index]) for p in points if p[index] is not None]
            if kept:
                axes.plot([p[0] for p in kept], [p[1] for p in kept], _style(label),
                          marker="o", label=label)
        axes.legend(fontsize="small")
    paths = [os.path.join(out_dir, THROUGHPUT_FILE), os.path.join(out_dir, LATENCY_FILE)]
    _save(throughput, paths[0])
    _save(latency, paths[1])
    return paths
