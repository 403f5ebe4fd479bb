"""generated_block: one block replaced, the rest of the page untouched."""

import os

from absl.testing import absltest

from docs import generated_block

_PAGE = ("# Page\n\nBefore.\n\n<!-- BEGIN GENERATED: table -->\nold\n"
         "<!-- END GENERATED: table -->\n\nAfter.\n")


class GeneratedBlockTest(absltest.TestCase):

    def test_read_and_replace(self):
        self.assertEqual(generated_block.read_block(_PAGE, "table"), "old")
        updated = generated_block.replace_block(_PAGE, "table", "| a |\n| b |\n")
        self.assertEqual(updated, _PAGE.replace("\nold\n", "\n| a |\n| b |\n"))
        self.assertEqual(generated_block.read_block(updated, "table"), "| a |\n| b |")

    def test_markers_must_be_there_once_and_in_order(self):
        for text in ("no markers", _PAGE + _PAGE,
                     "<!-- END GENERATED: table -->\n<!-- BEGIN GENERATED: table -->\n"):
            with self.assertRaises(generated_block.BlockError):
                generated_block.read_block(text, "table")
        with self.assertRaises(generated_block.BlockError):
            generated_block.replace_block(_PAGE, "other", "x")

    def test_update_file_reports_a_change(self):
        path = os.path.join(absltest.get_default_test_tmpdir(), "page.md")
        with open(path, "w", encoding="utf-8") as f:
            f.write(_PAGE)
        self.assertTrue(generated_block.update_file(path, "table", "new"))
        self.assertFalse(generated_block.update_file(path, "table", "new"))
        with open(path, encoding="utf-8") as f:
            self.assertEqual(f.read(), _PAGE.replace("\nold\n", "\nnew\n"))


if __name__ == "__main__":
    absltest.main()
