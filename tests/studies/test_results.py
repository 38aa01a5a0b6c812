"""Result tables keep their provenance (title, command, settings, versions in the header)."""
from pathlib import Path

import pandas as pd
import pytest

from labkit.studies._results import read_table, write_table


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


def test_git_commit_is_unknown_outside_a_git_checkout(monkeypatch):
    import subprocess

    from labkit.studies import _results

    def no_git(*a, **k):
        raise FileNotFoundError("git")

    _results.git_commit.cache_clear()
    monkeypatch.setattr(subprocess, "run", no_git)
    try:
        assert _results.git_commit() == "unknown"
    finally:
        _results.git_commit.cache_clear()
    failing = lambda *a, **k: subprocess.CompletedProcess(a, 128, "", "not a git repository")  # noqa: E731
    monkeypatch.setattr(subprocess, "run", failing)
    try:
        assert _results.git_commit() == "unknown"
    finally:
        _results.git_commit.cache_clear()
