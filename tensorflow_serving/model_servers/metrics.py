"""Request metrics in Prometheus text format, with upstream's metric names.

Only created when --monitoring_config_file enables Prometheus, so the default
serving path pays nothing for it.
"""

import bisect
import re
import threading

# Upstream's latency buckets (microseconds), exponential from 10us.
_BUCKETS_US = tuple(10 * 1.8 ** i for i in range(33))


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    """Thread-safe counters and a latency histogram per (model, API, entrypoint)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = {}       # (model, status) -> n
        self._latency = {}      # (model, api, entrypoint) -> [buckets, sum, count]
        self._api_counts = {}   # (model, api, entrypoint, status) -> n

    def record(self, model: str, api: str, entrypoint: str, code: str,
               seconds: float) -> None:
        micros = seconds * 1e6
        idx = bisect.bisect_left(_BUCKETS_US, micros)
        with self._lock:
            key = (model, code)
            self._counts[key] = self._counts.get(key, 0) + 1
            akey = (model, api, entrypoint, code)
            self._api_counts[akey] = self._api_counts.get(akey, 0) + 1
            lkey = (model, api, entrypoint)
            hist = self._latency.get(lkey)
            if hist is None:
                hist = self._latency[lkey] = [[0] * (len(_BUCKETS_US) + 1), 0.0, 0]
            hist[0][idx] += 1
            hist[1] += micros
            hist[2] += 1

    def prometheus_text(self) -> str:
        with self._lock:
            counts = dict(self._counts)
            api_counts = dict(self._api_counts)
            latency = {k: ([*v[0]], v[1], v[2]) for k, v in self._latency.items()}
        out = ["# TYPE :tensorflow:serving:request_count counter"]
        for (model, code), n in sorted(counts.items()):
            out.append(f':tensorflow:serving:request_count{{model_name="{_label(model)}",'
                       f'status="{_label(code)}"}} {n}')
        out.append("# TYPE :tensorflow:serving:request_count_by_api counter")
        for (model, api, entry, code), n in sorted(api_counts.items()):
            out.append(f':tensorflow:serving:request_count_by_api{{model_name="{_label(model)}",'
                       f'API="{api}",entrypoint="{entry}",status="{code}"}} {n}')
        out.append("# TYPE :tensorflow:serving:request_latency histogram")
        for (model, api, entry), (buckets, total, count) in sorted(latency.items()):
            labels = f'model_name="{_label(model)}",API="{api}",entrypoint="{entry}"'
            cumulative = 0
            for bound, n in zip(_BUCKETS_US, buckets):
                cumulative += n
                out.append(f':tensorflow:serving:request_latency_bucket{{{labels},'
                           f'le="{bound:g}"}} {cumulative}')
            cumulative += buckets[-1]
            out.append(f':tensorflow:serving:request_latency_bucket{{{labels},'
                       f'le="+Inf"}} {cumulative}')
            out.append(f':tensorflow:serving:request_latency_sum{{{labels}}} {total:g}')
            out.append(f':tensorflow:serving:request_latency_count{{{labels}}} {count}')
        return "\n".join(out) + "\n"


class MonitoringConfig:
    """The subset of upstream's MonitoringConfig proto the server honours."""

    def __init__(self, prometheus_enable: bool = False,
                 prometheus_path: str = "/monitoring/prometheus/metrics"):
        self.prometheus_enable = prometheus_enable
        self.prometheus_path = prometheus_path


_TOKEN = re.compile(r'\s*(?:(#[^\n]*|[,;])|([A-Za-z_][A-Za-z0-9_]*)|(\{)|(\})|(:)|'
                    r'("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|([^\s{}:,;"\']+))')


def parse_monitoring_config(text: str) -> MonitoringConfig:
    """Parses `prometheus_config { enable: true path: "/..." }` (text format).

    ValueError names the offending token on anything else.
    """
    tokens = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"unexpected text at offset {pos}: {text[pos:pos + 20]!r}")
        pos = m.end()
        if m.group(1):
            continue
        tokens.append(m.group(0).strip())
    config = MonitoringConfig()
    i = 0

    def expect(tok):
        nonlocal i
        if i >= len(tokens) or tokens[i] != tok:
            got = tokens[i] if i < len(tokens) else "end of file"
            raise ValueError(f"expected {tok!r}, got {got!r}")
        i += 1

    while i < len(tokens):
        name = tokens[i]
        i += 1
        if name != "prometheus_config":
            raise ValueError(f"unknown field {name!r} in MonitoringConfig "
                             "(expected prometheus_config)")
        if i < len(tokens) and tokens[i] == ":":
            i += 1
        expect("{")
        while i < len(tokens) and tokens[i] != "}":
            field = tokens[i]
            i += 1
            expect(":")
            if i >= len(tokens):
                raise ValueError(f"missing value for {field!r}")
            value = tokens[i]
            i += 1
            if field == "enable":
                if value not in ("true", "false", "True", "False", "1", "0", "t", "f"):
                    raise ValueError(f"bad bool for enable: {value!r}")
                config.prometheus_enable = value in ("true", "True", "1", "t")
            elif field == "path":
                if value[:1] not in "\"'":
                    raise ValueError(f"path must be a quoted string, got {value!r}")
                config.prometheus_path = (value[1:-1].encode().decode("unicode_escape")
                                          or MonitoringConfig().prometheus_path)
            else:
                raise ValueError(f"unknown field {field!r} in PrometheusConfig "
                                 "(expected enable or path)")
        expect("}")
    if config.prometheus_enable and not config.prometheus_path.startswith("/"):
        raise ValueError(f"prometheus path must start with '/': "
                         f"{config.prometheus_path!r}")
    return config
