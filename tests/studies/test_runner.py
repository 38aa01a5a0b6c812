"""The study runner in this process: streaming, resume, retry and report, bad command-line input."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch

from labkit.studies import csasml
from labkit.studies._results import read_table
from labkit.studies._ray import Cluster
from labkit.studies._runner import Study, run_units, settings_hash, unit_id

REPO = Path(__file__).resolve().parents[2]


def _toy(settings: dict, unit: dict) -> list[dict]:
    return [{"seed": unit["seed"], "part": i, "x": unit["seed"] * settings["k"] + i} for i in range(2)]


TOY = Study("toy", units=lambda s: [{"seed": i} for i in s["seeds"]], run=_toy, axes=("seeds",), settings_dict=dict)


@pytest.fixture
def one_thread():
    """Same torch threads for every run compared here (float sums differ with the thread count)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_rows_stream_with_one_header_and_a_rerun_resumes(tmp_path: Path) -> None:
    out = tmp_path / "toy.csv"
    seen: list[int] = []

    def write(df: pd.DataFrame) -> None:  # called after every unit: the file grows unit by unit
        from labkit.studies._results import write_table

        write_table(df, out, "cmd", "toy")
        seen.append(len(read_table(out)))

    res = run_units(TOY, {"seeds": [0, 1, 2], "k": 10}, out=out, write=write, progress=False)
    assert seen == [2, 4, 6] and res.ran == 3 and res.skipped == 0
    text = out.read_text()
    assert text.count("# command:") == 1 and text.count("seed,part,x,unit,settings_hash") == 1
    back = read_table(out)
    assert back["x"].tolist() == [0, 1, 10, 11, 20, 21]
    assert set(back["settings_hash"]) == {settings_hash({"seeds": [0], "k": 10}, TOY)}  # the seeds are not hashed
    assert back["unit"].iloc[2] == unit_id({"seed": 1})

    more = run_units(TOY, {"seeds": [0, 1, 2, 3], "k": 10}, out=out, progress=False)
    assert (more.ran, more.skipped) == (1, 3)
    assert read_table(out)["x"].tolist() == [0, 1, 10, 11, 20, 21, 30, 31]


def test_other_settings_are_refused_unless_fresh(tmp_path: Path) -> None:
    out = tmp_path / "toy.csv"
    run_units(TOY, {"seeds": [0, 1], "k": 10}, out=out, progress=False)
    with pytest.raises(ValueError, match="other settings.*--fresh"):
        run_units(TOY, {"seeds": [0, 1], "k": 11}, out=out, progress=False)
    res = run_units(TOY, {"seeds": [0, 1], "k": 11}, out=out, fresh=True, progress=False)
    assert res.ran == 2 and read_table(out)["x"].tolist() == [0, 1, 11, 12]


def test_a_failing_unit_is_retried_once_then_reported_and_the_others_land(tmp_path: Path) -> None:
    calls: list[int] = []

    def run(settings: dict, unit: dict) -> list[dict]:
        calls.append(unit["seed"])
        if unit["seed"] == 1:
            raise RuntimeError("out of memory on purpose\nsecond line")
        if unit["seed"] == 2 and calls.count(2) == 1:
            raise OSError("flaky once")
        return _toy(settings, unit)

    study = replace(TOY, run=run)
    out = tmp_path / "toy.csv"
    res = run_units(study, {"seeds": [0, 1, 2], "k": 10}, out=out, progress=False)
    assert calls == [0, 1, 1, 2, 2]  # seed 1 twice (then reported), seed 2 passes on its retry
    assert [(f.unit, f.error) for f in res.failures] == [({"seed": 1}, "RuntimeError: out of memory on purpose")]
    assert read_table(out)["seed"].tolist() == [0, 0, 2, 2]
    fixed = run_units(TOY, {"seeds": [0, 1, 2], "k": 10}, out=out, progress=False)  # a rerun retries just seed 1
    assert (fixed.ran, fixed.skipped) == (1, 2) and read_table(out)["seed"].tolist() == [0, 0, 1, 1, 2, 2]


def test_run_study_equals_the_runner_unit_by_unit(one_thread) -> None:
    s = replace(csasml.CSASMLSettings.smoke(), runs=("resnet20", "baseline"), seeds=(1,))
    a = csasml.run_study(s).drop(columns="train_seconds")
    b = run_units(csasml.STUDY, s, progress=False).table.drop(columns=["train_seconds", "unit", "settings_hash"])
    pd.testing.assert_frame_equal(a, b)


ARGS = ["--smoke", "--runs", "resnet20", "--threads", "1"]


def _table(path: Path) -> pd.DataFrame:
    return csasml.read_results(path).drop(columns=["train_seconds"])


@pytest.mark.slow
def test_a_killed_driver_keeps_finished_units_and_the_rerun_completes_them(tmp_path: Path, one_thread) -> None:
    out, ref = tmp_path / "killed.csv", tmp_path / "whole.csv"
    seeds = ["--seeds", "0", "1", "2", "3"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "labkit.studies.csasml", *ARGS, *seeds, "--out", str(out)],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (out.exists() and len(read_table(out)) >= 1):
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    kept = read_table(out)
    assert 1 <= len(kept) < 4, "the driver should die mid-run, after its first unit landed"
    csasml.main([*ARGS, *seeds, "--out", str(out)])        # resumes: only the missing seeds run
    csasml.main([*ARGS, *seeds, "--out", str(ref)])        # the uninterrupted run
    done = _table(out)
    assert done["seed"].tolist() == [0, 1, 2, 3]
    pd.testing.assert_frame_equal(done, _table(ref))
    pd.testing.assert_frame_equal(done.iloc[:len(kept)], kept.drop(columns="train_seconds"))  # kept, not re-run


@pytest.mark.parametrize("flags, needle", [
    (["--address", "ray://127.0.0.1:9"], "ray://127.0.0.1:9.*ray start --head"),
    (["--address", "nohost"], "not auto, HOST:PORT"),
    (["--ray", "--cpus-per-task", "0"], "--cpus-per-task must be > 0"),
])
def test_bad_cluster_input_is_one_line_and_exit_2(tmp_path: Path, capsys, flags: list[str], needle: str) -> None:
    import re

    t0 = time.perf_counter()
    with pytest.raises(SystemExit) as e:
        csasml.main([*ARGS, "--seeds", "0", "--out", str(tmp_path / "x.csv"), *flags])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and time.perf_counter() - t0 < 10
    assert len(err.splitlines()) == 1 and "Traceback" not in err and err.startswith("labkit.studies.csasml: error:")
    assert re.search(needle, err), err
    assert not (tmp_path / "x.csv").exists()


def test_resuming_a_table_of_other_settings_is_a_clean_cli_error(tmp_path: Path, capsys, one_thread) -> None:
    out = tmp_path / "c.csv"
    run_units(TOY, {"seeds": [0], "k": 1}, out=out, progress=False)
    with pytest.raises(SystemExit) as e:
        csasml.main([*ARGS, "--seeds", "0", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and "other settings" in err and len(err.splitlines()) == 1


def test_the_cluster_is_off_without_flags() -> None:
    assert not Cluster().enabled and Cluster(address="auto").enabled and Cluster(ray=True).enabled
    with pytest.raises(ValueError, match="gpus-per-task"):
        Cluster(gpus_per_task=-1)


def test_labkit_report_with_an_unreachable_address_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    from labkit.cli import main as labkit

    t0 = time.perf_counter()
    assert labkit(["report", "--address", "10.0.0.1:notaport", "--out", str(tmp_path / "r.html")]) == 2
    assert labkit(["report", "--address", "ray://127.0.0.1:9", "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert time.perf_counter() - t0 < 10 and len(err) == 2 and "Traceback" not in "".join(err)
    assert "not auto, HOST:PORT" in err[0] and "ray://127.0.0.1:9" in err[1] and "ray start --head" in err[1]
    assert not (tmp_path / "r.html").exists()
