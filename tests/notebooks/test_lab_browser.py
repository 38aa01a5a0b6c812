"""The lab as a person meets it, in a real browser (Playwright + Debian's chromium).

Two ways in, each checked for what a person sees, not only for cells that ran:
- ``make lab``: the README's own command (read from the Makefile), in marimo's edit mode. The lab
  must run on open (no click on "run"), and no cell may show an error.
- ``marimo run notebooks/lab.py``: every chart draws, every image decodes, values change when a
  control moves, a click on a class shows its confusions, the overlap widget keeps a clicked pair
  across slider moves, the method views react, the verdict table is complete.

Screenshots land in ``test-artifacts/`` (lab-run-*.png, make-lab.png): look at them.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import ARTIFACTS, REPO, free_port, notebook_env, tail

expect = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the test extra)").expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LAB = REPO / "notebooks" / "lab.py"
READOUT = re.compile(r"^\s*sparsity:")
WAIT = 240_000


def broken_images(page) -> list[str]:
    """``src`` prefixes of every <img> that did not decode (naturalWidth 0): must be empty.

    Playwright's locators pierce the shadow roots marimo renders its outputs in (``document.images``
    does not see them)."""
    imgs = page.locator("img")
    deadline = time.monotonic() + 60
    while not all(imgs.evaluate_all("els => els.map(i => i.complete)")) and time.monotonic() < deadline:
        time.sleep(0.2)
    return imgs.evaluate_all("els => els.filter(i => i.naturalWidth === 0).map(i => i.src.slice(0, 60))")


def wait_until(predicate, timeout_s: float = WAIT / 1000, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.2)


def chart_labels(page, text: str) -> list[str]:
    """Aria labels of the marks of the Vega chart in the cell whose output contains ``text``."""
    cell = page.locator("div.marimo-cell").filter(has_text=text).last
    return cell.locator('[aria-roledescription="bar"]').evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")


def press_right(page, label: str, times: int = 1) -> None:
    slider = page.get_by_role("slider", name=label)
    slider.focus()
    for _ in range(times):
        page.keyboard.press("ArrowRight")


def full_screenshot(page, path: Path) -> None:
    """marimo scrolls inside its own container: grow the viewport to the page, then shoot.

    Only for the screenshot: the test itself runs in a laptop-sized window (every chart draws there
    too, and a 6000-px window made each redraw cost Chromium's software rasteriser seconds)."""
    size = page.viewport_size or {"width": 1280, "height": 900}
    height = page.evaluate("Math.max(...Array.from(document.querySelectorAll('*')).map(e => e.scrollHeight))")
    page.set_viewport_size({"width": 1280, "height": min(int(height) + 100, 16000)})
    page.wait_for_timeout(500)
    page.screenshot(path=str(path), full_page=True, timeout=WAIT)  # a 16000-px page on a loaded box
    page.set_viewport_size(size)


def test_lab_run_every_view_renders_and_reacts(marimo_app, page, artifacts):
    with marimo_app(LAB, "--smoke", timeout=300) as url:
        try:
            page.goto(url)
            readout = page.get_by_text(READOUT).first
            readout.wait_for(timeout=WAIT)
            page.get_by_text("Click a bar above").wait_for(timeout=WAIT)
            page.locator('[aria-roledescription="bar"]').first.wait_for(timeout=WAIT)
            # five client-side charts: per-class, groups, profile, curve, cost
            wait_until(lambda: page.locator("svg.marks").count() >= 5, what="five charts")
            bars_before = chart_labels(page, "Per-class accuracy")
            assert len(bars_before) == 10 and all("accuracy" in b for b in bars_before)

            # a slider step changes the readout, the per-class bars and the profile
            text_before = readout.inner_text()
            press_right(page, "global sparsity", 4)
            expect(readout).not_to_have_text(text_before, timeout=WAIT)
            expect(page.get_by_text(re.compile(r"sparsity: 0\.70"))).to_be_visible(timeout=WAIT)
            wait_until(lambda: (lambda b: len(b) == 10 and b != bars_before)(chart_labels(page, "Per-class accuracy")),
                       what="the per-class bars to change")

            # a click on a class bar shows its confusion row and misclassified images
            (page.locator("div.marimo-cell").filter(has_text="Per-class accuracy").last
             .locator('[aria-roledescription="bar"]:not([aria-label*="; accuracy: 0.000"])').first.click())  # a bar with height
            page.get_by_text(re.compile(r"test images, predicted as")).wait_for(timeout=WAIT)

            # a criterion that scores filters only: the granularity follows, with a note; no blank page
            page.get_by_label("criterion").select_option("apoz")
            page.get_by_text(re.compile(r"scores filters only")).wait_for(timeout=WAIT)
            expect(page.get_by_text(re.compile(r"of the prunable filters"))).to_be_visible(timeout=WAIT)
            page.get_by_label("criterion").select_option("magnitude")
            expect(page.get_by_text(re.compile(r"of the prunable weights"))).to_be_visible(timeout=WAIT)

            # mask merging: the overlap widget keeps a clicked pair while the sparsity moves
            page.get_by_text("compute mask merging live").click()
            page.get_by_text(re.compile(r"selected pair: merged vs")).first.wait_for(timeout=WAIT)
            page.get_by_role("gridcell", name=re.compile(r"^taylor vs random")).first.click()
            page.get_by_text(re.compile(r"selected pair: taylor vs random")).first.wait_for(timeout=WAIT)
            pair = page.get_by_text(re.compile(r"selected pair: ")).first
            pair_before = pair.inner_text()  # "... · Jaccard over all layers 0.xxx": moves with the sparsity
            press_right(page, "global sparsity", 1)
            expect(page.get_by_text(re.compile(r"sparsity: 0\.75"))).to_be_visible(timeout=WAIT)
            expect(pair).not_to_have_text(pair_before, timeout=WAIT)  # the merge view was measured again ...
            expect(pair).to_contain_text("selected pair: taylor vs random")  # ... and kept the clicked pair

            # filter activations: the input image and its feature maps
            page.get_by_text("compute filter activations live").click()
            page.get_by_text(re.compile(r"image 0 · predicted")).wait_for(timeout=WAIT)

            # method views: DOMINOS headline, the GA readout follows its own slider
            page.get_by_text(re.compile(r"median R² .* in survival units")).first.wait_for(timeout=WAIT)
            ga = page.get_by_text(re.compile(r"^\s*calibration loss")).first
            ga.wait_for(timeout=WAIT)
            before = ga.inner_text()
            press_right(page, "rescue budget ρ", 1)
            expect(ga).not_to_have_text(before, timeout=WAIT)

            # the verdict table shows every claim (no pagination hiding rows)
            from labkit.studies import committed_verdicts

            v = committed_verdicts(REPO / "notebooks" / "studies" / "results")
            want = int((v["verdict"] != "INFO").sum())
            table = page.locator("table.labkit-verdicts")
            table.wait_for(timeout=WAIT)
            expect(table.locator("tbody tr")).to_have_count(want, timeout=WAIT)

            # fine-tune recovers accuracy under a progress bar, for the epochs its slider asks (2: smoke)
            epochs = page.get_by_role("slider", name="fine-tune epochs")
            epochs.focus()
            page.keyboard.press("Home")  # 1
            page.keyboard.press("ArrowRight")
            expect(epochs).to_have_attribute("aria-valuenow", "2")
            page.get_by_role("button", name="fine-tune").click()
            page.get_by_text(re.compile(r"after 2 epochs: balanced")).first.wait_for(timeout=WAIT)

            assert broken_images(page) == []
        except Exception:
            full_screenshot(page, artifacts / "lab-run-failed.png")
            raise
        full_screenshot(page, artifacts / "lab-run.png")


def _make_lab_command(port: int) -> list[str]:
    """The `lab:` recipe of the Makefile (what `make lab` runs), with this test's port."""
    text = (REPO / "Makefile").read_text()
    recipe = re.search(r"^lab:.*\n\t(.+)$", text, re.M)
    assert recipe, "the Makefile has no `lab:` target"
    cmd = recipe.group(1).replace("$(VENV)/bin/marimo", "marimo").replace("$(PORT)", str(port))
    assert "--no-token" not in cmd, "make lab must keep marimo's token on"
    args = shlex.split(cmd)
    assert args[:2] == ["marimo", "edit"], cmd
    return [str(Path(os.sys.executable).with_name("marimo")), *args[1:], "--headless"]


def test_make_lab_opens_a_running_lab_with_no_error(page, artifacts):
    port = free_port()
    cmd = _make_lab_command(port)
    log = ARTIFACTS / "make-lab.log"
    ARTIFACTS.mkdir(exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=notebook_env(), stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        url, deadline = None, time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            m = re.search(r"(http://(?:127\.0\.0\.1|localhost):\d+\S*access_token=\S+)", log.read_text())
            url = m.group(1) if m else None
            if proc.poll() is not None:
                raise RuntimeError(f"make lab's command exited:\n{tail(log.read_text())}")
            time.sleep(0.5)
        assert url, f"make lab printed no URL with a token:\n{tail(log.read_text())}"
        page.goto(url)
        # nothing clicked: the cells run on open (pyproject's auto_instantiate), so the readout appears
        page.get_by_text(READOUT).first.wait_for(timeout=WAIT)
        page.locator('[aria-roledescription="bar"]').first.wait_for(timeout=WAIT)
        page.wait_for_timeout(2000)
        body = page.evaluate("document.body.innerText")
        assert "Traceback" not in body and "raised an exception" not in body
        assert broken_images(page) == []
        full_screenshot(page, artifacts / "make-lab.png")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
