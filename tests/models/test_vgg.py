"""CIFAR VGGs: layer lists, docs/methods.md §4.5's filter count, stages per pooling block, small inputs."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from labkit.models import prunable_parameters
from labkit.models.vgg import VGG16_CFG, VGGCifar, vgg16_bn, vgg_small


def convs(m: nn.Module) -> list[nn.Conv2d]:
    return [c for c in m.modules() if isinstance(c, nn.Conv2d)]


def test_vgg_small_is_methods_4_5():
    net = vgg_small(num_classes=10, in_channels=1)
    assert [c.out_channels for c in convs(net)] == [16, 16, 32, 32, 64, 64]
    assert sum(c.out_channels for c in convs(net)) == 224
    # "208 filters" = the prunable ones: every conv but the first (docs/methods.md §0.1).
    prunable = [net.get_submodule(n.rsplit(".", 1)[0]) for n in prunable_parameters(net)]
    assert sum(m.out_channels for m in prunable if isinstance(m, nn.Conv2d)) == 208
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert all(c.bias is not None for c in convs(net))
    assert net.stage_names == ("block1", "block2", "block3", "head")
    assert sum(p.numel() for p in net.parameters()) == 72_442


def test_vgg16_bn_layout():
    net = vgg16_bn(num_classes=10, in_channels=3)
    assert [c.out_channels for c in convs(net)] == [w for w in VGG16_CFG if w != "M"]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == 13
    assert all(c.bias is None for c in convs(net))  # BN's shift replaces the bias
    assert net.stage_names == ("block1", "block2", "block3", "block4", "block5", "head")
    assert all(isinstance(getattr(net, f"block{i}")[-1], nn.MaxPool2d) for i in range(1, 6))
    assert net.head.fc.in_features == 512
    assert sum(p.numel() for p in net.parameters()) == 14_724_042
    assert "block2.conv1.weight" in dict(net.named_parameters())


@pytest.mark.parametrize("size", [8, 16, 32])
def test_small_inputs_run(size):
    net = vgg16_bn(num_classes=10, in_channels=1).eval()
    with torch.no_grad():
        y = net(torch.rand(2, 1, size, size))
    assert y.shape == (2, 10) and torch.isfinite(y).all()


def test_ceil_mode_pool_is_plain_pool_on_even_maps():
    x = torch.rand(1, 4, 8, 8)
    assert torch.equal(nn.MaxPool2d(2, 2, ceil_mode=True)(x), nn.MaxPool2d(2, 2)(x))


@pytest.mark.parametrize("cfg", [[], ["M", 8, "M"], [8, 8], [8, -1, "M"]])
def test_bad_cfg(cfg):
    with pytest.raises(ValueError, match="cfg"):
        VGGCifar(cfg)
