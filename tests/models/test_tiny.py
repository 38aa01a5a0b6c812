"""The tiny CNN of docs/methods.md §1.7."""
from __future__ import annotations

import torch
from torch import nn

from labkit.models.tiny import conv_bn_relu, tiny_cnn


def test_layout_matches_methods_1_7():
    net = tiny_cnn()
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.stride[0]) for c in convs] == [(1, 16, 1), (16, 32, 2), (32, 64, 2)]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == 3
    assert sum(isinstance(m, nn.ReLU) for m in net.modules()) == 3
    assert (net.head.fc.in_features, net.head.fc.out_features) == (64, 10)
    assert net.stage_names == ("stem", "layer1", "layer2", "head")


def test_parameter_count_is_about_25k():
    # 144 + 4,608 + 18,432 conv weights, 2 * (16 + 32 + 64) BN, 650 FC.
    assert sum(p.numel() for p in tiny_cnn().parameters()) == 24_058


def test_feature_maps_on_8px_digits():
    net = tiny_cnn().eval()
    x = torch.rand(4, 1, 8, 8)
    with torch.no_grad():
        sizes = [tuple((x := stage(x)).shape[1:]) for stage in net.stages()]
    assert sizes == [(16, 8, 8), (32, 4, 4), (64, 2, 2), (10,)]


def test_conv_bn_relu_names():
    block = conv_bn_relu(3, 8, stride=2)
    assert list(dict(block.named_children())) == ["conv", "bn", "relu"]
    assert block.conv.bias is None and block.conv.stride == (2, 2)
