"""CSASML Split-and-Mixed module and backbones: shapes, gradients, options, analytic MACs vs FlopCounterMode."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from labkit.analysis.cost import cost
from labkit.models._base import prunable_parameters, stages
from labkit.models.csasml import (FullSelfAttention, SplitMixed, channel_shuffle, csasml_baseline, csasml_lite,
                                  default_scales, smm_macs)


@pytest.mark.parametrize("c,h,w", [(16, 8, 8), (32, 16, 16), (64, 4, 6), (24, 7, 7)])
@pytest.mark.parametrize("ratio,op,ghost", [(0.5, "dw", False), (0.25, "dw", True),
                                            (0.25, "dense", False), (0.5, "dense", True)])
def test_smm_shape_grad_and_macs(c, h, w, ratio, op, ghost, counted_macs):
    m = SplitMixed(c, split_ratio=ratio, split_op=op, ghost=ghost)
    x = torch.randn(2, c, h, w, requires_grad=True)
    y = m(x)
    assert y.shape == x.shape
    y.square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert all(p.grad is not None for p in m.parameters())
    expected = smm_macs(c, h, w, ratio, op, ghost)
    assert counted_macs(m, x[:1]) == expected == m.macs(h, w)


def test_smm_formula_by_hand_and_vs_resnet_block():
    # docs/methods.md §2.1: 9·C·r + (C·r)² + C² per position, against 18·C² for a basic block.
    assert smm_macs(64, 8, 8) == 64 * (9 * 32 + 32 ** 2 + 64 ** 2)
    assert smm_macs(64, 8, 8, split_op="dense") == 64 * (9 * 32 ** 2 + 64 ** 2)
    assert smm_macs(64, 8, 8) < 0.2 * 64 * 18 * 64 ** 2


def test_channel_shuffle_interleaves():
    x = torch.arange(6.0).view(1, 6, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 3, 1, 4, 2, 5]
    with pytest.raises(ValueError, match="divisible"):
        channel_shuffle(torch.zeros(1, 5, 1, 1), 2)


def test_smm_bad_options_name_the_fix():
    with pytest.raises(ValueError, match="split_ratio"):
        SplitMixed(16, split_ratio=1.0)
    with pytest.raises(ValueError, match="empty part"):
        SplitMixed(4, split_ratio=0.05)
    with pytest.raises(ValueError, match="split_op"):
        SplitMixed(16, split_op="conv")  # type: ignore[arg-type]


def test_default_scales_shrink_with_the_map():
    assert default_scales(8) == (1, 2, 4)
    assert default_scales(16) == (1, 2, 4, 7)
    assert default_scales(4) == (1, 2)
    assert default_scales(1) == (1,)


def test_lite_is_under_three_quarters_of_its_baseline_and_staged():
    lite = csasml_lite(num_classes=10, in_channels=1, input_size=16)
    base = csasml_baseline(num_classes=10, in_channels=1)
    ratio = cost(lite, (1, 16, 16), latency=False)["MACs"] / cost(base, (1, 16, 16), latency=False)["MACs"]
    assert ratio <= 0.75, ratio  # measured: 5,581,184 / 23,471,040 = 0.238
    x = torch.randn(2, 1, 16, 16)
    for net in (lite, base):
        out = x
        for s in stages(net):
            out = s(out)
        torch.testing.assert_close(out, net(x))


def test_module_layers_are_prunable():
    names = prunable_parameters(csasml_lite(num_classes=10, in_channels=1, input_size=16))
    for expected in ("layer1.0.dw.weight", "layer1.0.pw.weight", "layer1.0.mix.weight",
                     "layer3.0.attn.q.weight", "layer3.0.attn.k.0.weight", "layer3.0.attn.pool_dw.0.weight",
                     "layer3.0.attn.local_dw.weight", "layer3.1.fc2.weight"):
        assert expected in names
    assert "stem.conv.weight" not in names and "head.fc.weight" not in names


def test_lite_options_reach_the_modules():
    net = csasml_lite(num_classes=5, in_channels=3, split_ratio=0.25, split_op="dense", scales=(4,),
                      local=False, shunted=False, attention="csa")
    assert net.layer1[0].c1 == 8 and net.layer2[1].split_op == "dense"  # layer2[0] is the strided down conv
    assert net.layer3[1].attn.scales == (4,) and not net.layer3[1].attn.local
    mhsa = csasml_lite(num_classes=5, in_channels=3, attention="mhsa")
    assert isinstance(mhsa.layer3[1].attn, FullSelfAttention)
    assert mhsa(torch.zeros(1, 3, 32, 32)).shape == (1, 5)


def test_registered_in_the_model_registry():
    from labkit.models import list_models, load_model

    assert {"csasml_lite", "csasml_baseline"} <= set(list_models())
    net = load_model("csasml_lite", num_classes=10, in_channels=1, input_size=16)
    assert net(torch.zeros(1, 1, 16, 16)).shape == (1, 10)
    assert isinstance(net.layer1[0], SplitMixed) and isinstance(net, nn.Module)
