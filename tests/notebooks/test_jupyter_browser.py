"""The JupyterLab twin in a real JupyterLab server and a real browser (Playwright + Debian chromium).

What a person does: open notebooks/jupyter/lab.ipynb, Run All from the menu, look, open a
section or two, move the global sparsity slider. What is asserted: every ``<img>`` on the page
decodes (``naturalWidth > 0``; the ipywidgets#3003 failure was ``src="data:image/png;base64,[object
Object]"``), no cell shows a traceback or an in-place error box, and the readout and the images
change after the slider moves.

The notebook is served from a temporary copy, so JupyterLab's autosave never writes outputs
into the repository; JupyterLab's settings, workspaces and runtime files live in the same
temporary folder (no news prompt, no extension manager calling out).

How the ipywidgets 8 DOM is located:
- a ``FloatSlider`` is ``.widget-hslider`` holding ``label.widget-label`` (its description) and a
  noUiSlider handle ``[role=slider]``; focusing the handle and pressing ArrowRight moves one step
  and, even with ``continuous_update=False``, sends the value (a keyboard move is a "change");
- an ``ipywidgets.Image`` is ``<img src="blob:...">``;
- an ``Accordion`` title is ``.jupyter-widget-Collapse-header`` (click to open);
- the kernel status is the status-bar text "Python 3 (ipykernel) | Idle".
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("jupyterlab", reason="pip install 'labkit[lab]' (JupyterLab)")
expect = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the test extra)").expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"  # gitignored; the `artifacts` fixture of conftest.py creates it
LAB_NB = REPO / "notebooks" / "jupyter" / "lab.ipynb"
IDLE = re.compile(r"\| Idle")

# Every <img> on the page: [src prefix, naturalWidth, complete]; broken = loaded with no pixels.
IMAGES_JS = """() => Array.from(document.querySelectorAll('img')).map(i => ({
    src: i.src.slice(0, 60), width: i.naturalWidth, complete: i.complete}))"""
BROKEN_JS = """() => Array.from(document.querySelectorAll('img'))
    .filter(i => i.complete && i.naturalWidth === 0).map(i => i.src.slice(0, 80))"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(text: str, n: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


@contextlib.contextmanager
def jupyterlab_server(root: Path, timeout: float = 120) -> Iterator[str]:
    """``jupyter lab`` on 127.0.0.1 serving ``root`` with a random token; yield its base URL + token."""
    port, token = _free_port(), secrets.token_urlsafe(16)
    home = root.parent / "jupyter-home"
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false",
                                                                           "checkForUpdates": False}))
    env = {**os.environ, "LABKIT_SMOKE": "1", "PYTHONUNBUFFERED": "1",  # the kernel inherits these
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces")}
    log = ARTIFACTS / f"jupyterlab-{port}.log"
    ARTIFACTS.mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "jupyter", "lab", "--allow-root", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           "--ServerApp.terminals_enabled=False", "--LabApp.extension_manager=readonly", "--LabApp.news_url=None"]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    ok = False
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{_tail(log.read_text())}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"jupyter lab did not answer within {timeout}s:\n{_tail(log.read_text())}")
            time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/lab/tree/{{path}}?token={token}"
        ok = True
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        if ok:
            log.unlink(missing_ok=True)  # kept only when something above raised


def _idle(page, timeout_ms: int) -> None:
    page.get_by_text(IDLE).first.wait_for(timeout=timeout_ms)


def _run_all(page) -> None:
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).first.click()


def _errors_on_page(page) -> list[str]:
    """Tracebacks printed in cells and the app's in-place error boxes."""
    stderr = page.locator('.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()
    boxes = page.locator(".labkit-error").all_inner_texts()
    return [t[:400] for t in stderr if re.search(r"Traceback|Error", t)] + [b[:400] for b in boxes]


def _app_srcs(page) -> list[str]:
    return page.evaluate("() => Array.from(document.querySelectorAll('.labkit-app img')).map(i => i.src)")


def test_broken_image_check_can_fail(page) -> None:
    """The decode check flags exactly the image ipywidgets#3003 produced."""
    page.set_content('<img src="data:image/png;base64,[object Object]">'
                 '<img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk'
                 '+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==">')
    page.wait_for_function("() => Array.from(document.images).every(i => i.complete)")
    assert page.evaluate(BROKEN_JS) == ["data:image/png;base64,[object Object]"]


@pytest.mark.skipif(not LAB_NB.exists(), reason="notebooks/jupyter/lab.ipynb is missing")
def test_jupyterlab_twin_runs_all_and_follows_the_slider(tmp_path, browser, artifacts) -> None:
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(LAB_NB, root / "lab.ipynb")
    context = browser.new_context(viewport={"width": 1400, "height": 4200})  # tall: the whole app on screen
    page = context.new_page()
    page.set_default_timeout(120_000)
    shot = artifacts / "jupyterlab-lab.png"
    with jupyterlab_server(root) as url:
        try:
            page.goto(url.format(path="lab.ipynb"))
            _idle(page, 120_000)
            _run_all(page)
            readout = page.locator(".labkit-readout").first
            readout.wait_for(timeout=180_000)
            _idle(page, 180_000)
            for title in ("Mask merging and overlap", "Filter activations"):  # sections compute when opened
                page.locator(".jupyter-widget-Collapse-header", has_text=title).click()
            page.get_by_text(re.compile(r"selected pair: merged vs")).wait_for()
            page.get_by_text(re.compile(r"image 0: class")).wait_for()
            _idle(page, 120_000)
            page.screenshot(path=str(shot))

            images = page.evaluate(IMAGES_JS)
            app_images = _app_srcs(page)
            assert len(app_images) >= 9, images  # 5 main views, merge (2), activations (input + maps)
            assert page.evaluate(BROKEN_JS) == [], images
            assert all(s.startswith("blob:") for s in app_images), app_images
            assert _errors_on_page(page) == []
            assert readout.inner_text().startswith("sparsity: 0.50")

            before_text, before_srcs = readout.inner_text(), app_images
            handle = page.locator(".widget-hslider", has_text="global sparsity").locator("[role=slider]")
            handle.focus()
            page.keyboard.press("ArrowRight")  # one step: a keyboard move sends the value at once
            expect(page.locator(".widget-hslider", has_text="global sparsity").locator(".widget-readout")
                   ).to_have_text("0.55")
            expect(readout).to_contain_text("sparsity: 0.55", timeout=120_000)
            _idle(page, 120_000)
            page.screenshot(path=str(artifacts / "jupyterlab-lab-moved.png"))
            after = _app_srcs(page)
            changed = sum(a != b for a, b in zip(before_srcs, after))
            assert len(after) == len(before_srcs) and changed >= 7, (changed, after)  # the input image stays
            assert page.evaluate(BROKEN_JS) == []
            assert _errors_on_page(page) == []
        except Exception:  # the page as it was, taken while the server still runs
            page.screenshot(path=str(shot.with_name("jupyterlab-lab-failed.png")))
            raise
        finally:
            context.close()
