"""Each docs/*.svg is the rendering of the current docs/*.dot beside it."""

import glob
import os
import re
import xml.etree.ElementTree as ElementTree

from absl.testing import absltest

from docs import render_diagrams
from tensorflow_serving.util import runfiles_util

_SVG_NS = "{http://www.w3.org/2000/svg}"


def _docs_dir() -> str:
    build = runfiles_util.runfile("tf_serving/docs/architecture.dot")
    if build is None:
        raise AssertionError("docs/architecture.dot is not in the test's runfiles")
    return os.path.dirname(build)


class RenderDiagramsTest(absltest.TestCase):

    def test_each_svg_is_rendered_from_its_current_source(self):
        sources = sorted(glob.glob(os.path.join(_docs_dir(), "*.dot")))
        self.assertNotEmpty(sources)
        for source in sources:
            with open(source, "rb") as f:
                dot_text = f.read()
            svg_path = source[:-len(".dot")] + ".svg"
            self.assertTrue(os.path.exists(svg_path), f"{svg_path}: run "
                            "`tools/bazel run //docs:render_diagrams`")
            with open(svg_path, encoding="utf-8") as f:
                svg = f.read()
            name = os.path.basename(source)
            self.assertEqual(svg.splitlines()[1],
                             render_diagrams.stamp(name, dot_text),
                             f"{name} changed since its SVG was rendered: run "
                             "`tools/bazel run //docs:render_diagrams`")
            root = ElementTree.fromstring(svg.encode("utf-8"))
            self.assertEqual(root.tag, _SVG_NS + "svg")
            # Every node's first label line is drawn.
            drawn = {t.text for t in root.iter(_SVG_NS + "text")}
            firsts = re.findall(r'^\s*\w+ \[label="([^"\\]+)', dot_text.decode(), re.M)
            self.assertNotEmpty(firsts)
            for first in firsts:
                self.assertIn(first.replace("\\n", "").strip(), drawn, name)

    def test_stamp_names_source_and_digest(self):
        svg = '<?xml version="1.0"?>\n<svg/>\n'
        stamped = render_diagrams.stamped(svg, "a.dot", b"digraph {}")
        self.assertEqual(stamped.splitlines()[1], render_diagrams.stamp("a.dot", b"digraph {}"))
        self.assertNotEqual(render_diagrams.stamp("a.dot", b"digraph {}"),
                            render_diagrams.stamp("a.dot", b"digraph { a }"))
        with self.assertRaises(ValueError):
            render_diagrams.stamped("<svg/>", "a.dot", b"")


if __name__ == "__main__":
    absltest.main()
