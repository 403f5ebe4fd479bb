"""Tests for BatchingParameters files: protobuf's text format into BatchingOptions."""

import os

from absl.testing import absltest
from absl.testing import parameterized
import grpc

from tensorflow_serving.batching import batching_parameters

from tensorflow_serving.util import status

parse = batching_parameters.parse_batching_parameters


class ParseBatchingParametersTest(parameterized.TestCase):

    def test_upstream_example(self):
        # The shape of the file upstream's docs show for --batching_parameters_file.
        options = parse("""
            max_batch_size { value: 128 }
            batch_timeout_micros { value: 0 }
            max_enqueued_batches { value: 1000000 }
            num_batch_threads { value: 8 }
        """)
        self.assertEqual(options.max_batch_size, 128)
        self.assertEqual(options.batch_timeout_micros, 0)
        self.assertEqual(options.max_enqueued_batches, 1000000)
        self.assertEqual(options.num_batch_threads, 8)
        self.assertEqual(options.allowed_batch_sizes, ())
        self.assertFalse(options.pad_variable_length_inputs)
        self.assertEqual(options.thread_pool_name, "batch_threads")

    def test_every_field_and_syntax_variant(self):
        options = parse("""
            # Batching for the MNIST model.
            max_batch_size { value: 32 }  # trailing comment
            batch_timeout_micros: < value: 0x3e8 >
            max_enqueued_batches: { value: 4 };
            num_batch_threads { value: 2, }
            thread_pool_name { value: "model_" 'threads\\t' }
            allowed_batch_sizes: 8
            allowed_batch_sizes: [16, 32]
            pad_variable_length_inputs: true
            enable_large_batch_splitting { value: true }
            max_execution_batch_size { value: 32 }
        """)
        self.assertEqual(
            options,
            batching_parameters.BatchingOptions(
                max_batch_size=32, batch_timeout_micros=1000, max_enqueued_batches=4,
                num_batch_threads=2, thread_pool_name="model_threads\t",
                allowed_batch_sizes=(8, 16, 32), pad_variable_length_inputs=True,
                enable_large_batch_splitting=True, max_execution_batch_size=32))

    def test_empty_text_gives_defaults(self):
        self.assertEqual(parse("# nothing here\n"), batching_parameters.BatchingOptions())

    def test_unset_fields_keep_the_base(self):
        base = batching_parameters.BatchingOptions(num_batch_threads=3,
                                                thread_pool_name="shared")
        params = batching_parameters.BatchingParameters()
        params.max_batch_size.value = 4
        options = batching_parameters.to_batching_options(params, base=base)
        self.assertEqual((options.max_batch_size, options.num_batch_threads,
                          options.thread_pool_name), (4, 3, "shared"))

    @parameterized.named_parameters(
        ("unknown_field", "max_batch_size { value: 8 }\nmax_batch { value: 8 }", "2:1",
         'has no field named "max_batch"'),
        ("wrapper_written_as_scalar", "\nmax_batch_size: 128", "2:17", "{"),
        ("unknown_wrapper_field", "num_batch_threads {\n  vaule: 4\n}", "2:3", "vaule"),
        ("not_an_integer", "batch_timeout_micros { value: 1.5 }", "1:31", "integer"),
        ("bad_bool", "pad_variable_length_inputs: yes", "1:29", "yes"),
        ("unclosed_brace", "max_batch_size { value: 8\n", "", '"}"'),
        ("out_of_range", "max_batch_size { value: 99999999999999999999 }", "1:25",
         "out of range"),
    )
    def test_syntax_errors_name_file_type_line_and_column(self, text, where, message):
        with self.assertRaises(status.ServingError) as cm:
            parse(text, source="batching.cfg")
        error = cm.exception
        self.assertEqual(error.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("'batching.cfg'", error.message)
        self.assertIn("tensorflow.serving.BatchingParameters", error.message)
        self.assertIn(f": {where}", error.message)
        self.assertIn(message, error.message)
        self.assertNotIn("\n", error.message)

    @parameterized.named_parameters(
        ("allowed_sizes_not_increasing",
         "max_batch_size { value: 8 }\nallowed_batch_sizes: [4, 2, 8]",
         "monotonically increasing"),
        ("allowed_sizes_last_not_max",
         "max_batch_size { value: 8 }\nallowed_batch_sizes: 4",
         "Last entry in allowed_batch_sizes must match max_batch_size"),
        ("zero_threads", "num_batch_threads { value: 0 }", "num_batch_threads"),
    )
    def test_values_batching_refuses(self, text, message):
        with self.assertRaises(status.ServingError) as cm:
            parse(text, source="batching.cfg")
        self.assertIn("'batching.cfg'", cm.exception.message)
        self.assertIn(message, cm.exception.message)

    def test_file_and_round_trip(self):
        path = os.path.join(absltest.get_default_test_tmpdir(), "batching.cfg")
        options = batching_parameters.BatchingOptions(
            max_batch_size=16, allowed_batch_sizes=(8, 16), num_batch_threads=2)
        with open(path, "w") as f:
            f.write(batching_parameters.to_text(options))
        self.assertEqual(batching_parameters.read_batching_parameters_file(path), options)
        with self.assertRaises(status.ServingError) as cm:
            batching_parameters.read_batching_parameters_file(path + ".missing")
        self.assertEqual(cm.exception.code, grpc.StatusCode.NOT_FOUND)
        self.assertIn(path + ".missing", cm.exception.message)


if __name__ == "__main__":
    absltest.main()
