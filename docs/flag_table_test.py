"""docs/serving_config.md's flag tables are what server_options.py declares."""

from absl.testing import absltest

from docs import flag_table
from docs import generated_block
from tensorflow_serving.model_servers import server_options
from tensorflow_serving.util import runfiles_util

_SOURCE = '''
import os
_CPUS = os.cpu_count() or 1

def _option(flag, default, help_text, no_effect="", **kwargs):
    pass

class Options:
    port: int = _option("port", 8500, "TCP port.", lower_bound=0)
    threads: int = _option("threads", 4 * _CPUS, "Threads | at most.")
    pools: int = _option("pools", _CPUS, "Pools.", no_effect="no pools")
    micros: int = _option("micros", 60 * 1000 * 1000, "Microseconds.")
    fill: int = _option("fill", 64 << 20, "Not in upstream. Bytes.", upstream=False)
    name: str = _option("name", "default", "A name.")
    fraction: float = _option("fraction", 0.0, "A fraction.")
    check: bool = _option("check", False, "A check.")
    not_a_flag: bool = True
'''


class FlagTableTest(absltest.TestCase):

    def test_page_matches_server_options(self):
        page_path = runfiles_util.runfile("tf_serving/" + flag_table.PAGE)
        self.assertIsNotNone(page_path)
        with open(page_path, encoding="utf-8") as f:
            page = f.read()
        self.assertEqual(
            generated_block.read_block(page, flag_table.BLOCK),
            flag_table.render(flag_table.source_text()),
            "docs/serving_config.md disagrees with server_options.py: run "
            "`tools/bazel run //docs:flag_table`")

    def test_every_flag_field_is_in_the_tables(self):
        source = flag_table.source_text()
        flag_table.check_against_module(source)
        rendered = flag_table.render(source)
        for field in server_options.flag_fields():
            self.assertIn("| `--%s` |" % field.metadata["flag"], rendered)

    def test_a_changed_default_changes_the_tables(self):
        source = flag_table.source_text()
        changed = source.replace('"port", 8500,', '"port", 8600,')
        self.assertNotEqual(changed, source)
        self.assertNotEqual(flag_table.render(changed), flag_table.render(source))
        with self.assertRaises(flag_table.FlagTableError):
            flag_table.check_against_module(
                source.replace('"rest_api_port", 0,', '"rest_port", 0,'))

    def test_defaults_read_the_same_on_every_machine(self):
        self.assertEqual(flag_table.render(_SOURCE), "\n".join([
            "Upstream's flags (7 here, `--version` besides), with upstream's defaults:",
            "",
            "| flag | default | what it does |",
            "|---|---|---|",
            "| `--port` | `8500` | TCP port. |",
            "| `--threads` | `4 × CPUs` | Threads \\| at most. |",
            "| `--pools` | `CPUs` | Pools. **No effect here:** no pools. |",
            "| `--micros` | `60000000` | Microseconds. |",
            "| `--name` | `\"default\"` | A name. |",
            "| `--fraction` | `0` | A fraction. |",
            "| `--check` | `false` | A check. |",
            "",
            "Flags upstream does not have (1):",
            "",
            "| flag | default | what it does |",
            "|---|---|---|",
            "| `--fill` | `67108864` | Bytes. |",
        ]))

    def test_unreadable_defaults_are_refused(self):
        with self.assertRaises(flag_table.FlagTableError):
            flag_table.render(_SOURCE.replace("60 * 1000 * 1000", "compute()"))


if __name__ == "__main__":
    absltest.main()
