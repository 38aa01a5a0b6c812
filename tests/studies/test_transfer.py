"""Method 4 study: the criteria as the protocol uses them (hand-computed activation maps), per-layer vs
global selection with L2 normalisation and the floor, the protocol's table, the verdict rules."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from labkit.criteria import Scores
from labkit.data import LabData, Split
from labkit.models import load_model
from labkit.studies import transfer as T


def activation_net() -> nn.Sequential:
    """conv0 (1->1, identity) ReLU | conv1 (1->4, 1x1) ReLU | GAP | FC: conv1's maps are known by hand."""
    net = nn.Sequential(nn.Conv2d(1, 1, 1), nn.ReLU(), nn.Conv2d(1, 4, 1), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))
    with torch.no_grad():
        net[0].weight.fill_(1.0)
        net[0].bias.zero_()
        net[2].weight.copy_(torch.tensor([1.0, -1.0, 2.0, 0.5]).view(4, 1, 1, 1))
        net[2].bias.copy_(torch.tensor([0.0, 0.0, -1.0, 0.0]))
    return net


def split_of(x: torch.Tensor) -> Split:
    return Split.from_tensors(x, torch.zeros(len(x), dtype=torch.long))


# Two 2x2 images. After conv0+ReLU: image 1 -> [0, 0, 1, 2], image 2 -> [1, 1, 1, 1].
X = torch.tensor([[[[-1.0, 0.0], [1.0, 2.0]]], [[[1.0, 1.0], [1.0, 1.0]]]])
# conv1 + ReLU per filter (image 1 | image 2):
#   k0 = x        -> [0,0,1,2] | [1,1,1,1]     mean 7/8,   zeros 2/8
#   k1 = -x       -> all 0     | all 0         mean 0,     zeros 8/8
#   k2 = 2x - 1   -> [0,0,1,3] | [1,1,1,1]     mean 8/8,   zeros 2/8
#   k3 = x / 2    -> [0,0,.5,1]| [.5,.5,.5,.5] mean 3.5/8, zeros 2/8
MEAN = [7 / 8, 0.0, 1.0, 3.5 / 8]
APOZ_SCORE = [1 - 2 / 8, 0.0, 1 - 2 / 8, 1 - 2 / 8]


def test_mean_activation_and_apoz_on_a_hand_computed_map() -> None:
    net = activation_net()
    mean = T.filter_scores(net, "mean_activation", split_of(X))
    apoz = T.filter_scores(net, "apoz", split_of(X))
    assert list(mean) == ["2.weight"], "the first conv is excluded, as in §4.5's 208 filters"
    assert mean["2.weight"].tolist() == pytest.approx(MEAN)
    assert apoz["2.weight"].tolist() == pytest.approx(APOZ_SCORE)
    keep = T.select_filters(mean, 0.5, "per-layer")["2.weight"]
    assert keep.tolist() == [True, False, True, False]  # floor(0.5 * 4) = 2 lowest means go
    keep = T.select_filters(apoz, 0.25, "per-layer")["2.weight"]
    assert keep.tolist() == [True, False, True, True]   # the never-firing filter goes first


def test_per_layer_removes_floor_r_c_in_every_layer() -> None:
    sc = Scores({"a.weight": torch.arange(10.0), "b.weight": torch.arange(7.0)}, granularity="filter")
    m = T.select_filters(sc, 0.35, "per-layer")
    assert [int((~m[n]).sum()) for n in m] == [3, 2]   # floor(3.5), floor(2.45)
    assert m["a.weight"][:3].tolist() == [False] * 3


def test_global_ranking_with_l2_normalisation_and_floor_by_hand() -> None:
    sc = Scores({"a.weight": torch.tensor([3.0, 4.0]), "b.weight": torch.full((4,), 10.0)}, granularity="filter")
    # L2: a -> [0.6, 0.8], b -> [0.5] * 4. Remove 3 of 6: three of b (ties by position); b keeps >= 1.
    m = T.select_filters(sc, 0.5, "global", normalize="l2")
    assert m["a.weight"].tolist() == [True, True] and m["b.weight"].tolist() == [False, False, False, True]
    # Raw scores: a's 3 is lowest, a's 4 is protected by the floor (ceil(0.1 * 2) = 1), then b's first two.
    m = T.select_filters(sc, 0.5, "global", normalize="none")
    assert m["a.weight"].tolist() == [False, True] and m["b.weight"].tolist() == [False, False, True, True]
    with pytest.raises(ValueError, match="ranking"):
        T.select_filters(sc, 0.5, "blockwise")


def tiny_target(seed: int = 0) -> LabData:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(30) % 3
    x = torch.rand(30, 1, 8, 8, generator=g) * 0.3
    for c in range(3):  # a class-specific bright patch, so the task is learnable
        x[y == c, :, 2 * c:2 * c + 3, 2:5] += 0.7
    tr, te = Split.from_tensors(x[:15], y[:15]), Split.from_tensors(x[15:], y[15:])
    return LabData("tiny", tr, te, te, ["a", "b", "c"], np.array([5, 5, 5]), {"few": [0, 1, 2]}, (1, 8, 8))


def test_run_transfer_table_is_tidy_finite_and_shrinks() -> None:
    torch.manual_seed(0)
    source = load_model("vgg_small", num_classes=5, in_channels=1)
    s = T.TransferSettings(criteria=("mean_activation", "avg_weight"), ratios=(0.0, 0.5), epochs=1, batch_size=8)
    masks: dict = {}
    df = T.run_transfer(source, tiny_target(), s, seed=0, keep=masks)
    assert list(df.columns) == ["criterion", "family", "ranking", "arm", "ratio", "seed", "accuracy", "val_accuracy",
                                "params", "MACs", "filters_kept", "filters_total", "epochs", "n_test"]
    assert df["val_accuracy"].between(0, 1).all() and (df["n_test"] == len(tiny_target().test)).all()
    assert len(df) == 3 * (1 + 2 * 2)
    assert np.isfinite(df[["accuracy", "params", "MACs"]].to_numpy(float)).all()
    dense = df[df["ratio"] == 0].iloc[0]
    pruned = df[df["ratio"] == 0.5]
    assert dense["filters_total"] == 208 and (pruned["params"] < dense["params"]).all()
    assert (pruned["MACs"] < dense["MACs"]).all()
    per_layer = pruned[(pruned["ranking"] == "per-layer") & (pruned["arm"] != "inherit")]
    assert per_layer.groupby("arm")["accuracy"].nunique().eq(1).all(), "one architecture, one scratch run"
    sb = pruned[pruned["arm"] == "scratch-b"]["epochs"]
    assert ((sb >= 1) & (sb <= 3)).all()
    assert set(masks) == {(c, r, 0.5, 0) for c in s.criteria for r in ("per-layer", "global")}


def test_shipped_source_checkpoint_loads_and_class_activations_match_the_criterion() -> None:
    src = T.load_source()
    assert src.labkit_meta["dataset"] == "digits-0-4" and src.labkit_meta["metrics"]["test_accuracy"] > 0.9
    x = torch.rand(6, 1, 32, 32)
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    table = T.class_activations(src, "block3.conv2.weight", Split.from_tensors(x, y), ["5", "6", "7"])
    assert table.shape == (3, 64) and list(table.index) == ["5", "6", "7"]
    one = T.filter_scores(src, "mean_activation", Split.from_tensors(x[:2], y[:2]))["block3.conv2.weight"]
    assert np.allclose(table.loc["5"].to_numpy(), one.numpy(), atol=1e-6)


def fabricated(data_gap: float, seeds: int = 3, r04_loss: float = 1.0, val_trap: bool = False,
               val: bool = True) -> pd.DataFrame:
    """A §4.5 table; ``val_trap``: APoZ/global looks best on validation but is 5 pt worse on test."""
    rows = []
    acc = {"data": 0.90, "weight": 0.90 - data_gap, "random": 0.80}
    crit = {"mean_activation": "data", "apoz": "data", "avg_weight": "weight", "random": "random"}
    for seed in range(seeds):
        rows.append(dict(criterion="none", family="none", ranking="none", arm="inherit", ratio=0.0, seed=seed,
                         accuracy=0.92, val_accuracy=0.9))
        rows.append(dict(criterion="none", family="none", ranking="none", arm="scratch-e", ratio=0.0, seed=seed,
                         accuracy=0.80 + 0.01 * seed, val_accuracy=0.8))
        for c, f in crit.items():
            for rk in ("per-layer", "global"):
                for r in (0.2, 0.4):
                    a = 0.92 - r04_loss / 100 if (f == "data" and r == 0.4) else acc[f]
                    trap = val_trap and (c, rk, r) == ("apoz", "global", 0.4)
                    rows.append(dict(criterion=c, family=f, ranking=rk, arm="inherit", ratio=r, seed=seed,
                                     accuracy=a + 0.001 * seed - (0.05 if trap else 0.0),
                                     val_accuracy=0.99 if trap else a - 0.01))
                    rows.append(dict(criterion=c, family=f, ranking=rk, arm="scratch-e", ratio=r, seed=seed,
                                     accuracy=0.5, val_accuracy=0.5))
    df = pd.DataFrame(rows)
    return df if val else df.drop(columns="val_accuracy")


def test_verdict_rules() -> None:
    v = T.verdict(fabricated(0.05)).set_index("criterion")["verdict"]
    assert v["best data-driven at r=0.4"] == "PASS" and v["data beats weight"] == "PASS"
    assert v["weight beats random"] == "PASS" and v["scratch-e vs inherit"] == "INFO"
    assert v["source transfers"] == "PASS"                      # unpruned inherit 0.92 vs scratch 0.80-0.82
    v = T.verdict(fabricated(-0.05, r04_loss=3.0)).set_index("criterion")["verdict"]
    assert v["best data-driven at r=0.4"] == "FAIL" and v["data beats weight"] == "FAIL"
    # the best criterion is chosen on validation, then judged on test: the val favourite loses 6 pt there
    trap = T.verdict(fabricated(0.05, val_trap=True)).set_index("criterion")
    assert trap.loc["best data-driven at r=0.4", "verdict"] == "FAIL"
    assert "(apoz, global, chosen on validation)" in trap.loc["best data-driven at r=0.4", "measured"]
    old = T.verdict(fabricated(0.05, val=False)).set_index("criterion")   # a v1 table: no honest choice
    assert old.loc["best data-driven at r=0.4", "verdict"] == "n/a"
    v = T.verdict(fabricated(0.05, seeds=2)).set_index("criterion")
    judged = v[(v["kind"] == "claim") & (v["n_pairs"] > 0) & (v["verdict"] != "INFO")]["verdict"]
    assert (judged == "FAIL").all()
    with pytest.raises(ValueError, match="columns"):
        T.verdict(pd.DataFrame({"seed": [0]}))


def test_results_roundtrip(tmp_path) -> None:
    df = fabricated(0.05)
    df.attrs["settings"] = {"epochs": 1}
    path = T.write_results(df, tmp_path / "r.csv", "python -m labkit.studies.transfer run --out r.csv")
    back = T.read_results(path)
    assert back.attrs["command"].endswith("--out r.csv") and back.attrs["settings"] == {"epochs": 1}
    pd.testing.assert_frame_equal(back, df, check_dtype=False)
