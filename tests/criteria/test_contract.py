"""One contract for every registered criterion: shapes, dtype, no NaN, determinism, higher = more important."""
from __future__ import annotations

import pytest
import torch

from labkit.criteria import get_criterion, list_criteria, score
from labkit.pruning import Masks, apply_masks
from labkit.runtime import seed_everything

CASES = [(name, g) for name in list_criteria() for g in get_criterion(name).granularities]
LAYERS = ["3.weight", "6.weight", "11.weight"]

# Criteria for which a switched-off unit need not score lowest, and why.
NOT_MONOTONE = {
    "random": "scores ignore the weights by design",
    "internal_influence": "a sensitivity (gradient) measure: a dead channel can still have a large gradient",
    "optimized": "scores encode a searched mask: the search may 'rescue' a small (here zero) weight",
}


def test_every_family_is_registered() -> None:
    names = set(list_criteria())
    assert {"magnitude", "magnitude_l2", "min_weight", "avg_weight", "random", "mean_activation", "apoz",
            "taylor", "conductance", "grad_x_activation", "internal_influence"} <= names
    assert {"magnitude", "magnitude_l2", "random", "taylor"} <= set(list_criteria(granularity="weight"))
    assert not {"apoz", "mean_activation", "conductance"} & set(list_criteria(granularity="weight"))
    assert "magnitude" not in list_criteria(needs_data=True)


@pytest.mark.parametrize("name,granularity", CASES)
def test_contract(name: str, granularity: str, net, data) -> None:
    before = {k: v.clone() for k, v in net.state_dict().items()}
    seed_everything(0)
    a = score(net, name, data=data, granularity=granularity)
    seed_everything(0)
    b = score(net, name, data=data, granularity=granularity)
    assert list(a) == LAYERS
    assert a.granularity == granularity and a.meta["criterion"] == name
    for n in LAYERS:
        p = net.get_parameter(n)
        assert a[n].shape == (p.shape if granularity == "weight" else (p.shape[0],))
        assert a[n].dtype == torch.float32 and a[n].device.type == "cpu"
        assert bool(torch.isfinite(a[n]).all())
        assert torch.equal(a[n], b[n]), "same seed must give the same scores"
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items()), "score must not modify the model"
    assert not net.training


@pytest.mark.parametrize("name,granularity", [c for c in CASES if c[0] not in NOT_MONOTONE])
def test_switched_off_unit_scores_lowest(name: str, granularity: str, net, data) -> None:
    layer = "6.weight"
    if granularity == "filter":
        keep = torch.ones(16, dtype=torch.bool)
        keep[[2, 9]] = False
        dead = apply_masks(net, Masks({layer: keep}, "filter"))
        sc = score(dead, name, data=data, granularity="filter")[layer]
        assert float(sc[~keep].max()) <= float(sc[keep].min())
    else:
        keep = torch.ones(16, 12, 3, 3, dtype=torch.bool)
        keep[0, :5] = False
        dead = apply_masks(net, Masks({layer: keep}))
        sc = score(dead, name, data=data, granularity="weight")[layer]
        assert float(sc[~keep].max()) <= float(sc[keep].min())
