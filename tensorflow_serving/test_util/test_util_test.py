from absl.testing import absltest

from tensorflow_serving.test_util import test_util


class ProgramLinesTest(absltest.TestCase):

    def test_leaves_out_tensorflows_native_log_and_blank_lines(self):
        stderr = ("WARNING: All log messages before absl::InitializeLog() is called "
                  "are written to STDERR\n"
                  "I0000 00:00:1712345678.123456   42 cpu_feature_guard.cc:210] "
                  "This TensorFlow binary is optimized\n"
                  "To enable the following instructions: AVX2, in other operations\n"
                  "\n"
                  "Error: the server said no\n")
        self.assertEqual(test_util.program_lines(stderr), ["Error: the server said no"])


if __name__ == "__main__":
    absltest.main()
