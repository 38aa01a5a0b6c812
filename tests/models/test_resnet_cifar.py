"""CIFAR ResNets: sizes from the paper, any input >= 8 px, names, and Torch-Pruning compatibility."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from labkit.models.resnet_cifar import BasicBlock, ResNetCifar, resnet20, resnet32, resnet56


def n_params(m: nn.Module, skip: str | None = None) -> int:
    return sum(p.numel() for n, p in m.named_parameters() if skip is None or skip not in n)


@pytest.mark.parametrize("builder, n, total, option_a", [
    (resnet20, 3, 272_474, 269_722),
    (resnet32, 5, 466_906, 464_154),
    (resnet56, 9, 855_770, 853_018),
])
def test_sizes_and_depth(builder, n, total, option_a):
    net = builder(num_classes=10, in_channels=3)
    assert n_params(net) == total
    # Without the two 1x1 shortcut convs (+BN) it is the paper's option-A net.
    assert n_params(net, skip="shortcut") == option_a
    weighted = [m for n_, m in net.named_modules()
                if isinstance(m, (nn.Conv2d, nn.Linear)) and "shortcut" not in n_]
    assert len(weighted) == 6 * n + 2  # depth as He et al. count it


def test_resnet20_is_point_27_million():
    assert round(n_params(resnet20()) / 1e6, 2) == 0.27


def test_widths_strides_and_names():
    net = resnet20(num_classes=10, in_channels=1)
    assert net.stage_names == ("stem", "layer1", "layer2", "layer3", "head")
    names = dict(net.named_parameters())
    assert {"stem.conv.weight", "layer1.0.conv1.weight", "layer3.2.conv2.weight", "head.fc.weight"} <= set(names)
    assert [net.layer1[0].conv1.out_channels, net.layer2[0].conv1.out_channels,
            net.layer3[0].conv1.out_channels] == [16, 32, 64]
    assert [len(net.layer1), len(net.layer2), len(net.layer3)] == [3, 3, 3]
    shortcuts = sorted(n.rsplit(".", 2)[0] for n in names if "shortcut" in n and n.endswith("conv.weight"))
    assert shortcuts == ["layer2.0.shortcut", "layer3.0.shortcut"]  # only where shape changes
    assert isinstance(net.layer1[0].shortcut, nn.Identity)
    assert net.layer2[0].shortcut.conv.stride == (2, 2)


@pytest.mark.parametrize("size", [8, 16, 32])
def test_any_input_from_8px(size):
    net = resnet20(num_classes=10, in_channels=1).eval()
    with torch.no_grad():
        y = net(torch.rand(2, 1, size, size))
    assert y.shape == (2, 10) and torch.isfinite(y).all()


def test_block_matches_its_formula():
    torch.manual_seed(0)
    block = BasicBlock(16, 32, stride=2).eval()
    x = torch.randn(2, 16, 8, 8)
    ref = torch.relu(block.bn2(block.conv2(torch.relu(block.bn1(block.conv1(x))))) + block.shortcut(x))
    assert torch.equal(block(x), ref)


def test_rejects_empty_stages():
    with pytest.raises(ValueError, match="blocks_per_stage"):
        ResNetCifar(0)


def test_torch_pruning_couples_option_b_shortcuts():
    """The reason for option B: Torch-Pruning removes conv2 and shortcut channels together."""
    tp = pytest.importorskip("torch_pruning")
    net = resnet20(num_classes=10, in_channels=1)
    x = torch.rand(2, 1, 16, 16)
    pruner = tp.pruner.MetaPruner(net, x, importance=tp.importance.MagnitudeImportance(p=1),
                                  pruning_ratio=0.5, ignored_layers=[net.head.fc])
    pruner.step()
    for stage in (net.layer2, net.layer3):
        assert stage[0].shortcut.conv.out_channels == stage[0].conv2.out_channels
        assert all(b.conv2.out_channels == stage[0].conv2.out_channels for b in stage)
    assert net.layer3[0].conv2.out_channels == 32
    assert net(x).shape == (2, 10)
