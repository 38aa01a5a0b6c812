"""The package's shape, checked: layers import one way, no cycles, small modules, lint and types clean.

The layer order and the acyclic contract live in pyproject.toml (``[tool.importlinter]``) and
docs/design.md explains them; import-linter reads every import statement, the lazy ones inside
functions included, so a backwards import fails here instead of in a reviewer's head.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 400


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def _tool(name: str) -> str:
    """A console script of the test environment (next to its python), else from PATH."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is in the test extra: pip install -e '.[test]'")
    return found


def test_layers_import_one_way_and_no_module_imports_in_a_cycle():
    out = _run(_tool("lint-imports"), "pyproject.toml", "--no-cache")
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]


def test_every_module_is_at_most_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "labkit").rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these by concept: {long}"


def test_ruff_finds_nothing():
    out = _run(_tool("ruff"), "check", "labkit", "benchmarks")
    assert out.returncode == 0, out.stdout[-6000:]


def test_mypy_finds_no_type_error():
    out = _run(_tool("mypy"), "labkit")
    assert out.returncode == 0, out.stdout[-6000:]
