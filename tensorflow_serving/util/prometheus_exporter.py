"""Upstream's PrometheusExporter: every monitoring family as a Prometheus page.

Metric names are upstream's: each character outside [a-zA-Z0-9_] of the
monitoring name becomes ':' (/tensorflow/serving/request_count is
:tensorflow:serving:request_count), and histogram buckets are labelled with
upstream's limits (`le` with six significant digits, the last one +Inf). The
text format itself is written by prometheus_client.

prometheus_client names a counter family NAME_total. Upstream's counters
whose names end in _total (request_example_count_total) come out exactly as
upstream's; the others keep upstream's sample names and are typed `untyped`
so that no _total is appended to what dashboards query.
"""

import re

from prometheus_client import exposition
from prometheus_client import metrics_core
from prometheus_client import registry as registry_lib

from tensorflow_serving.util import monitoring

PROMETHEUS_PATH = "/monitoring/prometheus/metrics"
CONTENT_TYPE = "text/plain"


def prometheus_name(name: str) -> str:
    name = re.sub(r"[^a-zA-Z0-9_]", ":", name)
    return "_" + name if name[:1].isdigit() else name


def _label_name(name: str) -> str:
    name = re.sub(r"[^a-zA-Z0-9]", "_", name)
    return "_" + name if name[:1].isdigit() else name


def _limit(value: float) -> str:
    return f"{value:.6g}"


def _counter(family, name):
    if name.endswith("_total"):
        metric = metrics_core.Metric(name[:-len("_total")], family.description, "counter")
    else:
        metric = metrics_core.Metric(name, family.description, "unknown")
    label_names = [_label_name(n) for n in family.label_names]
    for labels, value in sorted(family.cells().items()):
        metric.add_sample(name, dict(zip(label_names, labels)), value)
    return metric


def _histogram(family, name):
    metric = metrics_core.Metric(name, family.description, "histogram")
    label_names = [_label_name(n) for n in family.label_names]
    limits = [_limit(v) for v in family.bucket_limits] + ["+Inf"]
    for labels, cell in sorted(family.cells().items()):
        base = dict(zip(label_names, labels))
        cumulative = 0
        for limit, count in zip(limits, cell.bucket_counts):
            cumulative += count
            metric.add_sample(name + "_bucket", {**base, "le": limit}, cumulative)
        metric.add_sample(name + "_sum", base, cell.sum)
        metric.add_sample(name + "_count", base, cumulative)
    return metric


class _Collector(registry_lib.Collector):

    def collect(self):
        monitoring.flush()
        for family in sorted(monitoring.families(), key=lambda f: f.name):
            name = prometheus_name(family.name)
            if family.kind == "histogram":
                yield _histogram(family, name)
            else:
                yield _counter(family, name)


class PrometheusExporter:
    """generate_page() renders the current value of every family."""

    def __init__(self):
        self._registry = registry_lib.CollectorRegistry(auto_describe=False)
        self._registry.register(_Collector())

    def generate_page(self) -> bytes:
        return exposition.generate_latest(self._registry)
