"""Real-browser tests: ``marimo run`` with a token, driven by Playwright and Debian's chromium.

How the marimo DOM (0.25) is located, as seen in ``test_browser_harness_with_tiny_app``:
- A ``mo.ui.slider`` renders a Radix slider. Its thumb is ``<span role="slider"
  data-testid="thumb" aria-valuenow=... aria-labelledby=...>`` and the ``aria-labelledby``
  target is the slider's ``label``, so ``page.get_by_role("slider", name="global sparsity")``
  finds it. Focus the thumb and press ArrowRight: each press moves one ``step``, and a
  ``debounce=True`` slider still sends the value (keyboard changes count as "commits").
- Markdown output is plain text: ``page.get_by_text("sparsity: ")`` finds the readout.
- A returned matplotlib figure is ``<img src="data:image/png;base64,...">`` with an empty
  ``alt`` inside ``div.marimo-cell[data-cell-name=<cell function name>]``, so a view is
  found by naming its cell, or by a heading printed in the same cell output; the ``src``
  changes when the figure is redrawn.
- An anywidget wrapped in ``mo.ui.anywidget`` renders its own DOM in the page (no iframe).

DOM hooks the lab notebook (notebooks/lab.py) must provide for ``test_lab_*``:
- a slider labelled ``global sparsity``;
- a text readout starting with ``sparsity:`` that shows the current global sparsity;
- the per-class accuracy figure either returned from a cell *named* ``per_class_view``
  (``@app.cell def per_class_view(...)``) or shown under a heading containing
  "Per-class accuracy" in the same cell (``mo.vstack([mo.md("### Per-class accuracy"), fig])``).
The tiny app below provides the same hooks, so the harness test runs the very check the lab
test runs (``_drive_global_sparsity``) and proves it can pass.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import marimo_server, notebook_url

expect = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the test extra)").expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "notebooks" / "lab.py"

TINY_APP = '''import marimo

app = marimo.App()


@app.cell
def _():
    import marimo as mo
    from matplotlib.figure import Figure

    from labkit.ui import Slider
    from labkit.ui import marimo as mui
    return Figure, Slider, mo, mui


@app.cell
def _(Slider, mui):
    sparsity = mui.element(Slider("sparsity", "global sparsity", 0.0, 0.9, 0.05, 0.5))
    sparsity
    return (sparsity,)


@app.cell
def _(mo, sparsity):
    mo.md(f"sparsity: {sparsity.value:.2f}")
    return


@app.cell
def per_class_view(Figure, sparsity):
    fig = Figure(figsize=(3, 2))
    fig.subplots().bar([0, 1], [sparsity.value, 1 - sparsity.value])
    fig
    return


if __name__ == "__main__":
    app.run()
'''

OVERLAP_APP = '''import marimo

app = marimo.App()


@app.cell
def _():
    import marimo as mo
    import pandas as pd

    from labkit.ui import MaskOverlapWidget
    return MaskOverlapWidget, mo, pd


@app.cell
def _(MaskOverlapWidget, mo, pd):
    names = ["magnitude", "taylor", "apoz"]
    m = pd.DataFrame([[1, .4, .3], [.4, 1, .6], [.3, .6, 1]], index=names, columns=names)
    overlap = mo.ui.anywidget(MaskOverlapWidget(m))
    overlap
    return (overlap,)


@app.cell
def _(mo, overlap):
    mo.md(f"picked: {' / '.join(overlap.value['selected']) or 'none'}")
    return


if __name__ == "__main__":
    app.run()
'''


def _per_class_img(page):
    """The per-class figure: the image in the cell named ``per_class_view``, or else the image in
    the cell whose output is headed "Per-class accuracy" (how notebooks/lab.py shows it)."""
    named = page.locator('[data-cell-name="per_class_view"] img')
    headed = (page.locator("div.marimo-cell")
              .filter(has_text=re.compile(r"per-class accuracy", re.I))
              .filter(has=page.locator("img"))
              .locator("img"))
    return named.or_(headed).first


def _press_right(page, label: str, times: int) -> None:
    slider = page.get_by_role("slider", name=label)
    slider.focus()
    for _ in range(times):
        page.keyboard.press("ArrowRight")


def _drive_global_sparsity(page, url: str, screenshot: Path, timeout_ms: int) -> tuple[str, str]:
    """Open the app, press ArrowRight three times on "global sparsity", and check that the
    "sparsity:" readout, the slider's value and the per-class figure all change.
    Returns the readout text before and right after the move. On failure the page is saved
    next to ``screenshot`` as ``*-failed.png``."""
    try:
        page.goto(url)
        readout = page.get_by_text(re.compile(r"^\s*sparsity:")).first
        readout.wait_for(timeout=timeout_ms)
        slider = page.get_by_role("slider", name="global sparsity")
        figure = _per_class_img(page)
        figure.wait_for(timeout=timeout_ms)
        text_before, src_before = readout.inner_text(), figure.get_attribute("src")
        value_before = slider.get_attribute("aria-valuenow")
        _press_right(page, "global sparsity", 3)
        expect(readout).not_to_have_text(text_before, timeout=timeout_ms)
        expect(figure).not_to_have_attribute("src", src_before, timeout=timeout_ms)
        assert slider.get_attribute("aria-valuenow") != value_before
        assert (figure.get_attribute("src") or "").startswith("data:image/png")
    except Exception:
        page.screenshot(path=str(screenshot.with_name(f"{screenshot.stem}-failed.png")), full_page=True)
        raise
    page.screenshot(path=str(screenshot), full_page=True)
    return text_before, readout.inner_text()


@pytest.fixture(scope="module")
def apps_url(tmp_path_factory):
    """One ``marimo run`` of a folder with the tiny app and the overlap app for this module's tests
    (each page gets its own session); open one with ``notebook_url(apps_url, "tiny_app.py")``."""
    folder = tmp_path_factory.mktemp("apps")
    (folder / "tiny_app.py").write_text(TINY_APP)
    (folder / "overlap_app.py").write_text(OVERLAP_APP)
    with marimo_server(folder) as url:
        yield url


@pytest.fixture
def tiny_app_url(apps_url):
    return notebook_url(apps_url, "tiny_app.py")


def test_browser_harness_refuses_a_missing_token(tiny_app_url, page):
    """The server really is token-protected: without the token marimo sends us to its login page."""
    page.goto(tiny_app_url.split("?")[0])
    assert "/auth/login" in page.url
    assert page.get_by_role("slider").count() == 0


def test_browser_harness_with_tiny_app(tiny_app_url, page, artifacts):
    """The harness itself: token URL, keyboard on a debounced labkit slider, text and figure update."""
    before, _ = _drive_global_sparsity(page, tiny_app_url, artifacts / "browser-harness.png", 180_000)  # a cold kernel on a loaded box
    assert before == "sparsity: 0.50"
    page.get_by_text("sparsity: 0.65").wait_for()  # three steps of 0.05, none lost to debouncing
    assert page.get_by_role("slider", name="global sparsity").get_attribute("aria-valuemax") == "0.9"


def test_overlap_widget_click_selects_a_pair(apps_url, page, artifacts):
    """overlap.js in a real browser: a click on a cell reaches Python and re-runs the reader cell."""
    page.goto(notebook_url(apps_url, "overlap_app.py"))
    page.get_by_text("picked: none").wait_for()
    cell = page.get_by_role("gridcell", name="taylor vs apoz: 0.60")
    cell.click()
    page.get_by_text("picked: taylor / apoz").wait_for()
    page.get_by_text("selected: taylor vs apoz = 0.600").wait_for()
    page.screenshot(path=str(artifacts / "overlap-widget.png"), full_page=True)
