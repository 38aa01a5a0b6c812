"""Result tables keep their provenance; the committed verdicts are recomputed from the committed CSVs."""
from pathlib import Path

import pandas as pd
import pytest

from labkit.studies import METHOD_STUDIES, committed_verdicts
from labkit.studies._results import read_table, write_table

RESULTS = Path(__file__).resolve().parents[2] / "notebooks" / "studies" / "results"


def test_table_round_trip_keeps_command_settings_and_versions(tmp_path):
    df = pd.DataFrame({"run": ["a", "b"], "acc": [0.5, 0.25]})
    df.attrs["settings"] = {"seeds": [0, 1], "root": Path("/data")}
    p = write_table(df, tmp_path / "sub" / "r.csv", "python -m labkit.studies.x --out r.csv", "demo study")
    back = read_table(p)
    assert back.attrs["command"] == "python -m labkit.studies.x --out r.csv"
    assert back.attrs["settings"] == {"seeds": [0, 1], "root": "/data"} and "torch" in back.attrs["versions"]
    pd.testing.assert_frame_equal(back, df, check_like=True)
    assert p.read_text().startswith("# demo study\n") and (p.stat().st_mode & 0o777) == 0o644
    assert [f.name for f in p.parent.iterdir()] == ["r.csv"]  # no temp file left behind


def test_missing_table_names_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the study"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(FileNotFoundError, match="no study results"):
        committed_verdicts(tmp_path)


def test_committed_verdicts_cover_every_method_with_pass_or_fail():
    v = committed_verdicts(RESULTS)
    assert list(v.columns) == ["method", "criterion", "claim", "measured", "verdict"]
    assert list(dict.fromkeys(v["method"])) == list(METHOD_STUDIES)
    decided = v[v["verdict"].isin(["PASS", "FAIL"])]
    assert set(decided["method"]) == set(METHOD_STUDIES)  # every method has at least one checked claim
    # the committed tables were full runs (>= 3 seeds), not smoke runs
    for name in METHOD_STUDIES.values():
        assert "--smoke" not in read_table(RESULTS / f"{name}.csv").attrs["command"]
