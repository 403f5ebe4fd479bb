"""The launcher's parts: finding programs, their environment, a Process."""

import os
import signal
import sys
from unittest import mock

from absl.testing import absltest

from tensorflow_serving.model_servers import server_launcher
from tensorflow_serving.test_util import test_util

_FAKE = "tensorflow_serving/model_servers/test_util/no_such_program_for_test"


class ProgramCommandTest(absltest.TestCase):

    def _runfiles_with(self, executable):
        runfiles = self.create_tempdir().full_path
        program = os.path.join(runfiles, server_launcher.WORKSPACE, _FAKE)
        os.makedirs(os.path.dirname(program))
        with open(program, "w", encoding="utf-8") as f:
            f.write("#!/bin/sh\n")
        if executable:
            os.chmod(program, 0o755)
        return runfiles, program

    def test_executable_in_runfiles_wins(self):
        runfiles, program = self._runfiles_with(executable=True)
        with test_util.runfiles_env(RUNFILES_DIR=runfiles):
            self.assertEqual(server_launcher.program_command(_FAKE), [program])

    def test_non_executable_file_is_not_a_program(self):
        runfiles, _ = self._runfiles_with(executable=False)
        with test_util.runfiles_env(RUNFILES_DIR=runfiles):
            with self.assertRaisesRegex(FileNotFoundError, "no_such_program_for_test"):
                server_launcher.program_command(_FAKE)

    def test_falls_back_to_the_script_with_this_interpreter(self):
        # The launcher's own module stands in for a program without a binary.
        relative = "tensorflow_serving/model_servers/server_launcher"
        with test_util.runfiles_env(RUNFILES_DIR=self.create_tempdir().full_path):
            command = server_launcher.program_command(relative)
        self.assertLen(command, 2)
        self.assertEqual(command[0], sys.executable)
        self.assertEqual(command[1],
                         os.path.join(server_launcher.repo_root(), relative + ".py"))
        self.assertTrue(os.path.isfile(command[1]))

    def test_the_model_server_is_in_this_tests_runfiles(self):
        command = server_launcher.server_command()
        self.assertLen(command, 1)
        self.assertTrue(command[0].endswith((server_launcher.SERVER,
                                             server_launcher.UPSTREAM_SERVER)), command)
        self.assertTrue(os.access(command[0], os.X_OK))


class ChildEnvTest(absltest.TestCase):

    def test_repo_importable_and_tf_quiet(self):
        with test_util.runfiles_env(PYTHONPATH="/elsewhere"):
            os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
            env = server_launcher.child_env({"EXTRA": "1"})
        paths = env["PYTHONPATH"].split(os.pathsep)
        self.assertIn("/elsewhere", paths)
        self.assertIn(server_launcher.repo_root(), paths)
        self.assertEqual(env["TF_CPP_MIN_LOG_LEVEL"], "2")
        self.assertEqual(env["PYTHONUNBUFFERED"], "1")
        self.assertEqual(env["EXTRA"], "1")


class ProcessTest(absltest.TestCase):

    def test_output_goes_to_a_log_file(self):
        process = server_launcher.Process(
            ["/bin/sh", "-c", "echo one; echo two >&2"],
            log_dir=self.create_tempdir().full_path)
        self.assertEqual(process.wait(30), 0)
        self.assertEqual(process.output(), "one\ntwo\n")
        process.cleanup()
        self.assertFalse(os.path.exists(process.log_path))

    def test_under_bazel_test_the_log_is_kept_with_the_outputs(self):
        outputs = self.create_tempdir().full_path
        with mock.patch.dict(os.environ, {"TEST_UNDECLARED_OUTPUTS_DIR": outputs}):
            process = server_launcher.Process(["/bin/sh", "-c", "echo kept"])
        self.assertEqual(process.wait(30), 0)
        process.cleanup()
        self.assertEqual(os.path.dirname(process.log_path), outputs)
        with open(process.log_path, encoding="utf-8") as f:
            self.assertEqual(f.read(), "kept\n")

    def test_copied_output_is_prefixed_and_kept(self):
        copy = self.create_tempfile().full_path
        with open(copy, "wb") as out:
            process = server_launcher.Process(["/bin/sh", "-c", "echo one; echo two"],
                                            out=out, prefix="[x] ")
            self.assertEqual(process.wait(30), 0)
        with open(copy, encoding="utf-8") as f:
            self.assertEqual(f.read(), "[x] one\n[x] two\n")
        self.assertEqual(process.output(), "one\ntwo\n")

    def test_wait_for_output_fails_when_the_child_exits_first(self):
        process = server_launcher.Process(["/bin/sh", "-c", "echo bye"],
                                        log_dir=self.create_tempdir().full_path)
        self.addCleanup(process.cleanup)
        with self.assertRaisesRegex(RuntimeError, "exited with 0 before writing 'hello'"):
            process.wait_for_output("hello", timeout=30)

    def test_stop_ends_a_whole_session(self):
        process = server_launcher.Process(
            ["/bin/sh", "-c", "sleep 600 & echo \"sleeping $!\"; wait"],
            log_dir=self.create_tempdir().full_path, new_session=True)
        self.addCleanup(process.cleanup)
        process.wait_for_output("sleeping ", timeout=30)
        test_util.wait_for(lambda: process.output().endswith("\n"), "the pid", 30)
        sleeper = int(process.output().split()[1])
        self.assertEqual(process.stop(timeout=30), -signal.SIGTERM)

        def gone():  # or a zombie, once its parent has died
            try:
                with open(f"/proc/{sleeper}/stat", encoding="utf-8") as f:
                    return f.read().rsplit(")", 1)[1].split()[0] == "Z"
            except FileNotFoundError:
                return True
        test_util.wait_for(gone, "the session's other process to end", 30)


if __name__ == "__main__":
    absltest.main()
