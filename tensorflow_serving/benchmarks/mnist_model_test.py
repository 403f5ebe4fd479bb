"""Tests for mnist_model's lookup of the programs it runs and their environment."""

import os
import sys
from unittest import mock

from absl.testing import absltest

from tensorflow_serving.benchmarks import mnist_model

_FAKE = "tensorflow_serving/benchmarks/no_such_program_for_test"


class ProgramCommandTest(absltest.TestCase):

    def test_executable_in_runfiles_wins(self):
        runfiles = self.create_tempdir().full_path
        program = os.path.join(runfiles, "some_ws", _FAKE)
        os.makedirs(os.path.dirname(program))
        with open(program, "w", encoding="utf-8") as f:
            f.write("#!/bin/sh\n")
        os.chmod(program, 0o755)
        with mock.patch.dict(os.environ, {"RUNFILES_DIR": runfiles}):
            self.assertEqual(mnist_model.program_command(_FAKE), [program])

    def test_non_executable_file_is_not_a_program(self):
        runfiles = self.create_tempdir().full_path
        program = os.path.join(runfiles, "some_ws", _FAKE)
        os.makedirs(os.path.dirname(program))
        open(program, "w", encoding="utf-8").close()
        with mock.patch.dict(os.environ, {"RUNFILES_DIR": runfiles}):
            with self.assertRaisesRegex(FileNotFoundError, "no_such_program_for_test"):
                mnist_model.program_command(_FAKE)

    def test_falls_back_to_the_script_with_this_interpreter(self):
        # This test's own module stands in for a program without a binary.
        relative = "tensorflow_serving/benchmarks/mnist_model"
        with mock.patch.dict(os.environ, {"RUNFILES_DIR": self.create_tempdir().full_path}):
            command = mnist_model.program_command(relative)
        self.assertLen(command, 2)
        self.assertEqual(command[0], sys.executable)
        self.assertEqual(command[1], os.path.join(mnist_model.repo_root(), relative + ".py"))
        self.assertTrue(os.path.isfile(command[1]))


class ChildEnvTest(absltest.TestCase):

    def test_repo_importable_and_tf_quiet(self):
        with mock.patch.dict(os.environ, {"PYTHONPATH": "/elsewhere"}, clear=False):
            os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
            env = mnist_model.child_env({"EXTRA": "1"})
        paths = env["PYTHONPATH"].split(os.pathsep)
        self.assertEqual(paths[0], "/elsewhere")
        self.assertIn(mnist_model.repo_root(), paths)
        self.assertEqual(env["TF_CPP_MIN_LOG_LEVEL"], "2")
        self.assertEqual(env["EXTRA"], "1")


if __name__ == "__main__":
    absltest.main()
