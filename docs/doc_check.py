"""What the README and docs/ pages point at, and whether it exists.

A page names things four ways, and each is checked against the repository:

- relative links and images, `[text](path#anchor)`: the file exists, and an
  anchor is a heading of the page it points into (GitHub's heading ids);
- repository paths in code, `tensorflow_serving/model_servers/server.py` or
  `model_servers/server.py` (under tensorflow_serving/, as upstream's docs
  write them): the file or directory exists;
- Bazel labels, `//tensorflow_serving/example:mnist_tutorial`: the package
  has a BUILD file that declares the target (or holds it as a file); a
  package alone, `//tensorflow_serving/example`, needs its BUILD file;
- in a walkthrough table, a row's file and the functions it names: each
  function's name appears in that file.

Pages also keep dated and machine-specific prose inside generated blocks
(generated_block), where the program that measured it writes it.
"""

import os
import re

from docs import generated_block

_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.M)
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)
_LABEL = re.compile(r"(?<![\w@/:])//([\w./-]*)(?::([\w./+-]+))?")
_PATH = re.compile(r"(?<![\w./$@:-])((?:[\w.-]+/)+[\w.@+-]*)")
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)
# Dated or machine-specific prose: it belongs in a generated block.
_DATED = [
    (re.compile(r"\b20\d\d-[01]\d-[0-3]\d\b"), "a date"),
    (re.compile(r"\b(?:January|February|March|April|May|June|July|August|September|"
                r"October|November|December) \d{4}\b"), "a date"),
    (re.compile(r"\b(?:Xeon|EPYC|Ryzen|Core i\d)\b"), "a CPU model"),
    (re.compile(r"\bthis (?:project's )?machine\b", re.I), "'this machine'"),
    (re.compile(r"\b\d+ vCPUs?\b"), "a machine's CPU count"),
]


def strip_code(text: str) -> str:
    """The page without fenced code blocks and code spans (where links are not links)."""
    text = _FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    return _CODE_SPAN.sub(" ", text)


def code_texts(text: str) -> list[str]:
    """The contents of fenced blocks and code spans: where paths and labels are named."""
    blocks = [m.group(0) for m in _FENCE.finditer(text)]
    rest = _FENCE.sub("", text)
    return blocks + [m.group(2) for m in _CODE_SPAN.finditer(rest)]


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading's text (before de-duplication)."""
    text = _CODE_SPAN.sub(lambda m: m.group(2), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link's text only
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading id of a page, duplicates numbered as GitHub numbers them."""
    seen: dict[str, int] = {}
    result = set()
    for m in _HEADING.finditer(strip_code_blocks(text)):
        anchor = github_anchor(m.group(1))
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        result.add(anchor if count == 0 else f"{anchor}-{count}")
    return result


def strip_code_blocks(text: str) -> str:
    return _FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def links(text: str) -> list[str]:
    """Targets of the page's links, images and link reference definitions."""
    prose = strip_code(text)
    return [m.group(1) for m in _LINK.finditer(prose)] + [
        m.group(1) for m in _REFERENCE.finditer(prose)]


def labels(text: str) -> list[tuple[str, str | None]]:
    """(package, target) of each Bazel label of this repository in the page's code."""
    found = []
    for code in code_texts(text):
        for m in _LABEL.finditer(code):
            package = m.group(1).rstrip("/")
            if package.endswith("..."):  # a pattern: its root must be a directory
                package = package[:-3].rstrip("/")
                found.append((package, "..."))
            else:
                found.append((package, m.group(2)))
    return found


def paths(text: str, top_dirs: set[str]) -> list[str]:
    """Repository paths named in the page's code and link targets.

    A path counts when its first component is a top-level directory of the
    repository or of tensorflow_serving/ (in `top_dirs`); placeholders
    (`<name>`, `*`, `$VAR`, `{a,b}`) end a path before them.
    """
    found = []
    for code in code_texts(text):
        code = code.replace("$PWD/", "").replace("${PWD}/", "")
        code = _LABEL.sub(" ", code)
        for m in _PATH.finditer(code):
            path = m.group(1).rstrip(".,;:")
            if path.split("/")[0] in top_dirs:
                found.append(path)
    return found


class Repository:
    """A checkout: where its files are, and which paths resolve."""

    def __init__(self, root: str):
        self.root = root
        self.top_dirs = {name for name in os.listdir(root)
                         if os.path.isdir(os.path.join(root, name))
                         and not name.startswith("bazel-") and name != ".git"}
        package = os.path.join(root, "tensorflow_serving")
        if os.path.isdir(package):
            self.top_dirs |= {name for name in os.listdir(package)
                              if os.path.isdir(os.path.join(package, name))}

    def resolve(self, path: str) -> str | None:
        """The file a repository path names, from the root or tensorflow_serving/.

        `util/memory_release.release` names a function of util/memory_release.py.
        """
        directory, _, name = path.rpartition("/")
        module = name.split(".")[0]
        variants = [path] + [f"{directory}/{module}{ext}" for ext in (".py", ".cc")
                             if "." in name and module]
        for base in ("", "tensorflow_serving"):
            for variant in variants:
                candidate = os.path.join(self.root, base, variant)
                if os.path.exists(candidate):
                    return candidate
        return None

    def has_target(self, package: str, target: str | None) -> bool:
        directory = os.path.join(self.root, package)
        if target == "...":
            return os.path.isdir(directory)
        build = os.path.join(directory, "BUILD")
        if not os.path.isfile(build):
            build += ".bazel"
            if not os.path.isfile(build):
                return False
        if target is None:  # `//pkg`, the package itself
            return True
        name = target
        with open(build, encoding="utf-8") as f:
            declared = f.read()
        if f'"{name}"' in declared or os.path.exists(os.path.join(directory, name)):
            return True
        # Names a list comprehension makes: "mnist_loop_%s_test" % api.
        for pattern in re.findall(r'"([\w.-]*%s[\w.-]*)"\s*%', declared):
            if re.fullmatch(re.escape(pattern).replace("%s", r"[\w.-]+"), name):
                return True
        return False


def check_page(repo: Repository, page_path: str, text: str) -> list[str]:
    """Every broken link, path and label of one page, as messages."""
    problems = []
    page_dir = os.path.dirname(page_path)
    name = os.path.relpath(page_path, repo.root)
    for target in links(text):
        if _EXTERNAL.match(target):
            continue
        path, _, anchor = target.partition("#")
        if not path:
            if anchor not in anchors(text):
                problems.append(f"{name}: link to {target}: no such heading")
            continue
        linked = os.path.normpath(os.path.join(page_dir, path))
        if not os.path.exists(linked):
            problems.append(f"{name}: link to {target}: no such file")
            continue
        if not os.path.realpath(linked).startswith(os.path.realpath(repo.root) + os.sep):
            problems.append(f"{name}: link to {target}: outside the repository")
            continue
        if anchor and linked.endswith(".md"):
            with open(linked, encoding="utf-8") as f:
                if anchor not in anchors(f.read()):
                    problems.append(f"{name}: link to {target}: no such heading")
    for path in paths(text, repo.top_dirs):
        if repo.resolve(path) is None:
            problems.append(f"{name}: names {path}, which does not exist")
    for package, target in labels(text):
        if not repo.has_target(package, target):
            label = f"//{package}" + (f":{target}" if target and target != "..." else "")
            problems.append(f"{name}: names {label}{'/...' if target == '...' else ''}, "
                            "which no BUILD file declares")
    return problems


def check_walkthrough(repo: Repository, name: str, text: str) -> list[str]:
    """Rows `| step | `file` | `function`, ... |`: each function is in its file."""
    problems = []
    for line in strip_code_blocks(text).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not line.lstrip().startswith("|"):
            continue
        files = _CODE_SPAN.findall(cells[1])
        if len(files) != 1:
            continue
        path = repo.resolve(files[0][1])
        if path is None or not os.path.isfile(path):
            problems.append(f"{name}: walkthrough row names {files[0][1]}, not a file")
            continue
        with open(path, encoding="utf-8") as f:
            source = f.read()
        for _, symbol in _CODE_SPAN.findall(cells[2]):
            last = re.split(r"::|\.", symbol.rstrip("()"))[-1]
            if not re.search(r"\b%s\b" % re.escape(last), source):
                problems.append(f"{name}: {symbol} is not in {files[0][1]}")
    return problems


def check_prose(name: str, text: str, blocks: list[str]) -> list[str]:
    """Dates and machine descriptions outside the page's generated blocks."""
    for block in blocks:
        text = generated_block.replace_block(text, block, "")
    problems = []
    for pattern, what in _DATED:
        for m in pattern.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            problems.append(f"{name}:{line}: {what} ({m.group(0)!r}) outside a "
                            "generated block")
    return problems


def generated_blocks(text: str) -> list[str]:
    return re.findall(r"<!-- BEGIN GENERATED: ([\w.-]+) -->", text)
