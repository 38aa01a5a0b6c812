"""The §5.7 study: a tiny real run gives a complete table whose verdict follows docs/methods.md §0.1 and §5.7."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labkit.errors import OptionError

from labkit.studies.dominos import (RUNS, DominosSettings, importance_frame, read_results, rescore, run_study, stage_summary,
                                    verdict, write_results)

COLUMNS = ["seed", "run", "target", "what", "structure", "macs", "params", "reduction", "removed_blocks",
           "n_removed", "shape_ok", "acc_pruned", "acc_ft", "acc_se", "acc_extra", "se_params", "se_macs",
           "influence_seconds", "weibull_fits", "weibull_r2_defined", "weibull_r2_ge_09", "seconds", "n_test"]


@pytest.fixture(scope="module")
def tiny():
    s = DominosSettings(seeds=(0,), runs=("l1", "rd_c2b"), targets=(0.6,), epochs=1, finetune_epochs=1,
                        attention_epochs=1, train_fraction=0.05, calib_items=32, calib_items_d=8, image_size=8,
                        device="cpu")
    arts: dict = {}
    return run_study(s, artifacts=arts), arts


def test_tiny_run_returns_the_table(tiny, tmp_path):
    df, arts = tiny
    assert list(df.columns) == COLUMNS and list(df["run"]) == ["dense", "l1", "rd_c2b"] and df["n_test"].eq(600).all()
    pruned = df[df["run"] != "dense"]
    assert (pruned["reduction"] >= 0.6).all() and pruned["shape_ok"].all()
    assert (pruned["macs"] < 0.41 * df.loc[0, "macs"]).all()          # counted MACs of the slimmed nets
    assert df[["acc_ft", "macs", "params"]].notna().all().all() and df["acc_ft"].between(0, 1).all()
    se = df.set_index("run").loc["rd_c2b"]
    assert 0 <= se.acc_se <= 1 and 0 <= se.acc_extra <= 1 and se.se_params > 0
    assert np.isnan(df.set_index("run").loc["l1", "acc_se"])            # SE only on attention_runs
    dense = df.set_index("run").loc["dense"]
    assert dense.weibull_fits == 6 * (16 + 32 + 64) == sum(len(v) for v in arts[0].scores["I"].values())
    v = verdict(df).set_index("criterion")
    assert v.loc["blocks removed at -60%", "verdict"] == ("PASS" if se.n_removed >= 1 else "FAIL")
    assert v.loc["ablation: rd_c2b vs random at -60%", "verdict"] == "n/a"  # random was not run
    frame = importance_frame(arts[0].scores, arts[0].plans[("rd_c2b", 0.6)])
    assert {"R", "D_hat", "I", "kept"} <= set(frame.columns) and frame["D_hat"].max() == pytest.approx(1.0)
    summ = stage_summary(df)
    assert list(summ["stage"]) == ["dense", "pruned", "fine-tuned", "+ extra epochs", "+ SE"]
    path = write_results(df, tmp_path / "r.csv", "python -m labkit.studies.dominos --out r.csv")
    back = read_results(path)
    assert back.attrs["command"].endswith("--out r.csv") and back.attrs["settings"]["image_size"] == 8
    pd.testing.assert_frame_equal(verdict(back), verdict(df))


def _table(acc: dict[str, list[float]], se: list[float], extra: list[float], removed: list[int]) -> pd.DataFrame:
    rows = []
    for seed in range(len(se)):
        rows.append({"seed": seed, "run": "dense", "target": 0.0, "acc_ft": 0.96, "acc_pruned": np.nan,
                     "acc_se": np.nan, "acc_extra": np.nan, "n_removed": 0, "shape_ok": True, "reduction": 0.0,
                     "weibull_fits": 100, "weibull_r2_defined": 50, "weibull_r2_ge_09": 41, "influence_seconds": 5.0})
        for t in (0.4, 0.6):
            for run, a in acc.items():
                rows.append({"seed": seed, "run": run, "target": t, "acc_ft": a[seed], "acc_pruned": a[seed] - 0.1,
                             "acc_se": se[seed] if run == "rd_c2b" else np.nan,
                             "acc_extra": extra[seed] if run == "rd_c2b" else np.nan,
                             "n_removed": removed[seed] if run == "rd_c2b" else 0, "shape_ok": True, "reduction": t,
                             "weibull_fits": np.nan, "weibull_r2_defined": np.nan, "weibull_r2_ge_09": np.nan,
                             "influence_seconds": np.nan})
    return pd.DataFrame(rows)


def test_verdict_applies_the_paired_rule_and_the_thresholds():
    df = _table({"l1": [0.90, 0.91, 0.92], "rd_c2b": [0.91, 0.91, 0.93]}, se=[0.95, 0.95, 0.95],
                extra=[0.947, 0.949, 0.95], removed=[1, 2, 1])
    v = verdict(df).set_index("criterion")
    assert v.loc["R·D+c2b beats L1 at -40%", "verdict"] == "FAIL"         # +1, 0, +1: a tie does not beat
    assert v.loc["R·D+c2b beats L1 at -40%", "diffs_pt"] == "+1.00, +0.00, +1.00"
    assert v.loc["R·D+c2b beats FPGM at -40%", "verdict"] == "n/a"        # not run
    assert v.loc["blocks removed at -60%", "kind"] == "check" and v.loc["proxy headroom", "kind"] == "check"
    assert v.loc["blocks removed at -60%", "verdict"] == "PASS"
    assert v.loc["SE vs extra epochs at -60%", "verdict"] == "FAIL"       # +0.3, +0.1, 0.0 vs the +0.2 bar
    assert v.loc["Weibull fits R² >= 0.9", "verdict"] == "PASS"           # 41/50 = 82%
    worse = _table({"l1": [0.92, 0.92, 0.92], "rd_c2b": [0.91, 0.93, 0.90]}, se=[0.95] * 3, extra=[0.94] * 3,
                   removed=[1, 0, 1])
    w = verdict(worse).set_index("criterion")
    assert w.loc["R·D+c2b beats L1 at -60%", "verdict"] == "FAIL"
    assert w.loc["blocks removed at -60%", "verdict"] == "FAIL"           # seed 1 removed none
    assert w.loc["SE vs extra epochs at -40%", "verdict"] == "PASS"       # +1 pt in every seed
    with pytest.raises(ValueError, match="columns"):
        verdict(pd.DataFrame({"seed": [0]}))


def test_settings_and_errors():
    assert set(DominosSettings().runs) == set(RUNS) and DominosSettings().targets == (0.4, 0.6, 0.7, 0.75)
    assert DominosSettings.smoke().seeds == (0,)
    with pytest.raises(KeyError, match="unknown"):
        run_study(DominosSettings(runs=("magnitude",)))
    with pytest.raises(ValueError, match="targets"):
        run_study(DominosSettings(targets=(40,)))


def test_rescore_reproduces_the_run_and_changes_with_its_options(tiny):
    _, arts = tiny
    art = arts[0]
    same, _ = rescore(art, alpha=0.5)
    for n in art.scores["I"]:
        np.testing.assert_allclose(same["I"][n].numpy(), art.scores["I"][n].numpy(), rtol=1e-6)

    r_only, _ = rescore(art, alpha=1.0)
    n = "layer1.0.conv1.weight"
    np.testing.assert_allclose(r_only["I"][n].numpy(), art.scores["R"][n].numpy(), rtol=1e-6)
    short, fits = rescore(art, horizon=2)
    assert fits[n].horizon == 2 and not np.allclose(short["D"][n].numpy(), art.scores["D"][n].numpy())
    with pytest.raises(ValueError, match="horizon"):
        rescore(art, horizon=0)


def test_an_unreachable_target_is_refused_before_any_unit_runs(tmp_path, capsys):
    """-80 % MACs is out of reach for the no-block-rule run (floor 0.2): exit 2 at once, nothing written."""
    from labkit.studies.dominos import check_settings, main

    check_settings(DominosSettings())  # the defaults are all reachable
    with pytest.raises(OptionError, match=r"80% .*rd_internal.*at most 76"):
        check_settings(DominosSettings(targets=(0.4, 0.8)))
    out = tmp_path / "d.csv"
    with pytest.raises(SystemExit) as e:
        main(["--smoke", "--targets", "0.8", "--out", str(out)])
    assert e.value.code == 2 and not out.exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot be run by" in err[0]


def test_the_same_study_runs_on_cifar10_files(tmp_path):
    """The benchmark path (ResNet-56 on CIFAR-10 via --cifar10 ROOT): 3x32x32 items, the real loader, one tiny seed."""
    from labkit.data.fabricate import fabricate_cifar10
    from labkit.errors import MismatchError
    from labkit.studies.dominos import COMMAND
    from labkit.studies._cli import StudyParser, add_study_flags, settings_from_args

    fabricate_cifar10(tmp_path, train_per_class=4, test_per_class=12)
    ap = StudyParser()
    add_study_flags(COMMAND, ap)
    s = settings_from_args(COMMAND, ap.parse_args(["--cifar10", str(tmp_path), "--out", "x.csv"]))
    assert (s.dataset, s.model, s.input_shape, dict(s.dataset_options)["root"]) == \
        ("cifar10", "resnet56", (3, 32, 32), str(tmp_path))
    tiny = DominosSettings.cifar10(root=str(tmp_path), model="resnet20", seeds=(0,), targets=(0.4,),
                                   runs=("l1", "rd_c2b"), epochs=1, finetune_epochs=1, attention_epochs=1,
                                   calib_items=8, calib_items_d=4, device="cpu")
    df = run_study(tiny)
    assert list(df["run"]) == ["dense", "l1", "rd_c2b"] and (df["n_test"] == 20).all()  # 12 - 10 val per class
    from labkit.models import load_model
    from labkit.pruning.blocks import layer_macs

    analytic = sum(layer_macs(load_model("resnet20", num_classes=10, in_channels=3), (3, 32, 32)).values())
    assert df.loc[0, "macs"] == analytic and df["shape_ok"].all()  # counted at 3x32x32, not the digits' 1x16x16
    with pytest.raises(MismatchError, match=r"\(3, 32, 32\)"):
        run_study(DominosSettings.cifar10(root=str(tmp_path), channels=1, seeds=(0,), epochs=0))
