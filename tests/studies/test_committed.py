"""Committed runs: read one or rerun the study (load_or_run); every method's verdict from the committed CSVs."""
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from labkit.studies import METHOD_STUDIES, committed_verdicts, load_or_run, transfer
from labkit.studies._results import read_table, write_table

RESULTS = Path(__file__).resolve().parents[2] / "notebooks" / "studies" / "results"


def test_load_or_run_reads_the_committed_table_or_runs_the_study(tmp_path):
    got = load_or_run(transfer, None, RESULTS / "transfer.csv", rerun=False)
    assert got is not None and got.path == RESULTS / "transfer.csv" and len(got.table) > 100
    assert got.command.startswith("python -m labkit.studies.transfer run")
    assert got.source == f"committed run: `{got.command}`"
    assert load_or_run(transfer, None, tmp_path / "none.csv", rerun=False) is None  # nothing committed: say so
    calls = []

    def run_study(settings, **kw):
        calls.append((settings, kw))
        return pd.DataFrame({"x": [1]}).assign(**{"from": "run"})

    fake = SimpleNamespace(run_study=run_study, read_results=read_table)
    ran = load_or_run(fake, "SETTINGS", RESULTS / "transfer.csv", rerun=True, keep={})
    assert calls == [("SETTINGS", {"keep": {}})] and ran.path is None and ran.source == "this run" and ran.command == ""
    write_table(pd.DataFrame({"x": [2]}), tmp_path / "c.csv", "python -m s --out c.csv", "t")
    assert load_or_run(fake, "S", tmp_path / "c.csv", rerun=False).table["x"].tolist() == [2] and len(calls) == 1


def test_no_committed_tables_names_how_to_make_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="no study results"):
        committed_verdicts(tmp_path)


def test_committed_verdicts_cover_every_method_with_pass_or_fail():
    v = committed_verdicts(RESULTS)
    assert list(v.columns) == ["method", "kind", "criterion", "claim", "measured", "verdict"]
    assert set(v["kind"]) == {"claim", "check"}
    assert (v[v["criterion"] == "proxy headroom"]["kind"] == "check").sum() == len(METHOD_STUDIES)
    assert list(dict.fromkeys(v["method"])) == list(METHOD_STUDIES)
    decided = v[v["verdict"].isin(["PASS", "FAIL"])]
    assert set(decided["method"]) == set(METHOD_STUDIES)  # every method has at least one checked claim
    # the committed tables were full runs (>= 3 seeds), not smoke runs
    for name in METHOD_STUDIES.values():
        assert "--smoke" not in read_table(RESULTS / f"{name}.csv").attrs["command"]


def test_the_readme_verdict_table_is_recomputed_from_the_committed_csvs():
    from labkit.studies import verdict_markdown
    from labkit.studies._committed import README_BEGIN, README_END

    readme = (RESULTS.parents[2] / "README.md").read_text(encoding="utf-8")
    assert README_BEGIN in readme and README_END in readme
    shown = readme.split(README_BEGIN, 1)[1].split(README_END, 1)[0].strip()
    assert shown == verdict_markdown(committed_verdicts(RESULTS)), \
        "README verdict table is stale: regenerate it with labkit.studies.verdict_markdown(committed_verdicts(...))"


def test_format_1_tables_still_load_and_format_2_headers_carry_provenance(tmp_path):
    old = read_table(RESULTS / "optimized_pso.csv")  # an option run made before issue 17
    assert old.attrs["format"] == 1 and "git commit" not in old.attrs and len(old) > 10
    df = pd.DataFrame({"x": [1]})
    df.attrs["wall time s"] = 12.34
    back = read_table(write_table(df, tmp_path / "n.csv", "python -m s --out n.csv", "t"))
    assert back.attrs["format"] == 2 and back.attrs["wall time s"] == 12.3 and back.attrs["torch threads"] >= 1
    commit = back.attrs["git commit"]
    assert commit == "unknown" or len(commit.split("+")[0]) == 40
