"""Shared machinery for notebook tests: discovery, the marimo CLI, a marimo server, a browser.

Notebooks are tests (ecosystem notes §B): every marimo notebook must export headless and
pass ``marimo check``, every Jupyter notebook must execute through nbclient, and the lab
must react to its slider in a real browser. Discovery is by file, so a notebook added under
``notebooks/`` is tested without touching this folder.

Smoke mode: marimo notebooks get ``-- --smoke`` (read it with ``"smoke" in mo.cli_args()``:
cli_args() parses the flag into ``{"smoke": ""}``, so ``"--smoke" in mo.cli_args()`` is False);
every notebook process, marimo or Jupyter kernel, also sees ``LABKIT_SMOKE=1`` in its
environment (a Jupyter notebook has no command line).
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
ARTIFACTS = REPO / "test-artifacts"  # gitignored: screenshots for humans and CI uploads
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; Playwright cannot download its own offline
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
MARIMO = [sys.executable, "-m", "marimo"]  # the marimo of the interpreter running the tests


def _skip_dir(path: Path) -> bool:
    return any(part.startswith((".", "__")) for part in path.relative_to(NOTEBOOKS).parts[:-1])


def marimo_notebooks() -> list[Path]:
    """Every ``notebooks/**/*.py`` that defines a marimo app (helper modules are left out)."""
    if not NOTEBOOKS.is_dir():
        return []
    return sorted(p for p in NOTEBOOKS.rglob("*.py")
                  if not _skip_dir(p) and "marimo.App(" in p.read_text(encoding="utf-8", errors="replace"))


def jupyter_notebooks() -> list[Path]:
    """Every ``notebooks/**/*.ipynb`` outside checkpoint folders."""
    if not NOTEBOOKS.is_dir():
        return []
    return sorted(p for p in NOTEBOOKS.rglob("*.ipynb") if not _skip_dir(p))


def notebook_env(**extra: str) -> dict[str, str]:
    """Environment for notebook processes: smoke mode on, no update checks, this venv first."""
    env = dict(os.environ)
    env.update({"LABKIT_SMOKE": "1", "MARIMO_SKIP_UPDATE_CHECK": "1", "PYTHONUNBUFFERED": "1",
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"})
    env.update(extra)
    return env


def run_marimo(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``marimo <args>`` from the repository root in the notebook environment, output captured."""
    return subprocess.run([*MARIMO, *args], cwd=REPO, env=notebook_env(), capture_output=True, text=True,
                          timeout=timeout)


def tail(text: str, n: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


@dataclass(frozen=True)
class Export:
    """One ``marimo export html`` run: its exit code, its output, and the page it wrote."""
    code: int
    output: str
    page: Path


def export_html(notebook: Path, out: Path, *notebook_args: str, timeout: float = 600) -> Export:
    """``marimo export html NOTEBOOK -o OUT --no-sandbox --force --no-include-code -- <notebook_args>``.

    Every cell runs headless; a cell that raises makes the command exit non-zero. The code is
    left out of the page, as ``labkit export-lab`` leaves it out, so the page can be frozen too.
    """
    cmd = ["export", "html", str(notebook), "-o", str(out), "--no-sandbox", "--force", "--no-include-code"]
    r = run_marimo(*cmd, *(["--", *notebook_args] if notebook_args else []), timeout=timeout)
    return Export(r.returncode, r.stdout + r.stderr, out)


def check_notebooks(paths: Sequence[Path], timeout: float = 300) -> dict[Path, list[str]]:
    """``marimo check --strict`` on all ``paths`` in one process: the problems found in each file.

    One process instead of one per notebook (each start imports marimo). The JSON report names
    the file of every diagnostic; a failure that names no file (marimo crashed, unreadable
    output) is charged to every path, so it can never pass unnoticed. Clean = no diagnostic at
    all: with ``--strict`` warnings count.
    """
    files = [Path(p).resolve() for p in paths]
    r = run_marimo("check", "--strict", "--format", "json", *map(str, files), timeout=timeout)
    found: dict[Path, list[str]] = {f: [] for f in files}
    try:
        issues = json.loads(r.stdout)["issues"]
    except (ValueError, KeyError, TypeError):
        issues = None
    unplaced = []
    for issue in issues or []:
        where = Path(issue["filename"]).resolve() if issue.get("filename") else None
        line = f"{issue.get('severity')}[{issue.get('name')}] {issue.get('message')} (line {issue.get('line')})"
        (found[where] if where in found else unplaced).append(line)
    if issues is None or unplaced or (r.returncode != 0 and not any(found.values())):
        why = f"marimo check exited {r.returncode}; {unplaced or 'no per-file diagnostic'}:\n{tail(r.stdout + r.stderr)}"
        for f in files:
            found[f].append(why)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``marimo_notebook`` / ``jupyter_notebook`` arguments over the notebooks found.

    With none found yet, the test is reported as skipped with the reason, not passed.
    """
    for arg, find, kind in (("marimo_notebook", marimo_notebooks, "marimo"),
                            ("jupyter_notebook", jupyter_notebooks, "Jupyter")):
        if arg in metafunc.fixturenames:
            paths = find()
            if paths:
                metafunc.parametrize(arg, paths, ids=[str(p.relative_to(REPO)) for p in paths])
            else:
                reason = f"no {kind} notebooks under notebooks/ yet (they are discovered as they are added)"
                metafunc.parametrize(arg, [pytest.param(None, marks=pytest.mark.skip(reason=reason))],
                                     ids=[f"no-{kind}-notebooks"])


@contextlib.contextmanager
def marimo_server(notebook: Path, *notebook_args: str, timeout: float = 180,
                  env: dict[str, str] | None = None) -> Iterator[str]:
    """Serve ``notebook`` with ``marimo run`` on 127.0.0.1 with a random token; yield its URL.

    ``notebook`` may be a folder: one server then runs every notebook in it, each opened at
    ``f"{url}&file={name}"`` (see :func:`notebook_url`); a test module with several notebooks
    pays for one server start, and its kernels share the imports (torch, labkit) already made.

    The token stays on, as in production (docs/design.md §6): the URL carries it as
    ``?access_token=...``. The server is polled on ``/health`` and stopped afterwards.
    ``env`` overrides the notebook environment (e.g. ``{"LABKIT_SMOKE": "0"}`` to open a
    notebook as a user does).
    """
    port, token = free_port(), secrets.token_urlsafe(16)
    log = ARTIFACTS / f"marimo-{notebook.stem}-{port}.log"
    ARTIFACTS.mkdir(exist_ok=True)
    cmd = [*MARIMO, "-q", "run", str(notebook), "--headless", "--host", "127.0.0.1", "--port", str(port),
           "--token", "--token-password", token, "--no-sandbox"]
    if notebook_args:
        cmd += ["--", *notebook_args]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=notebook_env(**(env or {})), stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"marimo run exited with {proc.returncode}:\n{tail(log.read_text())}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"marimo run did not answer /health within {timeout}s:\n{tail(log.read_text())}")
            time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/?access_token={token}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    log.unlink(missing_ok=True)  # kept only when something above raised


@pytest.fixture(scope="session")
def smoke_export(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], Export]:
    """``smoke_export(notebook)``: the notebook's ``export_html(..., "--smoke")``, run once per test run.

    A smoke run of a notebook takes a minute; test_notebooks (every notebook exports) and
    test_export (the lab's page, frozen, opens offline) look at the same run. Under pytest-xdist
    the workers share it through a folder of the run and a file lock: the first asker exports,
    the others read its result.
    """
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    folder = (root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root) / "smoke-exports"
    folder.mkdir(exist_ok=True)

    def get(notebook: Path) -> Export:
        notebook = notebook.resolve()
        page = folder / "-".join(notebook.relative_to(REPO).with_suffix(".html").parts)
        done = page.with_suffix(".json")
        with FileLock(f"{page}.lock"):
            if not done.exists():
                run = export_html(notebook, page, "--smoke")
                done.write_text(json.dumps({"code": run.code, "output": run.output}))
            result = json.loads(done.read_text())
        return Export(result["code"], result["output"], page)

    return get


@pytest.fixture(scope="session")
def notebook_checks() -> dict[Path, list[str]]:
    """:func:`check_notebooks` over every marimo notebook of the repository, run once."""
    return check_notebooks(marimo_notebooks())


def notebook_url(url: str, name: str) -> str:
    """The page of notebook ``name`` (a file name in the served folder) on a folder server's ``url``."""
    return f"{url}&file={name}"


@pytest.fixture
def marimo_app():
    """``with marimo_app(path, *args) as url:`` serves a notebook for the length of the block."""
    return marimo_server


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser():
    """A headless Debian chromium driven by Playwright (skips where chromium is missing)."""
    if not CHROMIUM.exists():
        pytest.skip(f"no browser at {CHROMIUM}: install Debian's chromium package (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh browser context and page per test, with a generous default timeout (cold marimo)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    context.close()
