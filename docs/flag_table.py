r"""Writes the model server's flag tables into docs/serving_config.md.

    tools/bazel run //docs:flag_table

The tables come from `model_servers/server_options.py`, where every flag,
its default and its help text are declared once. Defaults are taken from the
source text rather than from the imported module, so a default that depends
on the machine (`4 * _CPUS`) reads "4 × CPUs" on every machine, and the page
does not change with the machine that wrote it. `flag_table_test` fails when
the page and server_options.py disagree.
"""

import ast
import os
import sys

from docs import generated_block
from tensorflow_serving.model_servers import server_options

BLOCK = "flag_table"
PAGE = "docs/serving_config.md"
SOURCE = "tensorflow_serving/model_servers/server_options.py"


class FlagTableError(Exception):
    """server_options.py has a declaration this generator cannot read."""


def _source_text(expression: ast.expr) -> str:
    """A default as a reader of the flags should see it."""
    if isinstance(expression, ast.Name) and expression.id == "_CPUS":
        return "CPUs"
    if (isinstance(expression, ast.BinOp) and isinstance(expression.op, ast.Mult)
            and isinstance(expression.right, ast.Name) and expression.right.id == "_CPUS"):
        return f"{_source_text(expression.left)} × CPUs"
    try:
        value = eval(compile(ast.Expression(expression), SOURCE, "eval"),  # pylint: disable=eval-used
                     {"__builtins__": {}})
    except Exception as e:  # a name or call this page cannot show
        raise FlagTableError(f"{SOURCE}:{expression.lineno}: cannot show the default "
                             f"{ast.unparse(expression)!r}: {e}") from None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"%s"' % value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _string(node: ast.expr, what: str) -> str:
    if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
        raise FlagTableError(f"{SOURCE}:{node.lineno}: the {what} is not a string literal")
    return node.value


def declarations(source: str) -> list[dict]:
    """Each `_option(...)` field of class Options, in declaration order."""
    tree = ast.parse(source, SOURCE)
    classes = [node for node in tree.body
               if isinstance(node, ast.ClassDef) and node.name == "Options"]
    if len(classes) != 1:
        raise FlagTableError(f"{SOURCE}: expected one class Options")
    flags = []
    for statement in classes[0].body:
        if not (isinstance(statement, ast.AnnAssign) and isinstance(statement.value, ast.Call)
                and isinstance(statement.value.func, ast.Name)
                and statement.value.func.id == "_option"):
            continue
        call = statement.value
        if len(call.args) != 3:
            raise FlagTableError(f"{SOURCE}:{call.lineno}: _option needs flag, default, help")
        keywords = {k.arg: k.value for k in call.keywords}
        upstream = keywords.get("upstream")
        flags.append({
            "field": statement.target.id,
            "flag": _string(call.args[0], "flag name"),
            "default": _source_text(call.args[1]),
            "help": _string(call.args[2], "help text"),
            "no_effect": (_string(keywords["no_effect"], "no_effect reason")
                          if "no_effect" in keywords else ""),
            "upstream": not (isinstance(upstream, ast.Constant) and upstream.value is False),
        })
    return flags


def _cell(text: str) -> str:
    """Help text as one Markdown table cell, shown as written."""
    for special in ("\\", "|", "*"):
        text = text.replace(special, "\\" + special)
    return text.replace("\n", " ")


def _table(rows: list[dict]) -> list[str]:
    lines = ["| flag | default | what it does |", "|---|---|---|"]
    for row in rows:
        text = _cell(row["help"])
        if row["no_effect"]:
            text += f" **No effect here:** {_cell(row['no_effect'])}."
        lines.append(f"| `--{row['flag']}` | `{row['default']}` | {text} |")
    return lines


def render(source: str) -> str:
    """The block's Markdown for server_options.py's text."""
    flags = declarations(source)
    upstream = [f for f in flags if f["upstream"]]
    ours = [f for f in flags if not f["upstream"]]
    for f in ours:  # The table says so; the help text need not.
        prefix = "Not in upstream. "
        if f["help"].startswith(prefix):
            f["help"] = f["help"][len(prefix):]
    lines = [f"Upstream's flags ({len(upstream)} here, `--version` besides), with "
             "upstream's defaults:", ""]
    lines += _table(upstream)
    lines += ["", f"Flags upstream does not have ({len(ours)}):", ""]
    lines += _table(ours)
    return "\n".join(lines)


def check_against_module(source: str) -> None:
    """The declarations read from the text are the module's flag fields."""
    read = [(f["field"], f["flag"]) for f in declarations(source)]
    declared = [(f.name, f.metadata["flag"]) for f in server_options.flag_fields()]
    if read != declared:
        raise FlagTableError(f"{SOURCE}: read {read}, but the module declares {declared}")


def source_text() -> str:
    with open(server_options.__file__, encoding="utf-8") as f:
        return f.read()


def main() -> int:
    workspace = os.environ.get("BUILD_WORKSPACE_DIRECTORY")
    if not workspace:
        print("flag_table: run it with `tools/bazel run //docs:flag_table`", file=sys.stderr)
        return 2
    source = source_text()
    try:
        check_against_module(source)
        changed = generated_block.update_file(os.path.join(workspace, PAGE), BLOCK,
                                              render(source))
    except (FlagTableError, generated_block.BlockError) as e:
        print(f"flag_table: {e}", file=sys.stderr)
        return 1
    print(f"flag_table: {PAGE} {'updated' if changed else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
