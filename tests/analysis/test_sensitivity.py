"""Sensitivity scan: one layer (or coupled group) at a time, metric vs sparsity."""
from __future__ import annotations

import pytest
import torch

from labkit.analysis.sensitivity import accuracy, sensitivity_scan
from labkit.criteria import score
from labkit.models import load_model


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = load_model("resnet20", num_classes=4, in_channels=1).eval()
    x = torch.randn(16, 1, 8, 8)
    with torch.no_grad():
        y = model(x).argmax(1)         # labels the dense model gets right: dense accuracy is 1.0
    return model, (x, y)


def test_per_layer_table(setup) -> None:
    model, data = setup
    before = {k: v.clone() for k, v in model.state_dict().items()}
    df = sensitivity_scan(model, data, "magnitude", [0.0, 0.5, 0.95])
    layers = list(score(model, "magnitude"))
    assert list(df.columns) == ["layer", "members", "sparsity", "metric", "drop"]
    assert df["layer"].unique().tolist() == layers and len(df) == 3 * len(layers)
    assert df.attrs["dense"] == 1.0
    assert (df.loc[df.sparsity == 0.0, "metric"] == 1.0).all()       # nothing pruned: dense accuracy
    assert (df["drop"] == df.attrs["dense"] - df["metric"]).all()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_per_group_prunes_coupled_layers_together(setup) -> None:
    model, data = setup
    df = sensitivity_scan(model, data, "magnitude", [0.5], per="group", granularity="filter")
    multi = df[df["members"].str.contains(r" \+ ")]
    assert len(multi) >= 2                                               # the residual stages
    assert set(" + ".join(df["members"]).split(" + ")) == set(score(model, "magnitude"))


def test_precomputed_scores_and_custom_metric(setup) -> None:
    model, data = setup
    sc = score(model, "random", granularity="filter", layers=["layer2.0.conv1.weight"])
    calls = []

    def metric(m, d):
        calls.append(1)
        return accuracy(m, d) * 100

    df = sensitivity_scan(model, data, sc, [0.25, 0.5], evaluate_fn=metric)
    assert len(df) == 2 and len(calls) == 3 and df.attrs["dense"] == 100.0


def test_bad_input(setup) -> None:
    model, data = setup
    with pytest.raises(ValueError, match="per must be"):
        sensitivity_scan(model, data, "magnitude", [0.5], per="block")
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        sensitivity_scan(model, data, "magnitude", [50])
    with pytest.raises(ValueError, match="empty"):
        sensitivity_scan(model, data, "magnitude", [])
    with pytest.raises(ValueError, match="labelled"):
        accuracy(model, data[0])
