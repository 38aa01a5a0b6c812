"""The §2.5 study: a tiny real run gives a complete, finite table; the verdict follows docs/methods.md §0.1."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

import labkit.studies.csasml as study_io

from labkit.analysis.attention import attention_sample
from labkit.analysis.breakdown import analytic_macs, cost_breakdown, counted_macs
from labkit.studies._verdict import COLUMNS as VERDICT_COLUMNS
from labkit.studies.csasml import RUNS, CSASMLSettings, build_run, run_study, verdict

COLUMNS = ["run", "seed", "what", "options", "params", "macs_analytic", "macs_counted", "test_acc",
           "test_balanced", "train_seconds", "epochs"]


def test_smoke_run_returns_the_table():
    s = CSASMLSettings(runs=("baseline", "csasml_lite"), seeds=(0, 1), epochs=1, train_fraction=0.05,
                       batch_size=32, device="cpu", image_size=16, test_per_class=20)
    models: dict = {}
    df = run_study(s, models=models)
    assert list(df.columns) == COLUMNS + ["n_test"] and len(df) == 4 and df["n_test"].eq(200).all()
    assert np.isfinite(df[["params", "macs_analytic", "macs_counted", "test_acc"]].to_numpy(float)).all()
    assert (df["macs_analytic"] == df["macs_counted"]).all()
    assert df["test_acc"].between(0, 1).all() and df.attrs["settings"]["epochs"] == 1
    v = verdict(df)
    assert list(v.columns) == VERDICT_COLUMNS
    assert v.set_index("criterion").loc["lite MACs", ["kind", "verdict"]].tolist() == ["check", "PASS"]
    assert v.set_index("criterion").loc["stage-3 tokens", "verdict"] == "FAIL"  # 16x16: a 4x4 stage-3 map
    assert v.set_index("criterion").loc["local branch", "verdict"] == "n/a"  # no_le was not run
    sample = attention_sample(models[("csasml_lite", 0)], torch.rand(1, 16, 16))
    assert sample.weights.shape == (6, 16, 5) and sample.scales == (1, 2)
    np.testing.assert_allclose(sample.weights.sum(-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("run", list(RUNS))
def test_every_run_builds_and_its_macs_formulas_agree(run):
    net = build_run(run)
    assert net(torch.zeros(2, 1, 16, 16)).shape == (2, 10)
    assert analytic_macs(net, (1, 16, 16)) == counted_macs(net, (1, 16, 16))
    bd = cost_breakdown(net, (1, 16, 16))
    assert bd["params"].sum() == sum(p.numel() for p in net.parameters())


def test_single_scale_uses_the_largest_default_scale():
    assert build_run("single_scale", CSASMLSettings.v1()).layer3[1].attn.scales == (2,)  # 16x16 -> 4x4 map
    assert build_run("single_scale").layer3[1].attn.scales == (4,)   # the v2 default: 32x32 -> 8x8 map


def _table(acc: dict[str, list[float]], macs: dict[str, int]) -> pd.DataFrame:
    rows = [{"run": r, "seed": s, "test_acc": a, "macs_counted": macs[r], "macs_analytic": macs[r]}
            for r, accs in acc.items() for s, a in enumerate(accs)]
    return pd.DataFrame(rows)


def test_verdict_computes_each_criterion_as_measured():
    acc = {"baseline": [0.90, 0.91, 0.92], "csasml_lite": [0.899, 0.905, 0.921],  # -0.1, -0.5, +0.1 pt
           "no_le": [0.88, 0.90, 0.91], "single_scale": [0.91, 0.90, 0.93],
           "full_mhsa": [0.9, 0.9, 0.9], "resnet20": [0.95, 0.95, 0.95], "resnet20_smm": [0.948, 0.94, 0.952]}
    macs = {"baseline": 100, "csasml_lite": 70, "no_le": 69, "single_scale": 68, "full_mhsa": 80,
            "resnet20": 50, "resnet20_smm": 20}
    v = verdict(_table(acc, macs)).set_index("criterion")["verdict"]
    assert v["lite MACs"] == "PASS"                    # 0.70 <= 0.75
    assert v["lite accuracy"] == "FAIL"                # x = d + 0.3 = [0.2, -0.2, 0.4]: mean 0.13 < std 0.31
    assert v["local branch"] == "PASS"                 # +1.9, +0.5, +1.1: positive every seed
    assert v["multi-scale pooling"] == "FAIL"          # -1.1, +0.5, -0.9
    assert v["plug-in"] == "FAIL"                      # -0.2, -1.0, +0.2: x = [0.3, -0.5, 0.7], mean < std
    assert v["full MHSA ablation"] == "INFO" and v["CIFAR-100 +1.8%"] == "n/a"
    assert v["MACs formulas"] == "PASS"
    lite = verdict(_table(acc, macs)).set_index("criterion").loc["lite accuracy"]
    assert lite["diffs_pt"] == "-0.10, -0.50, +0.10" and lite["threshold"] == -0.3 and lite["n_pairs"] == 3
    macs["csasml_lite"] = 76
    assert verdict(_table(acc, macs)).set_index("criterion").loc["lite MACs", "verdict"] == "FAIL"
    macs["resnet20_smm"] = 50                          # no MACs saved: plug-in fails even if accurate
    acc["resnet20_smm"] = [0.96, 0.96, 0.96]
    assert verdict(_table(acc, macs)).set_index("criterion").loc["plug-in", "verdict"] == "FAIL"


def test_verdict_rejects_foreign_tables():
    with pytest.raises(ValueError, match="run_study"):
        verdict(pd.DataFrame({"run": ["a"], "acc": [0.5]}))


def test_results_round_trip_with_their_command(tmp_path):
    df = _table({"baseline": [0.9, 0.8], "csasml_lite": [0.85, 0.8]}, {"baseline": 10, "csasml_lite": 5})
    df.attrs["settings"] = {"epochs": 3}
    path = study_io.write_results(df, tmp_path / "r.csv", "python -m labkit.studies.csasml --out r.csv")
    back = study_io.read_results(path)
    pd.testing.assert_frame_equal(back, df)
    assert back.attrs["command"].endswith("--out r.csv") and back.attrs["settings"] == {"epochs": 3}
    assert not list(tmp_path.glob(".*.tmp"))  # no temp file left behind


def test_the_same_study_runs_on_cifar100_files(tmp_path, fake_cifar100):
    """The thesis's CIFAR-100 path: 32x32 RGB, 100 classes, the loader's crop-and-flip augmentation."""
    fake_cifar100(train_per_class=2, test_per_class=2)
    s = CSASMLSettings.cifar100(root=str(tmp_path), runs=("baseline", "csasml_lite"), seeds=(0,), epochs=1,
                                batch_size=64, device="cpu",
                                dataset_options=(("augment", True), ("root", str(tmp_path)), ("val_per_class", 1)))
    df = run_study(s)
    assert list(df["run"]) == ["baseline", "csasml_lite"]
    assert (df["macs_analytic"] == df["macs_counted"]).all()
    assert df.loc[1, "macs_counted"] < 0.75 * df.loc[0, "macs_counted"]  # the MACs claim at 32x32 too
    assert df[["test_acc", "test_balanced"]].apply(lambda c: c.between(0, 1)).all().all()
    with pytest.raises(ValueError, match="image_size"):
        replace(s, image_size=16).load_data(0)
