"""--help for the project's programs: a usage line, what the program does,
its flags, and exit code 0.

absl's own --help exits 1 and starts with the main module's docstring (or
with the script's path, which under Bazel is a long runfiles path). A person
asking for help has made no mistake, and the first line they read should say
how to call the program, as upstream's `usage: tensorflow_model_server` does.
"""

import os
import sys

from absl import flags

# absl's help flags: --help (also -?), --helpshort (the program's own flags)
# and --helpfull (every flag of every module); -h is the common spelling.
_SHORT = ("help", "helpshort", "h", "?")
_FULL = ("helpfull",)


def requested(argv):
    """'short' or 'full' if argv asks for help before any `--`, else None."""
    for arg in argv[1:]:
        if arg == "--":
            return None
        if not arg.startswith("-"):
            continue
        name, _, value = arg.lstrip("-").partition("=")
        if value.lower() in ("false", "0"):
            continue
        if name in _SHORT:
            return "short"
        if name in _FULL:
            return "full"
    return None


def program_name(argv0):
    """The name a person types: the script's file name without `.py`."""
    name = os.path.basename(argv0)
    return name[:-3] if name.endswith(".py") else name


def text(argv0, usage_args, description, full=False, flag_values=flags.FLAGS):
    """The help: `usage: NAME ARGS`, the description, then the flags."""
    parts = [f"usage: {program_name(argv0)} {usage_args}".rstrip()]
    if description and description.strip():
        parts.append(description.strip())
    flag_help = (flag_values.get_help() if full
                 else flag_values.main_module_help())
    if flag_help.strip():
        parts.append("flags:\n" + flag_help.rstrip())
    if not full:
        parts.append("Try --helpfull to get a list of all flags.")
    return "\n\n".join(parts) + "\n"


def exit_if_requested(argv, usage_args="[flags]", description=None):
    """Writes the help to stdout and exits 0 if argv asks for it.

    description: what the program does; the main module's docstring by default.
    """
    kind = requested(argv)
    if kind is None:
        return
    if description is None:
        description = getattr(sys.modules.get("__main__"), "__doc__", None) or ""
    sys.stdout.write(text(argv[0], usage_args, description, full=kind == "full"))
    sys.stdout.flush()
    sys.exit(0)
