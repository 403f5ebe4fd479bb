import os
from unittest import mock

from absl import flags
from absl.testing import absltest

from tensorflow_serving.example import command_line

flags.DEFINE_integer('command_line_test_flag', 1, 'A flag for this test.')


class ParseFlagsTest(absltest.TestCase):

    def test_returns_the_arguments(self):
        self.assertEqual(command_line.parse_flags(
            ['prog', '--command_line_test_flag=3', 'rest']), ['prog', 'rest'])
        self.assertEqual(flags.FLAGS.command_line_test_flag, 3)

    def test_a_bad_flag_is_one_line_and_exit_1(self):
        with mock.patch('sys.stderr') as stderr:
            with self.assertRaises(SystemExit) as cm:
                command_line.parse_flags(['prog', '--command_line_test_flag=x'])
        self.assertEqual(cm.exception.code, 1)
        written = ''.join(call.args[0] for call in stderr.write.call_args_list)
        self.assertEqual(written.count('\n'), 1, written)
        self.assertIn('command_line_test_flag', written)


    def test_help_is_a_usage_line_and_exit_0(self):
        with mock.patch('sys.stdout') as stdout:
            with self.assertRaises(SystemExit) as cm:
                command_line.parse_flags(
                    ['/runfiles/tensorflow_serving/example/prog.py', '--help'],
                    usage_args='[flags] export_dir')
        self.assertEqual(cm.exception.code, 0)
        written = ''.join(call.args[0] for call in stdout.write.call_args_list)
        self.assertTrue(written.startswith('usage: prog [flags] export_dir\n'),
                        written[:200])


class UserPathTest(absltest.TestCase):

    def test_relative_to_the_users_directory_under_bazel_run(self):
        with mock.patch.dict(os.environ, {'BUILD_WORKING_DIRECTORY': '/home/u/w'}):
            self.assertEqual(command_line.user_path('models/../m'), '/home/u/w/m')
            self.assertEqual(command_line.user_path('/abs/m'), '/abs/m')

    def test_unchanged_without_bazel_run(self):
        env = {k: v for k, v in os.environ.items() if k != 'BUILD_WORKING_DIRECTORY'}
        with mock.patch.dict(os.environ, env, clear=True):
            self.assertEqual(command_line.user_path('models'), 'models')

    def test_home_expanded(self):
        with mock.patch.dict(os.environ, {'HOME': '/home/u'}):
            os.environ.pop('BUILD_WORKING_DIRECTORY', None)
            self.assertEqual(command_line.user_path('~/m'), '/home/u/m')


if __name__ == '__main__':
    absltest.main()
