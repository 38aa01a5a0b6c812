"""Study notebooks open on their committed results: in ``marimo run`` (not smoke: as a user opens
one), each study notebook shows the committed run's verdict (a row per claim, PASS / FAIL / INFO)
within 30 s of opening, and its table fits the page (no horizontal scrolling)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api", reason="pip install playwright (the test extra)")

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
STUDIES = sorted(p for p in (REPO / "notebooks" / "studies").glob("*.py") if not p.name.startswith("_")
                 and (p.parent / "results" / f"{p.stem}.csv").exists())
VERDICT_WITHIN_S = 30


@pytest.mark.parametrize("notebook", STUDIES, ids=[p.stem for p in STUDIES])
def test_study_notebook_shows_its_committed_verdict_first(notebook: Path, marimo_app, page, artifacts) -> None:
    with marimo_app(notebook, env={"LABKIT_SMOKE": "0"}) as url:
        t0 = time.monotonic()
        page.goto(url)
        table = page.locator("[data-labkit-study-verdict]").first
        table.wait_for(timeout=120_000)
        seconds = time.monotonic() - t0
        page.wait_for_timeout(500)
        page.screenshot(path=str(artifacts / f"study-{notebook.stem}.png"))
        rows = table.locator("tbody tr")
        assert rows.count() >= 2
        assert all(rows.nth(i).locator("td").first.inner_text().strip() in {"PASS", "FAIL", "INFO"}
                   for i in range(rows.count()))
        page.get_by_text("Verdict of the committed run").first.wait_for(timeout=5_000)
        page.get_by_role("button", name="rerun the committed study", exact=False).first.wait_for(timeout=5_000)
        fits = table.evaluate("t => t.scrollWidth <= t.clientWidth + 1 && t.getBoundingClientRect().right <= "
                              "document.documentElement.clientWidth")
        assert fits, "the verdict table is wider than the page"
        assert seconds <= VERDICT_WITHIN_S, f"{notebook.stem}: verdict after {seconds:.0f} s (> {VERDICT_WITHIN_S} s)"
        print(f"{notebook.stem}: verdict after {seconds:.1f} s")
