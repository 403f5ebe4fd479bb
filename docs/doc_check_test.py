"""The README's and docs/'s links, paths and labels exist; doc_check finds broken ones.

The pages name files all over the repository, which no Bazel target can list
as its inputs; the test reads them where the runfiles' README.md really is,
the checkout, and is tagged `external` so that it runs every time instead of
answering from the cache after a file it checks was moved.
"""

import glob
import os
import tempfile

from absl.testing import absltest

from docs import doc_check
from tensorflow_serving.util import runfiles_util

# docs/memory.md keeps the figures of its soak as they were written (its
# measured prose predates generated blocks); every other page keeps dated and
# machine-specific prose inside generated blocks.
_PROSE_AS_WRITTEN = {"docs/memory.md"}


def _checkout() -> str:
    readme = runfiles_util.runfile("tf_serving/README.md")
    if readme is None:
        raise AssertionError("README.md is not in the test's runfiles")
    root = os.path.dirname(os.path.realpath(readme))
    if not os.path.isfile(os.path.join(root, "WORKSPACE")):
        raise AssertionError(f"README.md resolves to {root}, which is not the checkout")
    return root


def _pages(root: str) -> list[str]:
    return [os.path.join(root, "README.md")] + sorted(
        glob.glob(os.path.join(root, "docs", "*.md")))


class CheckoutTest(absltest.TestCase):
    """The real pages."""

    def setUp(self):
        super().setUp()
        self.root = _checkout()
        self.repo = doc_check.Repository(self.root)

    def _read(self, path):
        with open(path, encoding="utf-8") as f:
            return f.read()

    def test_every_link_path_and_label_exists(self):
        problems = []
        for page in _pages(self.root):
            problems += doc_check.check_page(self.repo, page, self._read(page))
        self.assertEqual(problems, [])

    def test_the_pages_name_enough_to_be_checked(self):
        # Guards the check itself: a regression in its parsing would find
        # nothing and pass.
        text = self._read(os.path.join(self.root, "README.md"))
        self.assertGreaterEqual(len(doc_check.paths(text, self.repo.top_dirs)), 5)
        self.assertGreaterEqual(len(doc_check.labels(text)), 4)
        self.assertGreaterEqual(len([t for t in doc_check.links(text)
                                     if not t.startswith("http")]), 8)

    def test_walkthrough_functions_are_in_their_files(self):
        path = os.path.join(self.root, "docs", "walkthrough.md")
        text = self._read(path)
        self.assertEqual(doc_check.check_walkthrough(self.repo, "docs/walkthrough.md", text),
                         [])
        self.assertIn("Start reading here", text)

    def test_dated_and_machine_prose_is_in_generated_blocks(self):
        problems = []
        for page in _pages(self.root):
            name = os.path.relpath(page, self.root)
            if name in _PROSE_AS_WRITTEN:
                continue
            text = self._read(page)
            problems += doc_check.check_prose(name, text, doc_check.generated_blocks(text))
        self.assertEqual(problems, [])

    def test_readme_is_at_most_150_lines(self):
        lines = self._read(os.path.join(self.root, "README.md")).splitlines()
        self.assertLessEqual(len(lines), 150)


class DocCheckTest(absltest.TestCase):
    """doc_check on a small made-up repository."""

    def setUp(self):
        super().setUp()
        self.root = tempfile.mkdtemp(dir=absltest.get_default_test_tmpdir())
        for path, text in {
                "WORKSPACE": "",
                "docs/a.md": "# Title\n\n## Two `words` here\n\n## Two words here\n",
                "tensorflow_serving/BUILD": 'py_library(name = "tensorflow_serving")\n',
                "tensorflow_serving/example/BUILD": (
                    'py_binary(name = "mnist_client")\n'
                    '[py_test(name = "loop_%s_test" % api) for api in ["grpc"]]\n'),
                "tensorflow_serving/example/mnist_client.py": "def do_inference():\n  pass\n",
                "tools/bazel": "",
        }.items():
            full = os.path.join(self.root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w", encoding="utf-8") as f:
                f.write(text)
        self.repo = doc_check.Repository(self.root)
        self.page = os.path.join(self.root, "docs", "b.md")

    def check(self, text):
        return doc_check.check_page(self.repo, self.page, text)

    def test_good_names_pass(self):
        text = "\n".join([
            "See [a](a.md), [its part](a.md#two-words-here-1), [top](#b), "
            "[up](../tools/bazel) and [GitHub](https://github.com/tensorflow/serving).",
            "# B",
            "`tensorflow_serving/example/mnist_client.py`, `example/mnist_client.py`, "
            "`bazel-bin/tensorflow_serving/x/y`, `/tmp/mnist_model/1`, `$PWD/tools/bazel`,",
            "`example/mnist_client.do_inference`, `//tensorflow_serving/example`,",
            "`docker://registry.example.com/x:latest`, `pvc://claim/dir`",
            "```sh",
            "tools/bazel run //tensorflow_serving/example:mnist_client -- --x=1",
            "tools/bazel test //... //tensorflow_serving/... //tensorflow_serving/example:loop_grpc_test",
            "```",
        ])
        self.assertEqual(self.check(text), [])

    def test_broken_names_are_each_reported(self):
        text = "\n".join([
            "[gone](gone.md) [no heading](a.md#nope) [outside](../..)",
            "`tensorflow_serving/example/mnist_server.py` and `example/gone/`",
            "`//tensorflow_serving/example:mnist_server`, `//tensorflow_serving/nope:x`",
            "`//nope/...`, `//tensorflow_serving/nope`",
        ])
        problems = self.check(text)
        self.assertLen(problems, 9, problems)
        for needle in ("gone.md", "a.md#nope", "outside the repository",
                       "tensorflow_serving/example/mnist_server.py", "example/gone",
                       "//tensorflow_serving/example:mnist_server",
                       "//tensorflow_serving/nope:x", "//nope/...",
                       "//tensorflow_serving/nope,"):
            self.assertTrue(any(needle in p for p in problems), (needle, problems))

    def test_links_in_code_are_not_links(self):
        self.assertEqual(doc_check.links("`[x](gone.md)`\n```\n[y](gone.md)\n```\n"), [])

    def test_walkthrough_rows(self):
        good = "| step | `example/mnist_client.py` | `do_inference` |\n"
        bad = "| step | `example/mnist_client.py` | `main`, `_Sender.send` |\n"
        self.assertEqual(doc_check.check_walkthrough(self.repo, "w.md", good), [])
        self.assertLen(doc_check.check_walkthrough(self.repo, "w.md", bad), 2)

    def test_prose_outside_generated_blocks(self):
        text = ("Measured on 2026-12-01 on this machine.\n"
                "<!-- BEGIN GENERATED: bench -->\nAMD EPYC, 2 vCPUs, 2026-12-01\n"
                "<!-- END GENERATED: bench -->\n")
        problems = doc_check.check_prose("p.md", text, doc_check.generated_blocks(text))
        self.assertLen(problems, 2, problems)
        self.assertTrue(all(p.startswith("p.md:1:") for p in problems))

    def test_github_anchors(self):
        self.assertEqual(doc_check.github_anchor("The `--port` flag: 8500 (gRPC)"),
                         "the---port-flag-8500-grpc")
        self.assertEqual(doc_check.anchors("# A\n```\n# not a heading\n```\n# A\n"),
                         {"a", "a-1"})


if __name__ == "__main__":
    absltest.main()
