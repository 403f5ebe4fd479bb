"""The tutorial's loop, end to end: train, export, serve, query.

One source for two targets: mnist_loop_grpc_test (--api=grpc) and
mnist_loop_rest_test (--api=rest). The served model must answer exactly as
the exported SavedModel does in-process, whatever the concurrency.
"""

from absl import flags
from absl.testing import absltest

from tensorflow_serving.example import mnist_test_util

flags.DEFINE_enum('api', 'grpc', ['grpc', 'rest'],
                  'The client API under test.')
FLAGS = flags.FLAGS

NUM_TESTS = 1000
MAX_ERROR_PERCENT = 12


class MnistLoopTest(absltest.TestCase):

    def test_served_model_answers_like_the_exported_one(self):
        base_path = self.create_tempdir('mnist_model').full_path
        export_path = mnist_test_util.export_model(self, base_path)
        expected = mnist_test_util.in_process_errors(
            export_path, NUM_TESTS, mnist_test_util.data_dir(self))
        self.assertLessEqual(expected, NUM_TESTS * MAX_ERROR_PERCENT / 100)

        server = mnist_test_util.start_server(self, base_path)
        rest = FLAGS.api == 'rest'
        port = server.rest_port if rest else server.grpc_port
        for concurrency in (1, 8):
            with self.subTest(concurrency=concurrency):
                result = mnist_test_util.run_client(
                    self, 'localhost:%d' % port, NUM_TESTS, concurrency,
                    rest=rest)
                errors = mnist_test_util.client_errors(self, result,
                                                       NUM_TESTS)
                self.assertLessEqual(errors,
                                     NUM_TESTS * MAX_ERROR_PERCENT / 100)
                self.assertEqual(errors, expected, result.stdout[-500:])


if __name__ == '__main__':
    absltest.main()
