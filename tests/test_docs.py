"""The documentation resolves: every ``docs/<name>.md §N`` cited in the code names a real file and
heading, nothing cites specs that are not in the repository, and the README's cheap claims hold
(its ``make`` targets, ``labkit`` commands, ``python -m`` modules and repository paths exist)."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
SOURCES = ["labkit", "notebooks", "tests", "benchmarks", "README.md"]
SUFFIXES = {".py", ".md", ".ipynb", ".csv", ".txt", ".toml", ".js"}
SECTION = r"§\s*(\d+(?:\.\d+)?)"
CITATION = re.compile(r"docs/(\w+)\.md((?:\s*(?:,|and|/)?\s*" + SECTION + r"(?:\s*[–-]\s*§?\d+(?:\.\d+)?)?)*)")
README = (REPO / "README.md").read_text(encoding="utf-8")


def _files() -> list[Path]:
    out = []
    for name in SOURCES:
        p = REPO / name
        out += [p] if p.is_file() else [f for f in p.rglob("*") if f.is_file() and f.suffix in SUFFIXES
                                          and "__pycache__" not in f.parts]
    return out


def _citations() -> list[tuple[str, str, str | None]]:
    found = []
    for f in _files():
        text = f.read_text(encoding="utf-8", errors="replace")
        for m in CITATION.finditer(text):
            sections = re.findall(SECTION, m.group(2)) or [None]
            found += [(str(f.relative_to(REPO)), m.group(1), s) for s in sections]
    return found


def _headings(doc: Path) -> set[str]:
    numbers = set()
    for line in doc.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^#{1,6}\s+§?(\d+(?:\.\d+)?)[.\s]", line)
        if m:
            numbers.add(m.group(1))
    return numbers


def test_the_code_cites_the_docs():
    assert len(_citations()) > 50  # the docstrings cite their methods; the regex must keep finding them


def test_every_docs_citation_resolves_to_a_file_and_heading():
    bad = []
    for where, name, section in _citations():
        doc = DOCS / f"{name}.md"
        if not doc.is_file():
            bad.append(f"{where}: docs/{name}.md does not exist")
        elif section is not None and section not in _headings(doc):
            bad.append(f"{where}: docs/{name}.md has no heading §{section}")
    assert not bad, "\n".join(sorted(set(bad)))


def test_nothing_cites_specs_outside_the_repository():
    stale = re.compile(r"(?<![/\w])(?:METHODS|DESIGN|SEEDS)(?:\.md| §)")
    hits = [f"{f.relative_to(REPO)}:{i}" for f in _files()
            for i, line in enumerate(f.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
            if stale.search(line)]
    assert not hits, hits[:20]


def test_methods_doc_keeps_the_method_numbering():
    heads = _headings(DOCS / "methods.md")
    expected = {"0", "0.1", "1", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7", "2", "2.1", "2.2", "2.3",
                "2.4", "2.5", "3", "3.1", "3.2", "3.3", "4", "4.1", "4.2", "4.3", "4.4", "4.5", "5", "5.1",
                "5.2", "5.3", "5.4", "5.5", "5.6", "5.7"}
    assert expected <= heads, sorted(expected - heads)
    assert {str(i) for i in range(1, 8)} <= _headings(DOCS / "design.md")


# -- README claims that are cheap to check -----------------------------------------------------
def _code_lines() -> list[str]:
    fenced = re.findall(r"```(\w*)\n(.*?)```", README, flags=re.S)
    blocks = [body for lang, body in fenced if lang in ("", "bash", "sh", "console")]
    prose = re.sub(r"```\w*\n.*?```", "", README, flags=re.S)
    inline = re.findall(r"`([^`\n]+)`", prose)
    return [ln.strip() for b in blocks for ln in b.splitlines()] + inline


def test_readme_make_targets_exist():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([\w-]+):", makefile, flags=re.M))
    used = {m for ln in _code_lines() for m in re.findall(r"(?:^|\s)make\s+([\w-]+)", ln)}
    assert used and used <= targets, used - targets


def test_readme_labkit_commands_exist():
    from labkit.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    commands = set(sub.choices)
    used = {m for ln in _code_lines() for m in re.findall(r"(?:^|[\s$])labkit\s+([a-z][\w-]*)", ln)}
    assert used and used <= commands, used - commands


def test_readme_python_modules_exist():
    mods = {m for ln in _code_lines() for m in re.findall(r"python -m ([\w.]+)", ln)}
    missing = [m for m in mods if importlib.util.find_spec(m) is None]
    assert mods and not missing, missing


@pytest.mark.parametrize("path", sorted({p.rstrip("/.,)") for p in re.findall(
    r"(?<![\w/~.])((?:labkit|notebooks|docs|benchmarks|tests)/[\w./-]+)", README)}))
def test_readme_paths_exist(path):
    if any(ch in path for ch in "*{"):
        pytest.skip("a pattern, not a path")
    assert (REPO / path).exists(), f"README mentions {path}, which is not in the repository"
