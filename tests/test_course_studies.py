"""labkit/course/studies.py: reading a committed run, the exact rerun command, the rerun itself."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from labkit.course import studies
from labkit.studies import longtail

REPO = Path(__file__).resolve().parents[1]


def test_committed_run_reads_command_threads_and_time() -> None:
    run = studies.committed_run(REPO / "notebooks/studies/results/longtail.csv", longtail)
    assert run is not None and run.threads == 1 and run.seconds == 503.5  # the header's wall time
    assert run.command.startswith("python -m labkit.studies.longtail") and len(run.table) > 10
    assert "1 thread, 8 min" in run.how
    assert studies.committed_run(REPO / "no/such.csv", longtail) is None


def test_rerun_command_keeps_every_argument_but_the_output() -> None:
    cmd = "python -m labkit.studies.dominos --threads 1 --out notebooks/studies/results/dominos.csv"
    assert studies.rerun_command(cmd, "/tmp/o.csv", python="P") == [
        "P", "-m", "labkit.studies.dominos", "--threads", "1", "--out", "/tmp/o.csv"]
    with pytest.raises(ValueError, match="no --out"):
        studies.rerun_command("python -m labkit.studies.dominos", "/tmp/o.csv")
    with pytest.raises(ValueError, match="not a 'python -m"):
        studies.rerun_command("make study", "/tmp/o.csv")


def test_rerun_runs_the_committed_command_in_a_subprocess(tmp_path: Path) -> None:
    (tmp_path / "fakestudy.py").write_text(textwrap.dedent("""
        import sys, time
        out = sys.argv[sys.argv.index("--out") + 1]
        time.sleep(1.2)
        open(out, "w").write("a,threads\\n1," + sys.argv[sys.argv.index("--threads") + 1] + "\\n")
    """))
    run = studies.CommittedRun(tmp_path / "results" / "fake.csv", pd.DataFrame(),
                               "python -m fakestudy --threads 3 --out results/fake.csv", 3, 10.0)
    ticks: list[tuple[float, float]] = []
    df = studies.rerun(run, pd.read_csv, cwd=tmp_path, python=sys.executable, tick=lambda e, x: ticks.append((e, x)))
    assert df.to_dict("records") == [{"a": 1, "threads": 3}]
    assert ticks and ticks[0][1] == 10.0
    assert not (tmp_path / "results" / "fake.csv").exists()  # the committed file is never written


def test_rerun_reports_a_failing_study(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("raise SystemExit('study broke on purpose')")
    run = studies.CommittedRun(tmp_path / "x.csv", pd.DataFrame(), "python -m broken --out x.csv", None, None)
    with pytest.raises(RuntimeError, match="study broke on purpose"):
        studies.rerun(run, pd.read_csv, cwd=tmp_path)


def test_verdict_board_counts_claims_and_wraps() -> None:
    pytest.importorskip("marimo")
    from marimo._output.formatting import try_format

    v = pd.DataFrame({"criterion": ["a", "b", "c"], "claim": ["x > y", "y > z", "(info)"],
                      "measured": ["+1 pt", "-2 pt", "0"], "verdict": ["PASS", "FAIL", "INFO"]})
    out = try_format(studies.verdict_board(v)).data
    assert "1 of 2 claims hold" in out and "table-layout:fixed" in out and "data-labkit-study-verdict" in out


def test_rerun_view_says_whether_the_rerun_reproduces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The study notebooks' rerun cell: a rerun that reproduces gets a success callout, one that differs a warning."""
    committed = pd.DataFrame({"method": ["m"], "criterion": ["c"], "claim": ["x"], "measured": ["+1.0"], "verdict": ["PASS"]})

    class FakeStudy:
        read_results = staticmethod(pd.read_csv)

        @staticmethod
        def verdict(table: pd.DataFrame) -> pd.DataFrame:
            return table

    run = studies.CommittedRun(tmp_path / "r.csv", committed, "python -m s --out r.csv", None, 5.0)
    for measured, kind in (("+1.0", "success"), ("+2.0", "warn")):
        monkeypatch.setattr(studies, "rerun", lambda *a, m=measured, **k: committed.assign(measured=[m]))
        html = studies.rerun_view(run, FakeStudy, cwd=tmp_path).text
        assert f'kind="{kind}"' in html or f"&quot;{kind}&quot;" in html or kind in html
        assert ("reproduces" in html) == (kind == "success")


def test_committed_view_shows_the_verdict_or_says_how_to_make_the_run(tmp_path: Path) -> None:
    run, view = studies.committed_view(REPO / "notebooks" / "studies", "longtail", longtail, rule="Pairs are seeds.")
    assert run is not None and run.threads == 1
    assert "Verdict of the committed run" in view.text and "Pairs are seeds." in view.text
    assert "notebooks/studies/results/longtail.csv" in view.text
    missing, hint = studies.committed_view(tmp_path, "longtail", longtail, rule="")
    assert missing is None and "python -m labkit.studies.longtail --out" in hint.text
