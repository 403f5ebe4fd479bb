"""Tests for the monitoring families and their Prometheus page."""

from absl.testing import absltest
from prometheus_client.parser import text_string_to_metric_families

from tensorflow_serving.util import monitoring
from tensorflow_serving.util import prometheus_exporter

_counter = monitoring.Counter("/tensorflow/serving/test_count", "Test counts.",
                              ("model_name", "status"))
_total = monitoring.Counter("/tensorflow/serving/test_count_total", "Totals.", ("model",))
_sampler = monitoring.Sampler("/tensorflow/serving/test_latency", "Test latency.",
                              ("model_name",), monitoring.exponential_buckets(10, 1.8, 3))


class PrometheusExporterTest(absltest.TestCase):

    def setUp(self):
        super().setUp()
        monitoring.enable()
        self.addCleanup(monitoring.enable, False)

    def test_nothing_is_recorded_while_disabled(self):
        monitoring.enable(False)
        _counter.increment_by(("off", "OK"))
        self.assertEqual(_counter.value(("off", "OK")), 0)

    def test_page_has_upstream_names_labels_and_buckets(self):
        _counter.increment_by(("mnist", "OK"))
        _counter.increment_by(("mnist", "OK"))
        _counter.increment_by(('say "hi"\\', "NOT_FOUND"))
        _total.increment_by(("mnist",), 5)
        for value in (5, 10, 17.9, 18, 1000):
            _sampler.add(("mnist",), value)
        page = prometheus_exporter.PrometheusExporter().generate_page().decode()
        lines = page.splitlines()
        self.assertIn(':tensorflow:serving:test_count{model_name="mnist",status="OK"} 2.0',
                      lines)
        self.assertIn(':tensorflow:serving:test_count{model_name="say \\"hi\\"\\\\",'
                      'status="NOT_FOUND"} 1.0', lines)
        self.assertIn("# TYPE :tensorflow:serving:test_count_total counter", lines)
        self.assertIn(':tensorflow:serving:test_count_total{model="mnist"} 5.0', lines)
        # Buckets [10, 18, 32.4) and the rest; upstream puts a value equal to a
        # limit in the bucket above it.
        for le, count in (("10", 1), ("18", 3), ("32.4", 4), ("+Inf", 5)):
            self.assertIn(f':tensorflow:serving:test_latency_bucket{{le="{le}",'
                          f'model_name="mnist"}} {count}.0', lines)
        self.assertIn(':tensorflow:serving:test_latency_count{model_name="mnist"} 5.0',
                      lines)
        families = {f.name: f for f in text_string_to_metric_families(page)}
        self.assertEqual(families[":tensorflow:serving:test_latency"].type, "histogram")
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for s in families[":tensorflow:serving:test_latency"].samples}
        self.assertEqual(samples[(":tensorflow:serving:test_latency_sum",
                                  (("model_name", "mnist"),))], 1050.9)

    def test_label_count_is_checked(self):
        with self.assertRaises(ValueError):
            _counter.increment_by(("only_one",))

    def test_a_name_is_defined_once(self):
        with self.assertRaises(ValueError):
            monitoring.Counter("/tensorflow/serving/test_count", "again", ())


if __name__ == "__main__":
    absltest.main()
