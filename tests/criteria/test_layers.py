"""Where a channel is measured: the BatchNorm paired with a conv, and the criteria's working copy."""
from __future__ import annotations

import torch
import torchvision
from torch import nn

from labkit.criteria import measure_module, paired_norm
from labkit.criteria._layers import out_channel_dim, working_copy


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
