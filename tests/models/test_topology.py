"""Model topology: the BatchNorm paired with a conv, the working copy, segments and depth sites."""
from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from labkit.models import load_model
from labkit.models.topology import (LOGITS, depth_sites, measure_module, out_channel_dim, paired_norm, run_segments,
                                    segment_of, segments, working_copy)


@pytest.fixture
def net() -> nn.Sequential:
    """conv bn relu | conv bn relu(inplace) | conv bn relu | pool flatten | linear relu | linear."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 12, 3, padding=1), nn.BatchNorm2d(12), nn.ReLU(inplace=True),
        nn.Conv2d(12, 16, 3, padding=1, stride=2), nn.BatchNorm2d(16), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10), nn.ReLU(), nn.Linear(10, 5)).eval()
def test_paired_norm_follows_registration_order(net) -> None:
    assert paired_norm(net, "3.weight") is net[4]
    assert paired_norm(net, "11.weight") is None          # linear followed by a ReLU
    assert measure_module(net, "11.weight") is net[11]
    assert out_channel_dim(net, "3.weight") == 1 and out_channel_dim(net, "11.weight") == -1


def test_norm_of_other_width_is_not_paired() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(8))
    assert paired_norm(net, "0.weight") is None


def test_torchvision_resnet_pairs() -> None:
    m = torchvision.models.resnet18(num_classes=10)
    assert paired_norm(m, "layer1.0.conv2.weight") is m.layer1[0].bn2
    assert paired_norm(m, "layer2.0.downsample.0.weight") is m.layer2[0].downsample[1]


def test_working_copy_is_safe_for_autograd(net) -> None:
    work = working_copy(net)
    assert work is not net and not work.training
    assert net[5].inplace and not work[5].inplace
    assert all(p.requires_grad for p in work.parameters())
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), work.state_dict().values()))


def test_segments_compose_to_the_model() -> None:
    net = load_model("resnet20", num_classes=10, in_channels=1).eval()
    x = torch.rand(2, 1, 16, 16)
    segs = segments(net)
    assert len(segs) > len(list(net.children()))  # the Sequential stages are unrolled
    with torch.no_grad():
        assert torch.allclose(run_segments(segs, x), net(x))
        mid = run_segments(segs[:3], x)
        assert torch.allclose(run_segments(segs, mid, start=3), net(x))
    where = segment_of(segs)
    assert where[net.layer1[0].conv1] == segs.index(net.layer1[0])


def test_depth_sites_run_once_in_execution_order(net) -> None:
    sites = depth_sites(net, torch.zeros(1, 3, 8, 8))
    assert sites == ["2", "5", "8", "12", LOGITS]
    twice = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4))
    twice.add_module("again", twice[1])  # the same ReLU module runs twice: not a site
    assert depth_sites(nn.Sequential(twice[0], twice[1], twice[2], twice[1]), torch.zeros(1, 4)) == [LOGITS]


def test_depth_sites_without_activations_are_the_measurement_points() -> None:
    net = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Linear(6, 3))
    assert depth_sites(net, torch.zeros(2, 4)) == ["1", LOGITS]
