"""Tests for the hand-written BatchingParameters text-format parser."""

import os

from absl.testing import absltest
from absl.testing import parameterized

from tensorflow_serving.batching import batching_parameters
from tensorflow_serving.batching import batching_session

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
            batching_session.BatchingOptions(
                max_batch_size=32, batch_timeout_micros=1000, max_enqueued_batches=4,
                num_batch_threads=2, thread_pool_name="model_threads\t",
                allowed_batch_sizes=(8, 16, 32), pad_variable_length_inputs=True,
                enable_large_batch_splitting=True, max_execution_batch_size=32))

    def test_empty_text_gives_defaults(self):
        self.assertEqual(parse("# nothing here\n"), batching_session.BatchingOptions())

    def test_fields_on_one_line(self):
        options = parse("max_batch_size { value: 4 } allowed_batch_sizes: 2 "
                        "allowed_batch_sizes: 4 pad_variable_length_inputs: false")
        self.assertEqual(options.max_batch_size, 4)
        self.assertEqual(options.allowed_batch_sizes, (2, 4))

    @parameterized.named_parameters(
        ("unknown_field", "max_batch_size { value: 8 }\nmax_batch { value: 8 }", 2,
         "unknown field 'max_batch'"),
        ("wrapper_written_as_scalar", "\nmax_batch_size: 128", 2,
         "max_batch_size { value: 128 }"),
        ("scalar_written_as_message", "pad_variable_length_inputs { value: true }", 1,
         "pad_variable_length_inputs"),
        ("unknown_wrapper_field", "num_batch_threads {\n  vaule: 4\n}", 2, "'vaule'"),
        ("duplicate_singular", "max_batch_size { value: 8 }\n\nmax_batch_size { value: 9 }", 3,
         "more than once"),
        ("not_an_integer", "batch_timeout_micros { value: 1.5 }", 1, "batch_timeout_micros"),
        ("string_for_integer", "max_enqueued_batches { value: \"10\" }", 1,
         "max_enqueued_batches"),
        ("integer_for_string", "thread_pool_name { value: 7 }", 1, "thread_pool_name"),
        ("bad_bool", "pad_variable_length_inputs: yes", 1, "true or false"),
        ("unclosed_brace", "max_batch_size { value: 8\n", 2, "missing '}'"),
        ("missing_colon", "allowed_batch_sizes 8", 1, "expected ':'"),
        ("bad_list", "allowed_batch_sizes: [8 16]", 1, "allowed_batch_sizes"),
        ("stray_character", "max_batch_size { value: 8 }\n$", 2, "unexpected character"),
        ("out_of_range", "max_batch_size { value: 99999999999999999999 }", 1, "out of range"),
        ("allowed_sizes_not_increasing",
         "max_batch_size { value: 8 }\nallowed_batch_sizes: [4, 2, 8]", 2,
         "monotonically increasing"),
        ("allowed_sizes_last_not_max",
         "max_batch_size { value: 8 }\nallowed_batch_sizes: 4", 2,
         "Last entry in allowed_batch_sizes must match max_batch_size"),
        ("zero_threads", "num_batch_threads { value: 0 }", 1, "num_batch_threads"),
    )
    def test_bad_input(self, text, line, message):
        with self.assertRaises(ValueError) as cm:
            parse(text, source="batching.cfg")
        self.assertIn(f"batching.cfg:{line}:", str(cm.exception))
        self.assertIn(message, str(cm.exception))

    def test_file(self):
        path = os.path.join(absltest.get_default_test_tmpdir(), "batching.cfg")
        with open(path, "w") as f:
            f.write("max_batch_size { value: 16 }\n")
        self.assertEqual(batching_parameters.parse_batching_parameters_file(path).max_batch_size,
                         16)
        with self.assertRaises(ValueError) as cm:
            batching_parameters.parse_batching_parameters_file(path + ".missing")
        self.assertIn(path + ".missing", str(cm.exception))


if __name__ == "__main__":
    absltest.main()
