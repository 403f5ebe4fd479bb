"""What the tutorial's programs share about their command line.

A bad flag is one line on stderr, not absl's usage report; --help starts with
a usage line and exits 0; a relative path means the user's directory, also
under `bazel run`, which starts programs in their runfiles tree and names the
user's directory in BUILD_WORKING_DIRECTORY.
"""

import os
import sys

from absl import flags

from tensorflow_serving.util import program_help


def parse_flags(argv, usage_args='[flags]'):
    """absl's flag parsing for app.run(flags_parser=...).

    Returns:
      The arguments left after the flags.

    Raises:
      SystemExit: with code 1 after printing the error, for a bad flag; with
        code 0 after printing the help, for --help.
    """
    program_help.exit_if_requested(argv, usage_args)
    try:
        return flags.FLAGS(argv)
    except flags.Error as e:
        print(e, file=sys.stderr)
        sys.exit(1)


def user_path(path):
    """`path` (~ expanded) resolved from where the user ran the program."""
    path = os.path.expanduser(path)
    user_dir = os.environ.get('BUILD_WORKING_DIRECTORY')
    return os.path.normpath(os.path.join(user_dir, path)) if user_dir else path
