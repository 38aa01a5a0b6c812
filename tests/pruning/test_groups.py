"""Coupled channel groups from Torch-Pruning's dependency graph, and shared group scores."""
from __future__ import annotations

import pytest
import torch
import torchvision

from labkit.criteria import Scores, score
from labkit.pruning import couple_scores, coupled_groups


@pytest.fixture(scope="module")
def resnet18():
    torch.manual_seed(0)
    return torchvision.models.resnet18(num_classes=10).eval()


def test_residual_stages_are_groups(resnet18) -> None:
    groups = coupled_groups(resnet18, torch.randn(1, 3, 32, 32))
    assert ["conv1.weight", "layer1.0.conv2.weight", "layer1.1.conv2.weight"] in groups
    stage2 = next(g for g in groups if "layer2.0.conv2.weight" in g)
    assert set(stage2) == {"layer2.0.conv2.weight", "layer2.0.downsample.0.weight", "layer2.1.conv2.weight"}
    assert ["layer2.0.conv1.weight"] in groups           # a block's inner conv is free
    assert sum(len(g) for g in groups) == len([n for n, _ in resnet18.named_parameters()
                                                if n.endswith("weight") and "bn" not in n and "downsample.1" not in n])


def test_layers_restrict_members(resnet18) -> None:
    layers = ["layer1.0.conv2.weight", "layer1.1.conv2.weight", "layer3.0.conv1.weight"]
    assert coupled_groups(resnet18, torch.randn(1, 3, 32, 32), layers=layers) == [
        ["layer1.0.conv2.weight", "layer1.1.conv2.weight"], ["layer3.0.conv1.weight"]]


def test_couple_scores_shares_the_mean_normalised_score(resnet18) -> None:
    sc = score(resnet18, "magnitude", granularity="filter")
    group = ["layer1.0.conv2.weight", "layer1.1.conv2.weight"]
    shared = couple_scores(sc, [group, ["layer2.0.conv1.weight"]])
    expect = torch.stack([sc[n] / sc[n].norm() for n in group]).mean(0)
    assert torch.allclose(shared[group[0]], expect) and torch.equal(shared[group[0]], shared[group[1]])
    assert torch.equal(shared["layer2.0.conv1.weight"], sc["layer2.0.conv1.weight"])
    assert shared.meta["coupled"] and shared.granularity == "filter"


def test_couple_scores_refusals() -> None:
    with pytest.raises(ValueError, match="filter scores"):
        couple_scores(Scores({"a": torch.rand(2, 2)}), [["a"]])
    with pytest.raises(ValueError, match="mixes channel counts"):
        couple_scores(Scores({"a": torch.rand(2), "b": torch.rand(3)}, granularity="filter"), [["a", "b"]])
