"""Tests program_help: when help is asked for, and what it says."""

import io
from unittest import mock

from absl import flags
from absl.testing import absltest

from tensorflow_serving.util import program_help

flags.DEFINE_integer("program_help_test_flag", 3, "A flag of this test.")


class RequestedTest(absltest.TestCase):

    def test_help_spellings(self):
        for arg in ("--help", "-help", "-h", "--helpshort", "-?", "--help=true"):
            self.assertEqual(program_help.requested(["p", "--x=1", arg]), "short", arg)
        self.assertEqual(program_help.requested(["p", "--helpfull"]), "full")

    def test_no_help(self):
        for argv in (["p"], ["p", "--port=1"], ["p", "--help=false"],
                     ["p", "--", "--help"], ["p", "help"], ["p", "--helpme"]):
            self.assertIsNone(program_help.requested(argv), argv)


class TextTest(absltest.TestCase):

    def test_starts_with_the_usage_line(self):
        text = program_help.text(
            "/long/runfiles/path/tensorflow_serving/example/prog.py",
            "[flags] export_dir", "Does a thing.\n\nIn detail.\n")
        lines = text.splitlines()
        self.assertEqual(lines[0], "usage: prog [flags] export_dir")
        self.assertEqual(lines[2:5], ["Does a thing.", "", "In detail."])
        self.assertNotIn("/long/runfiles", text)
        self.assertEqual(lines[-1], "Try --helpfull to get a list of all flags.")

    def test_full_lists_flags_of_every_module(self):
        full = program_help.text("prog", "[flags]", "", full=True)
        self.assertIn("--program_help_test_flag", full)
        self.assertNotIn("Try --helpfull", full)

    def test_exits_0_on_stdout(self):
        out = io.StringIO()
        with mock.patch("sys.stdout", out), self.assertRaises(SystemExit) as cm:
            program_help.exit_if_requested(["/x/prog.py", "--help"], "[flags]",
                                           "Does a thing.")
        self.assertEqual(cm.exception.code, 0)
        self.assertTrue(out.getvalue().startswith("usage: prog [flags]\n\nDoes a thing.\n"))

    def test_returns_without_help(self):
        program_help.exit_if_requested(["prog", "--program_help_test_flag=2"])


if __name__ == "__main__":
    absltest.main()
