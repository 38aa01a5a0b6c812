"""``labkit export-lab``: the exported page opens offline, with its figures, in a real browser.

A page is opened from disk in Chromium with the network off and every request that is not the
file itself refused (and recorded). It must make no other request, every ``<img>`` must decode
(``naturalWidth > 0``), the cells must be visible, and no error may show. Screenshots go to
test-artifacts/ for a person to look at.
"""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from labkit.cli import main
from labkit.export import CSP, freeze_marimo_html

from .conftest import ARTIFACTS, REPO

pytestmark = pytest.mark.browser

SMALL = textwrap.dedent('''
    import marimo

    app = marimo.App(width="medium")


    @app.cell
    def _():
        import marimo as mo
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import pandas as pd
        return mo, pd, plt


    @app.cell
    def _(mo):
        mo.md("# Offline export check\\nSome **markdown** and $x^2$.")
        return


    @app.cell
    def _(plt):
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.plot([0, 1, 2], [1, 0, 2])
        fig
        return


    @app.cell
    def _(mo, pd):
        mo.ui.table(pd.DataFrame({"a": range(24), "b": [f"row {i}" for i in range(24)]}),
                    selection=None, page_size=30)
        return


    @app.cell
    def _(mo):
        s = mo.ui.slider(0, 10, value=3, label="sparsity")
        s
        return (s,)


    @app.cell
    def _(mo, plt, s):
        fig2, ax2 = plt.subplots(figsize=(3, 2))
        ax2.bar([0, 1], [1, 2])
        mo.vstack([mo.callout(mo.md(f"value is {s.value}"), kind="success"), fig2])
        return


    if __name__ == "__main__":
        app.run()
''')


def open_offline(browser, path: Path, shot: str) -> tuple[object, list[str], list[str]]:
    """Open ``path`` with the network off; return the page, refused requests and errors seen."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_offline(True)
    page = context.new_page()
    refused, errors = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    def route(r):
        if r.request.url.startswith("file:"):
            r.continue_()
        else:
            refused.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function("() => [...document.images].every(i => i.complete)")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
    return page, refused, errors


def check_page(page, path: Path, refused: list[str], errors: list[str], min_images: int) -> None:
    text = path.read_text(encoding="utf-8")
    assert "<script" not in text.lower() and CSP in text  # nothing runs, nothing may load
    assert refused == [] and errors == []
    widths = page.evaluate("() => [...document.images].map(i => i.naturalWidth)")
    assert len(widths) >= min_images and all(w > 0 for w in widths), widths
    hidden = page.evaluate("() => [...document.querySelectorAll('.marimo-cell')]"
                           ".filter(c => getComputedStyle(c).visibility !== 'visible').length")
    assert hidden == 0
    body = page.evaluate("() => document.body.innerText")
    assert not re.search(r"Traceback|An internal error|Error:", body), body[:2000]
    assert "Static snapshot of" in body


def test_small_notebook_exports_and_opens_offline(browser, tmp_path):
    nb = tmp_path / "small.py"
    nb.write_text(SMALL, encoding="utf-8")
    out = tmp_path / "small.html"
    assert main(["export-lab", str(out), "--notebook", str(nb)]) == 0
    page, refused, errors = open_offline(browser, out, "export-small-offline.png")
    check_page(page, out, refused, errors, min_images=2)
    body = page.evaluate("() => document.body.innerText")
    assert "Offline export check" in body and "row 23" in body and "value is 3" in body  # every table row
    # the page is one long document, not a viewport-high scroll box
    assert page.evaluate("() => document.documentElement.scrollHeight") > 1500
    page.context.close()


def test_export_lab_refuses_a_missing_notebook(tmp_path, capsys):
    assert main(["export-lab", str(tmp_path / "x.html"), "--notebook", str(tmp_path / "nope.py")]) == 2
    assert "no notebook at" in capsys.readouterr().err


def test_notebook_arguments_only_after_export_lab(capsys):
    assert main(["list", "--", "--smoke"]) == 2
    assert "after --" in capsys.readouterr().err


@pytest.mark.slow
def test_the_lab_exports_and_opens_offline(browser, tmp_path, smoke_export):
    """``labkit export-lab`` on the lab is ``marimo export html --no-include-code -- --smoke`` (the smoke
    run test_notebooks checks too: run once) then :func:`freeze_marimo_html`; the small notebook
    above goes through the whole command."""
    run = smoke_export(REPO / "notebooks" / "lab.py")
    assert run.code == 0, run.output[-3000:]
    out = tmp_path / "lab.html"
    freeze_marimo_html(run.page, out, label="lab.py", args=["--smoke"],
                       screenshot=ARTIFACTS / "export-lab-rendered.png", timeout=1500)
    page, refused, errors = open_offline(browser, out, "export-lab-offline.png")
    check_page(page, out, refused, errors, min_images=5)
    body = page.evaluate("() => document.body.innerText")
    assert "Per-class accuracy" in body
    page.context.close()
