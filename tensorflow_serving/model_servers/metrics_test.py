"""Tests for the MonitoringConfig parser and the Prometheus text output."""

from absl.testing import absltest

from tensorflow_serving.model_servers import metrics


class MonitoringConfigTest(absltest.TestCase):

    def test_parses_upstream_format(self):
        config = metrics.parse_monitoring_config(
            '# comment\nprometheus_config {\n  enable: true,\n'
            '  path: "/monitoring/prometheus/metrics"\n}\n')
        self.assertTrue(config.prometheus_enable)
        self.assertEqual(config.prometheus_path, "/monitoring/prometheus/metrics")
        config = metrics.parse_monitoring_config("prometheus_config: { enable: false }")
        self.assertFalse(config.prometheus_enable)
        self.assertFalse(metrics.parse_monitoring_config("").prometheus_enable)

    def test_rejects_bad_input(self):
        for text, fragment in [("prometheus_config { enable: maybe }", "maybe"),
                               ("prometheus_config { colour: 1 }", "colour"),
                               ("foo { }", "foo"),
                               ("prometheus_config { enable: true", "end of file"),
                               ('prometheus_config { enable: true path: "x" }', "/")]:
            with self.assertRaises(ValueError) as cm:
                metrics.parse_monitoring_config(text)
            self.assertIn(fragment, str(cm.exception))


class MetricsTest(absltest.TestCase):

    def test_prometheus_text(self):
        m = metrics.Metrics()
        m.record("mnist", "Predict", "GRPC", "OK", 0.002)
        m.record("mnist", "Predict", "GRPC", "OK", 0.004)
        m.record("mnist", "Predict", "REST", "NOT_FOUND", 0.001)
        text = m.prometheus_text()
        self.assertIn(':tensorflow:serving:request_count{model_name="mnist",status="OK"} 2',
                      text)
        self.assertIn(':tensorflow:serving:request_count{model_name="mnist",'
                      'status="NOT_FOUND"} 1', text)
        self.assertIn(':tensorflow:serving:request_latency_count{model_name="mnist",'
                      'API="Predict",entrypoint="GRPC"} 2', text)
        self.assertIn(':tensorflow:serving:request_latency_bucket{model_name="mnist",'
                      'API="Predict",entrypoint="GRPC",le="+Inf"} 2', text)


if __name__ == "__main__":
    absltest.main()
