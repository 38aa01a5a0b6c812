"""One command line for every study: flags, the output checked before any work, clean errors, `labkit study`."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import pytest

from labkit.studies import csasml, dominos, longtail, optimized, transfer
from labkit.studies._cli import add_study_flags, check_output, settings_from_args
from labkit.studies._results import read_table


def test_check_output_wants_a_csv_in_a_writable_folder(tmp_path: Path) -> None:
    assert check_output(tmp_path / "new" / "deeper" / "r.csv") == tmp_path / "new" / "deeper" / "r.csv"
    with pytest.raises(ValueError, match=r"must be a \.csv"):
        check_output(tmp_path / "r.txt")
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(ValueError, match="not a file"):
        check_output(tmp_path / "d.csv")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a writable folder"):
        check_output(tmp_path / "file" / "r.csv")


def test_flags_become_settings(tmp_path: Path) -> None:
    ap = argparse.ArgumentParser()
    add_study_flags(longtail.COMMAND, ap)
    args = ap.parse_args(["--smoke", "--seeds", "4", "5", "--trainers", "ce", "ldam_drw", "--e-ft", "3",
                          "--start", "soup", "--out", "x.csv"])
    s = settings_from_args(longtail.COMMAND, args)
    assert (s.seeds, s.trainers, s.e_ft, s.start) == ((4, 5), ("ce", "ldam_drw"), 3, "soup")
    assert s.e0 == longtail.LongTailSettings.smoke().e0  # everything else is the smoke run
    preset = settings_from_args(longtail.COMMAND, ap.parse_args(["--cifar100-lt", "/data", "--out", "x.csv"]))
    assert preset.dataset == "cifar100-lt" and dict(preset.dataset_options)["root"] == "/data"


@pytest.mark.parametrize("study, argv, needle", [
    (csasml, ["--smoke", "--out", "r.txt"], r"--out must be a \.csv"),
    (csasml, ["--smoke", "--cifar100", "/data", "--out", "r.csv"], "--smoke and --cifar100 exclude each other"),
    (longtail, ["--smoke", "--trainers", "ce", "ldam_drww", "--out", "r.csv"], "ldam_drw"),
    (optimized, ["--smoke", "--out", "file/r.csv"], "not a writable folder"),
    (transfer, ["run", "--smoke", "--out", "r.parquet"], r"--out must be a \.csv"),
    # a preset's data folder is checked before any unit (not in every unit, twice, after Ray started)
    (dominos, ["--cifar10", "nowhere", "--out", "r.csv"], r"cifar-10-batches-py.*Missing: data_batch_1"),
    (optimized, ["--cifar10", "file", "--out", "r.csv"], r"cifar10: dataset not found"),
    (longtail, ["--cifar100-lt", "nowhere", "--out", "r.csv"], r"cifar-100-python.*download"),
    (csasml, ["--cifar100", "nowhere", "--ray", "--out", "r.csv"], r"cifar100: dataset not found"),
])
def test_bad_input_is_one_line_exit_2_before_any_work(study, argv, needle, tmp_path: Path, capsys,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("not a folder")
    t0 = time.perf_counter()
    with pytest.raises(SystemExit) as e:
        study.main(argv)
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and time.perf_counter() - t0 < 5  # nothing was trained
    assert len(err.splitlines()) == 1 and "Traceback" not in err and err.startswith(f"{study.__name__}: error:")
    assert re.search(needle, err), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # nothing written


def test_labkit_study_runs_a_study_with_its_own_command(tmp_path: Path, capsys) -> None:
    from labkit.cli import main as labkit

    out = tmp_path / "o.csv"
    argv = ["--smoke", "--seeds", "0", "--variants", "magnitude", "--sparsities", "0.9", "--threads", "1",
            "--out", str(out)]
    assert labkit(["study", "optimized", *argv]) == 0
    table = read_table(out)
    assert table.attrs["command"] == f"python -m labkit.studies.optimized {' '.join(argv)}"
    assert set(table["variant"]) == {"magnitude"} and len(table) == 2
    assert "GA beats magnitude" in capsys.readouterr().out  # the verdict is printed
    assert labkit(["study", "optimized", "--smoke", "--out", str(tmp_path / "x.txt")]) == 2
