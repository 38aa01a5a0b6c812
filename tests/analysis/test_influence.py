"""influence_table: one row per channel of the curves, with its Weibull fit and its domino score."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from labkit.analysis.influence import influence_table
from labkit.criteria.influence import InfluenceCurves, domino_scores, fit_weibull, influence_curves, survival
from labkit.models import load_model


@pytest.fixture(scope="module")
def resnet() -> nn.Module:
    torch.manual_seed(0)
    return load_model("resnet20", num_classes=10, in_channels=1).eval()


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    return torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(1))


def test_influence_table_has_one_row_per_channel(resnet, x):
    c = influence_curves(resnet, x, layers=["layer3.1.conv1.weight", "layer3.2.conv1.weight"])
    assert isinstance(c, InfluenceCurves) and c.seconds > 0 and c.n_items == 6
    tab = influence_table(c)
    assert len(tab) == 128 and list(tab.columns) == ["layer", "channel", "depths", "delta1", "k", "lam", "r2",
                                                     "n_points", "kind", "D"]
    assert set(tab["kind"]) <= {"fit", "one_point", "no_decay", "vanished", "short", "dead"}
    assert (tab["D"] >= 0).all()


def test_table_rows_hold_the_fit_and_the_score_of_their_channel(resnet, x):
    layer = "layer3.1.conv1.weight"
    c = influence_curves(resnet, x, layers=[layer])
    f = fit_weibull(survival(c.deltas[layer]))
    tab = influence_table(c, {layer: f})
    torch.testing.assert_close(torch.tensor(tab["D"].to_numpy()),
                               domino_scores(c.deltas[layer], f, depths=c.depths[layer]))
    np.testing.assert_array_equal(tab["k"].to_numpy(), f.k)
    assert tab["channel"].tolist() == list(range(64))
