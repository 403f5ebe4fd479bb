"""Tests for batching_config: the file says what the server will parse."""

from absl.testing import absltest

from tensorflow_serving.batching import batching_parameters
from tensorflow_serving.benchmarks import batching_config


class BatchingConfigTest(absltest.TestCase):

    def test_the_server_reads_back_every_value(self):
        text = batching_config.batching_parameters_text(
            max_batch_size=32, batch_timeout_micros=750, max_enqueued_batches=1000,
            num_batch_threads=1)
        options = batching_parameters.parse_batching_parameters(text)
        self.assertEqual(options.max_batch_size, 32)
        self.assertEqual(options.batch_timeout_micros, 750)
        self.assertEqual(options.max_enqueued_batches, 1000)
        self.assertEqual(options.num_batch_threads, 1)

    def test_rejects_values_the_server_would_refuse(self):
        with self.assertRaisesRegex(ValueError, "max_batch_size"):
            batching_config.batching_parameters_text(0, 1000, 10, 1)
        with self.assertRaisesRegex(ValueError, "batch_timeout_micros"):
            batching_config.batching_parameters_text(32, -1, 10, 1)


if __name__ == "__main__":
    absltest.main()
