"""What the tutorial's programs share about their command line.

A bad flag is one line on stderr, not absl's usage report; a relative path
means the user's directory, also under `bazel run`, which starts programs in
their runfiles tree and names the user's directory in BUILD_WORKING_DIRECTORY.
"""

import os
import sys

from absl import flags


def parse_flags(argv):
    """absl's flag parsing for app.run(flags_parser=...).

    Returns:
      The arguments left after the flags.

    Raises:
      SystemExit: with code 1 after printing the error, for a bad flag.
    """
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
