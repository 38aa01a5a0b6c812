"""Studies and lab sweeps on a local Ray with 2 workers: the same rows as in this process."""
from __future__ import annotations

import os
import re
from dataclasses import replace
from functools import partial
from pathlib import Path

import pandas as pd
import pytest
import torch

ray = pytest.importorskip("ray", reason="Ray is the dist extra: pip install 'labkit[dist]'")

from labkit.studies import csasml  # noqa: E402
from labkit.studies._results import read_table  # noqa: E402
from labkit.studies._ray import Cluster, ClusterError, connect, sweep_on_ray  # noqa: E402
from labkit.studies._runner import Study, run_units  # noqa: E402

RAY = Cluster(ray=True, cpus_per_task=1)


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory: pytest.TempPathFactory):
    """``ray.init(num_cpus=2)`` once for the module (start-up costs seconds), shut down after it.

    Every Ray process imports ``ray``, which imports ``jsonschema``, which imports
    ``rfc3987_syntax`` if it is installed (a JupyterLab dependency): that one import builds a
    parser grammar and takes seconds of CPU, enough on a busy 2-core machine for the raylet to
    give up waiting for its agents. A stub that declines the import (jsonschema then only lacks
    its IRI format check) keeps the start-up within Ray's limits.
    """
    stub = tmp_path_factory.mktemp("raystub")
    (stub / "rfc3987_syntax.py").write_text("raise ImportError('not needed by the Ray test processes')\n")
    before = os.environ.get("PYTHONPATH")
    repo = str(Path(__file__).resolve().parents[2])
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(stub), repo, before) if p)
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning")
    yield ray
    ray.shutdown()
    if before is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = before


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # a Ray task with 1 CPU runs torch on 1 thread: compare like with like
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
def test_a_smoke_study_on_two_ray_workers_equals_the_serial_table(local_ray, one_thread, tmp_path: Path) -> None:
    s = replace(csasml.CSASMLSettings.smoke(), runs=("resnet20",), seeds=(0, 1))
    serial = run_units(csasml.STUDY, s, progress=False).table
    out = tmp_path / "ray.csv"
    on_ray = run_units(csasml.STUDY, s, cluster=RAY, out=out, progress=False,
                       write=lambda d: csasml.write_results(d, out, "test"))
    cols = ["train_seconds"]  # wall time is the only column allowed to differ
    pd.testing.assert_frame_equal(serial.drop(columns=cols), on_ray.table.drop(columns=cols))
    assert on_ray.ran == 2 and not on_ray.failures
    pd.testing.assert_frame_equal(csasml.read_results(out).drop(columns=cols), serial.drop(columns=cols))


def test_a_failing_unit_on_ray_is_retried_once_and_reported_while_the_others_land(local_ray, tmp_path: Path) -> None:
    log = tmp_path / "attempts.txt"

    def run(settings: dict, unit: dict) -> list[dict]:  # a closure: Ray ships it by value
        with open(log, "a") as fh:
            fh.write(f"{unit['seed']}\n")
        if unit["seed"] == 2:
            raise ValueError(f"bad seed {unit['seed']}")
        return [{"seed": unit["seed"], "sq": unit["seed"] ** 2}]

    study = Study("toy", units=lambda s: [{"seed": i} for i in s["seeds"]], run=run, settings_dict=dict)
    out = tmp_path / "toy.csv"
    res = run_units(study, {"seeds": [0, 1, 2, 3]}, cluster=RAY, out=out, progress=False)
    assert [(f.unit, f.error) for f in res.failures] == [({"seed": 2}, "ValueError: bad seed 2")]
    assert sorted(log.read_text().split()).count("2") == 2
    assert read_table(out)["seed"].tolist() == [0, 1, 3]


def test_gpus_no_node_has_are_refused_instead_of_waiting(local_ray, tmp_path: Path, capsys) -> None:
    with pytest.raises(ClusterError, match=r"no node of the Ray cluster has 1 CPU and 1 GPU.*2 CPU, 0 GPU"):
        connect(Cluster(ray=True, gpus_per_task=1))
    with pytest.raises(SystemExit) as e:
        csasml.main(["--smoke", "--seeds", "0", "--runs", "resnet20", "--out", str(tmp_path / "g.csv"),
                     "--ray", "--gpus-per-task", "1"])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and len(err.splitlines()) == 1 and re.search("--gpus-per-task", err)


@pytest.mark.slow
def test_a_lab_sweep_on_ray_actors_equals_the_in_process_sweep(local_ray) -> None:
    from labkit.lab import Lab
    from labkit.report import _measure, render_report

    make = partial(Lab, "resnet20", "digits-lt", preview=300)
    lab = make()
    here = lab.sweep([0.3, 0.6], "magnitude")
    there = sweep_on_ray(make, ["magnitude"], [0.3, 0.6], cluster=RAY, actors=2)
    pd.testing.assert_frame_equal(here, there)  # 2 points over 2 actors, each holding its Lab once
    mine = _measure(lab, ["magnitude"], [0.5], "global", "weight", progress=False)
    theirs = sweep_on_ray(make, ["magnitude"], [0.5], measure=partial(_measure, progress=False), cluster=RAY)
    assert [(p.criterion, p.target) for p in theirs] == [("magnitude", 0.5)]
    for a, b in zip(mine, theirs):
        assert all(torch.equal(a.trial.masks[k], b.trial.masks[k]) for k in a.trial.masks)
        pd.testing.assert_frame_equal(a.report.per_class, b.report.per_class)
    html = render_report(lab, sparsities=[0.5], baselines=(), verdicts=False, progress=False, points=theirs)
    assert "Pruning report" in html
