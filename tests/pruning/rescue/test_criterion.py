"""The "optimized" criterion: rescue's masks through score(), registered once labkit.pruning is imported."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from labkit.criteria import list_criteria, score
from labkit.pruning import allocate, make_masks
from labkit.pruning.rescue import GAOptions, SAOptions, rescue


def make_mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 24), nn.ReLU(), nn.Linear(24, 16), nn.ReLU(), nn.Linear(16, 4)).eval()


def make_data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(100)
    x = torch.randn(96, 8, generator=g)
    return x, (x[:, 0] + x[:, 1] > 0).long() + 2 * (x[:, 2] > 0).long()


def test_optimized_is_a_registered_criterion() -> None:
    assert "optimized" in list_criteria(granularity="weight", needs_data=True)
    assert "optimized" not in list_criteria(granularity="filter")


def test_registered_criterion_through_score() -> None:
    net, data = make_mlp(), make_data()
    sc = score(net, "optimized", data=data, sparsity=0.8, method="ga", population=6, generations=2, elite=2, seed=3)
    again = rescue(net, data, 0.8, GAOptions(population=6, generations=2, elite=2), seed=3)
    assert sc.granularity == "weight" and sc.meta["criterion"] == "optimized"
    assert make_masks(sc, allocate(sc, 0.8, mode="uniform")).equal(again.masks), "same seed, same masks"


def test_criterion_settings_go_to_the_named_search() -> None:
    net, data = make_mlp(), make_data()
    sc = score(net, "optimized", data=data, sparsity=0.8, method="sa", steps=20, seed=1)
    again = rescue(net, data, 0.8, SAOptions(steps=20), seed=1)
    assert make_masks(sc, allocate(sc, 0.8, mode="uniform")).equal(again.masks)
    with pytest.raises(TypeError, match="generations"):
        score(net, "optimized", data=data, sparsity=0.8, method="sa", generations=3)
