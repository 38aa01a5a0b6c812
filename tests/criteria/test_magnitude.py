"""Magnitude family against their formulas (docs/methods.md §4.1)."""
from __future__ import annotations

import torch

from labkit.criteria import score


def test_weight_level_is_absolute_value(net) -> None:
    for name in ("magnitude", "magnitude_l2"):
        sc = score(net, name, granularity="weight")
        assert torch.equal(sc["6.weight"], net[6].weight.detach().abs())


def test_filter_formulas(net) -> None:
    w = net[6].weight.detach().flatten(1)  # (16, 12*3*3)
    lin = net[11].weight.detach()           # a linear layer's filters are its rows
    expect = {
        "magnitude": lambda t: t.abs().sum(1),
        "magnitude_l2": lambda t: t.pow(2).sum(1).sqrt(),
        "min_weight": lambda t: t.pow(2).sum(1) / t.shape[1],
        "avg_weight": lambda t: t.abs().sum(1) / t.shape[1],
    }
    for name, f in expect.items():
        sc = score(net, name, granularity="filter")
        assert torch.allclose(sc["6.weight"], f(w), rtol=1e-6), name
        assert torch.allclose(sc["11.weight"], f(lin), rtol=1e-6), name


def test_l1_and_average_weight_rank_alike_within_a_layer_but_not_across(net) -> None:
    l1 = score(net, "magnitude", granularity="filter")
    avg = score(net, "avg_weight", granularity="filter")
    for n in l1:
        assert torch.equal(torch.argsort(l1[n]), torch.argsort(avg[n]))
    # Across layers they differ by fan-in: 3.weight has 8*9 weights per filter, 6.weight 12*9.
    ratio3 = (l1["3.weight"] / avg["3.weight"]).mean()
    ratio6 = (l1["6.weight"] / avg["6.weight"]).mean()
    assert torch.isclose(ratio3, torch.tensor(72.0)) and torch.isclose(ratio6, torch.tensor(108.0))
