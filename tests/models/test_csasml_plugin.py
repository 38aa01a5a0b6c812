"""Plug-in mode: SMM replaces ResNet-20 basic blocks, CSA blocks append to a stage; copies only."""
from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from labkit.models.csasml import CSABlock, SplitMixed
from labkit.models.csasml_plugin import plug_csa, plug_smm
from labkit.models.resnet_cifar import BasicBlock, resnet20


def _macs(net, x) -> int:
    with FlopCounterMode(display=False) as fc:
        net(x)
    return fc.get_total_flops() // 2


def test_plug_smm_replaces_same_shape_blocks_and_lowers_macs():
    net = resnet20(num_classes=10, in_channels=1)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    small = plug_smm(net)
    assert [type(b) for b in small.layer1] == [SplitMixed] * 3
    # the stride-2 transition blocks stay: SMM cannot change shape
    assert isinstance(small.layer2[0], BasicBlock) and isinstance(small.layer2[1], SplitMixed)
    # the given model is untouched
    assert all(isinstance(b, BasicBlock) for b in net.layer1)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    x = torch.randn(2, 1, 16, 16)
    assert small(x).shape == (2, 10)
    assert _macs(small, x[:1]) < 0.6 * _macs(net, x[:1])


def test_plug_smm_options_and_errors():
    small = plug_smm(resnet20(num_classes=10, in_channels=1), stages=("layer3",), split_ratio=0.25)
    assert small.layer3[1].c1 == 16 and isinstance(small.layer1[0], BasicBlock)
    with pytest.raises(KeyError, match="stages"):
        plug_smm(resnet20(num_classes=10, in_channels=1), stages=("layer9",))
    with pytest.raises(ValueError, match="no stride-1"):
        plug_smm(plug_smm(resnet20(num_classes=10, in_channels=1), stages=("layer1",)), stages=("layer1",))


def test_plug_csa_appends_blocks_that_train():
    net = resnet20(num_classes=10, in_channels=1)
    big = plug_csa(net, blocks=2, heads=4, map_size=4)
    assert len(big.layer3) == 5 and isinstance(big.layer3[-1], CSABlock)
    assert big.layer3[-1].attn.scales == (1, 2) and big.layer3[-1].dim == 64
    x = torch.randn(2, 1, 16, 16)
    big(x).sum().backward()
    assert big.layer3[-1].attn.q.weight.grad is not None
    assert len(net.layer3) == 3
    with pytest.raises(ValueError, match="blocks"):
        plug_csa(net, blocks=0)
