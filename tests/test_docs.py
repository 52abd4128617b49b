"""The docs stand on their own: every Markdown link leads to a file of the repository (or to a
public specification allowed by name), and no document, docstring or comment points at a
design document kept outside the repository."""

from __future__ import annotations

import ast
import io
import os
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Not the repository's own text: environments, caches, build output, installed packages.
SKIPPED = {
    ".git",
    ".venv",
    "venv",
    "test-artifacts",
    "node_modules",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".mechbus",
    "build",
    "dist",
}
# Hosts of public specifications a document may link to. None is needed today: a standard is
# named in the text (RFC 9457, CloudEvents 1.0) rather than linked, so the docs read the same
# offline and never send a reader outside the repository.
ALLOWED_HOSTS: frozenset[str] = frozenset()
OUTSIDE_DESIGN = re.compile(r"\bDESIGN\b")

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
_INLINE = re.compile(r"\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'(][^)]*)?\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?")
_AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*)>")
_BARE = re.compile(r"""(?<![\w(<\[/"'=])((?:https?|ftp)://[^\s<>)"']+|www\.[^\s<>)"']+)""")
_HTML = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']+)["']""")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")


def repository_files(suffix: str) -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED and not d.endswith(".egg-info"))
        found += [Path(folder, f) for f in sorted(files) if f.endswith(suffix)]
    return found


def unfenced_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) for the lines outside fenced code blocks."""
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        opened = _FENCE.match(line)
        if fence is not None:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = None
            continue
        if opened:
            fence = opened.group(1)
            continue
        yield number, line


def prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """The lines outside code blocks, with inline code spans blanked out: code shows commands
    and addresses, it links nowhere."""
    for number, line in unfenced_lines(text):
        yield number, _CODE_SPAN.sub(" ", line)


def links(text: str) -> Iterator[tuple[int, str]]:
    """Every link target of a Markdown text: inline links and images, reference definitions,
    autolinks, bare web addresses and HTML attributes."""
    for number, line in prose_lines(text):
        for pattern in (_INLINE, _REFERENCE, _AUTOLINK, _BARE, _HTML):
            for match in pattern.finditer(line):
                yield number, match.group(1)


def slug(heading: str) -> str:
    """The anchor a heading gets when the Markdown is rendered (GitHub's rule)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors of a document's headings; a repeated heading gets -1, -2, ..."""
    found: set[str] = set()
    repeats: dict[str, int] = {}
    for _, line in unfenced_lines(text):
        heading = _HEADING.match(line)
        if heading is None:
            continue
        base = slug(heading.group(1))
        count = repeats.get(base, 0)
        found.add(f"{base}-{count}" if count else base)
        repeats[base] = count + 1
    return found


def link_problem(source: Path, target: str, root: Path = ROOT) -> str | None:
    """Why ``target``, linked from ``source``, leads outside the repository, or None."""
    if not target:
        return "an empty link"
    if _SCHEME.match(target) or target.startswith(("//", "www.")):
        parts = urlsplit(target if not target.startswith("www.") else f"https://{target}")
        if parts.scheme in ("http", "https") and parts.hostname in ALLOWED_HOSTS:
            return None
        return f"{target} leads outside the repository (allowed hosts: {sorted(ALLOWED_HOSTS)})"
    path, _, fragment = target.partition("#")
    if path.startswith("/"):
        return f"{target} is absolute; link relative to {source.name}"
    linked = (source.parent / unquote(path)).resolve() if path else source
    if not linked.is_relative_to(root):
        return f"{target} escapes the repository"
    if not linked.exists():
        return f"{target}: no such file in the repository"
    if (
        fragment
        and linked.suffix == ".md"
        and unquote(fragment) not in anchors(linked.read_text(encoding="utf-8"))
    ):
        return f"{target}: {linked.name} has no heading with that anchor"
    return None


def docstrings_and_comments(source: str) -> Iterator[tuple[int, str]]:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(
            node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
        ) and (docstring := ast.get_docstring(node, clean=False)):
            yield getattr(node, "lineno", 1), docstring
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string


def test_every_markdown_link_stays_in_the_repository() -> None:
    documents = repository_files(".md")
    assert ROOT / "README.md" in documents and ROOT / "docs" / "domain.md" in documents
    problems = []
    for document in documents:
        for number, target in links(document.read_text(encoding="utf-8")):
            problem = link_problem(document, target)
            if problem is not None:
                problems.append(f"{document.relative_to(ROOT)}:{number}: {problem}")
    assert not problems, "\n".join(problems)


def test_no_document_or_docstring_points_at_a_design_document_outside() -> None:
    found = []
    for document in repository_files(".md"):
        for number, line in enumerate(document.read_text(encoding="utf-8").splitlines(), 1):
            if OUTSIDE_DESIGN.search(line):
                found.append(f"{document.relative_to(ROOT)}:{number}")
    for module in repository_files(".py"):
        source = module.read_text(encoding="utf-8")
        if not OUTSIDE_DESIGN.search(source):
            continue  # parsing every module would cost seconds; most never mention it
        for number, text in docstrings_and_comments(source):
            if OUTSIDE_DESIGN.search(text):
                found.append(f"{module.relative_to(ROOT)}:{number}")
    assert not found, "points at a design document outside the repository: " + ", ".join(found)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "see [the contract](contract/README.md) and ![x](pic.png)",
            ["contract/README.md", "pic.png"],
        ),
        ('[spec](https://example.org/spec "title")', ["https://example.org/spec"]),
        ("[ref]: ../outside.md", ["../outside.md"]),
        ("<https://example.org/> and www.example.org", ["https://example.org/", "www.example.org"]),
        ('<a href="https://example.org/">x</a>', ["https://example.org/"]),
        ("`mechbus dashboard  # http://127.0.0.1:8400/` and `[a](b)`", []),
        ("```sh\ncurl https://example.org/\n[a](b)\n```\nafter", []),
    ],
)
def test_links_are_found_in_prose_and_not_in_code(text: str, expected: list[str]) -> None:
    assert [target for _, target in links(text)] == expected


def test_a_link_must_exist_inside_the_root(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "page.md"
    page.write_text("# The domain in one page\n\n## Need-to-know\n", encoding="utf-8")
    (tmp_path / "outside.md").write_text("", encoding="utf-8")
    assert link_problem(page, "page.md#need-to-know", tmp_path) is None
    assert link_problem(page, "#the-domain-in-one-page", tmp_path) is None
    assert link_problem(page, "../outside.md", tmp_path) is None
    assert "escapes" in str(link_problem(page, "../../outside.md", tmp_path))
    assert "no such file" in str(link_problem(page, "missing.md", tmp_path))
    assert "anchor" in str(link_problem(page, "page.md#nowhere", tmp_path))
    assert "outside" in str(link_problem(page, "https://example.org/", tmp_path))
    assert "outside" in str(link_problem(page, "mailto:someone@example.org", tmp_path))


def test_the_architecture_names_every_module_in_its_room() -> None:
    """docs/ARCHITECTURE.md's layer table has a row for every package folder, naming each of its
    modules, so that a newcomer who reads it finds every file of the tree where it says."""
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    layers = text[text.index("## Layers") : text.index("## Data flow")]
    rooms: dict[str, set[str]] = {}
    for line in layers.splitlines():
        cells = line.split("|")
        if len(cells) > 3 and cells[1].strip().startswith("`"):
            room = cells[1].strip().strip("`").rstrip("/")
            rooms[room] = set(re.findall(r"`([a-z0-9_]+)`", cells[2]))
    code = ["schemas", "bus", "adapters", "agency_stubs"]
    for package in code:
        for path in sorted((ROOT / package).rglob("*.py")):
            folder = path.parent.relative_to(ROOT).as_posix()
            if "migrations" in folder or path.name == "__init__.py":
                continue
            if folder == "bus":  # bus/ holds only its two rooms
                raise AssertionError(
                    f"{path.relative_to(ROOT)} belongs in bus/domain or bus/runtime"
                )
            assert folder in rooms, f"no row for {folder}/ in ARCHITECTURE.md's layer table"
            assert path.stem in rooms[folder], f"{folder}/{path.name} is not named in its row"
