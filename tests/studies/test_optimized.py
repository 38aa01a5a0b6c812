"""Method 3 study: calibration split, a tiny end-to-end table, and the §3.3 verdict rules."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from labkit.data import Split
from labkit.studies import optimized as O


def test_calibration_split_is_seeded_and_inside_train() -> None:
    train = Split.from_tensors(torch.arange(50.0).view(50, 1), torch.arange(50) % 2)
    a, b = O.calibration_split(train, 20, 1), O.calibration_split(train, 20, 1)
    xa = a.tensors()[0].reshape(-1)
    assert len(a) == 20 and torch.equal(xa, b.tensors()[0].reshape(-1)) and len(set(xa.tolist())) == 20
    with pytest.raises(ValueError, match="training split"):
        O.calibration_split(train, 60, 0)


def test_tiny_study_table() -> None:
    s = O.OptimizedSettings(model="tiny_cnn", sparsities=(0.9,), variants=("magnitude", "random", "ga", "bn_recal",
                                                                         "sgd_cal"),
                            seeds=(0,), dense_epochs=1, finetune_epochs=1, population=4, generations=2, elite=2,
                            calibration=60, cal_steps=2, test_per_class=20)
    keep: dict = {}
    df = O.run_study(s, progress=False, keep=keep)
    assert list(df.columns) == ["seed", "sparsity", "variant", "phase", "accuracy", "dense_accuracy", "cal_loss",
                                "magnitude_cal_loss", "kept", "rescued", "prunable", "seconds", "n_test"]
    assert len(df) == 3 * 2 + 2 and set(df["phase"]) == {"one-shot", "fine-tuned"}   # matched: one-shot only
    assert set(df[df["variant"].isin(O.MATCHED)]["phase"]) == {"one-shot"} and df["n_test"].eq(200).all()
    assert np.isfinite(df.select_dtypes("number").to_numpy(float)).all()
    assert df["kept"].nunique() == 1, "every variant keeps the same number of weights"
    assert (df.loc[df["variant"] == "magnitude", "rescued"] == df.loc[df["variant"] == "ga", "rescued"].iloc[0]).all()
    ga = df[df["variant"] == "ga"].iloc[0]
    assert ga["cal_loss"] <= ga["magnitude_cal_loss"] + 1e-7
    assert set(keep) == {(0, 0.9, v) for v in s.variants}
    with pytest.raises(KeyError):
        O.run_study(O.OptimizedSettings(variants=("bpso",)), progress=False)


def fabricated(ga_gain: list[float], cal_ok: bool = True) -> pd.DataFrame:
    rows = []
    for seed, gain in enumerate(ga_gain):
        for s in (0.8, 0.9):
            for v, acc in (("magnitude", 0.70), ("random", 0.60), ("wanda", 0.72), ("ga", 0.70 + gain),
                           ("bn_recal", 0.75)):
                for phase in ("one-shot", "fine-tuned"):
                    rows.append(dict(seed=seed, sparsity=s, variant=v, phase=phase, accuracy=acc, dense_accuracy=0.8,
                                     cal_loss=1.0 if (v != "ga" or cal_ok) else 1.2, magnitude_cal_loss=1.0))
    return pd.DataFrame(rows)


def test_verdict_rules() -> None:
    t = O.verdict(fabricated([0.02, 0.03, 0.01])).set_index("criterion")
    v = t["verdict"]
    assert v["GA beats magnitude, s=0.8"] == "PASS" and v["GA beats random, s=0.9"] == "PASS"
    assert v["GA beats BN recalibration, s=0.8"] == "FAIL"            # the matched baseline is better here
    assert v["GA beats SGD on D_cal, s=0.8"] == "n/a"                 # not run
    assert v["GA vs wanda, s=0.8"] == "INFO" and v["GA vs taylor, s=0.8"] == "n/a"
    assert t.loc["GA search", ["kind", "verdict"]].tolist() == ["check", "PASS"]   # true by construction
    assert t.loc["proxy headroom", "measured"] == "dense test accuracy 0.800, 300 test items, 0.33 pt per item"
    v = O.verdict(fabricated([0.05, 0.05, -0.001], cal_ok=False)).set_index("criterion")["verdict"]
    assert v["GA beats magnitude, s=0.8"] == "FAIL"   # one seed below, interval crosses zero
    assert v["GA search"] == "FAIL"
    v = O.verdict(fabricated([0.05, 0.05])).set_index("criterion")["verdict"]
    assert v["GA beats magnitude, s=0.9"] == "FAIL", "fewer than 3 seeds cannot pass"


def test_the_same_study_runs_on_cifar10_files(tmp_path):
    """--cifar10 ROOT: ResNet-20 on 3x32x32 CIFAR-10 files through the real loader, one tiny seed."""
    from labkit.data.fabricate import fabricate_cifar10
    from labkit.studies._cli import StudyParser, add_study_flags, settings_from_args
    from labkit.studies.optimized import COMMAND

    fabricate_cifar10(tmp_path, train_per_class=4, test_per_class=12)
    ap = StudyParser()
    add_study_flags(COMMAND, ap)
    s = settings_from_args(COMMAND, ap.parse_args(["--cifar10", str(tmp_path), "--out", "x.csv"]))
    assert (s.dataset, s.model, dict(s.dataset_options)["root"]) == ("cifar10", "resnet20", str(tmp_path))
    tiny = O.OptimizedSettings.cifar10(root=str(tmp_path), seeds=(0,), sparsities=(0.8,),
                                     variants=("magnitude", "ga", "bn_recal"), dense_epochs=1, finetune_epochs=1,
                                     population=4, generations=2, elite=1, calibration=8, device="cpu")
    df = O.run_study(tiny)
    assert set(df["variant"]) == {"magnitude", "ga", "bn_recal"} and (df["n_test"] == 20).all()
    assert df["accuracy"].between(0, 1).all() and (df["kept"] > 0).all()
