"""The study reports: generated from the committed CSV alone, every claim shown, and never stale."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from labkit.studies import METHOD_STUDIES, committed_verdicts
from labkit.studies._report import study_markdown, write_reports

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "notebooks" / "studies" / "results"
REL = "notebooks/studies/results"


@pytest.mark.parametrize("name", list(METHOD_STUDIES.values()))
def test_the_committed_report_is_what_its_csv_generates(name):
    """Each results/<name>.md is exactly the report of results/<name>.csv: no sentence without its number."""
    import importlib

    study = importlib.import_module(f"labkit.studies.{name}")
    committed = (RESULTS / f"{name}.md").read_text(encoding="utf-8")
    fresh = study_markdown(name, study.read_results(RESULTS / f"{name}.csv"), csv=f"{REL}/{name}.csv")
    assert committed.split("\n## PIEs")[0].rstrip() == fresh.rstrip(), \
        f"{REL}/{name}.md is stale: regenerate it with python -m labkit.studies.report {REL}"


def test_a_report_shows_every_claim_with_its_verdict_and_the_command():
    v = committed_verdicts(RESULTS)
    for method, name in METHOD_STUDIES.items():
        md = (RESULTS / f"{name}.md").read_text(encoding="utf-8")
        table = [ln for ln in md.splitlines() if ln.startswith("| ")]
        for r in v[v["method"] == method].itertuples():
            if r.criterion == "proxy headroom":  # its own paragraph
                assert f"**{r.verdict}**: {r.measured}." in md, name
                continue
            crit = r.criterion.replace("|", "\\|")
            assert any(ln.startswith(f"| {crit} |") and r.verdict in ln for ln in table), (name, r.criterion)
        assert "python -m labkit.studies." in md and "## Proxy headroom" in md


def test_the_report_command_rewrites_every_report_and_refuses_a_missing_folder(tmp_path):
    for csv in RESULTS.glob("*.csv"):
        shutil.copy(csv, tmp_path / csv.name)
    written = write_reports(tmp_path)
    assert sorted(p.name for p in written) == sorted(f"{n}.md" for n in METHOD_STUDIES.values())
    run = subprocess.run([sys.executable, "-m", "labkit.studies.report", str(tmp_path / "nowhere")],
                         capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1 and "no results folder" in run.stderr
