"""Channel-to-block selection: MACs target met (analytic = counted), per-layer floor, the block rule,
and a slimmed network whose outputs match the masked one."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from labkit.analysis.cost import cost
from labkit.criteria import score
from labkit.models import load_model
from labkit.pruning.blocks import (RemovedBlock, layer_macs, masked, residual_blocks, select_blocks, slim)

SHAPE = (1, 16, 16)


@pytest.fixture(scope="module")
def net() -> nn.Module:
    torch.manual_seed(0)
    m = load_model("resnet20", num_classes=10, in_channels=1)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.1, 0.3)
    return m.eval()


@pytest.fixture(scope="module")
def l1(net):
    return score(net, "magnitude", granularity="filter")


def test_blocks_are_found_in_forward_order(net):
    blocks = residual_blocks(net)
    assert [b.name for b in blocks][:4] == ["layer1.0", "layer1.1", "layer1.2", "layer2.0"]
    assert [b.identity for b in blocks] == [True, True, True, False, True, True, False, True, True]
    assert sum(layer_macs(net, SHAPE).values()) == cost(net, SHAPE, latency=False)["MACs"]


def test_minus_60_percent_removes_a_block_and_slim_matches_masked(net, l1):
    plan = select_blocks(net, l1, 0.6, input_shape=SHAPE)
    assert plan.reduction >= 0.6 and plan.reduction < 0.62
    assert len(plan.removed_blocks) >= 1
    x = torch.rand(8, *SHAPE, generator=torch.Generator().manual_seed(3))
    small = slim(net, plan, x)
    assert all(isinstance(small.get_submodule(b), RemovedBlock) for b in plan.removed_blocks)
    with torch.no_grad():
        torch.testing.assert_close(small(x), masked(net, plan)(x), rtol=1e-4, atol=1e-5)
    assert cost(small, SHAPE, latency=False)["MACs"] == plan.macs_pruned  # analytic model = FlopCounterMode
    assert all(p.shape == q.shape for p, q in zip(net.parameters(), load_model("resnet20", in_channels=1).parameters()))


def test_floor_and_residual_channels(net, l1):
    plan = select_blocks(net, l1, 0.7, input_shape=SHAPE, structure="internal")
    kept = plan.kept().set_index("layer")
    for b in residual_blocks(net):
        assert kept.loc[b.conv1, "kept"] >= math.ceil(0.2 * b.c_mid)
        assert kept.loc[b.conv2, "kept"] == b.c_out  # residual stream never cut channel by channel
    assert plan.removed_blocks == [] and plan.reduction >= 0.7
    assert bool(plan.masks["layer2.0.shortcut.conv.weight"].all())
    with pytest.raises(ValueError, match="at most"):
        select_blocks(net, l1, 0.85, input_shape=SHAPE, structure="internal")


def test_block_rule_q_tau_and_downsampling_blocks_stay(net):
    sc = {n: torch.ones(net.get_parameter(n).shape[0]) for n in
          [f"{b.name}.conv{i}.weight" for b in residual_blocks(net) for i in (1, 2)]}
    for name in ("layer1.1", "layer2.0"):        # all conv2 channels least important
        sc[f"{name}.conv2.weight"] = torch.full_like(sc[f"{name}.conv2.weight"], 1e-3)
    plan = select_blocks(net, sc, 0.05, input_shape=SHAPE, normalize="none")
    assert plan.removed_blocks == ["layer1.1"]   # layer2.0 downsamples: never removed
    row = plan.blocks.set_index("block").loc["layer1.1"]
    assert row.q >= 0.5 and row.why == "q >= tau" and row.conv1_kept == 0
    assert not bool(plan.masks["layer1.1.conv1.weight"].any()) and not bool(plan.masks["layer1.1.conv2.weight"].any())
    assert bool(plan.masks["layer2.0.conv2.weight"].all())
    strict = select_blocks(net, sc, 0.05, input_shape=SHAPE, normalize="none", tau_blk=1.01)
    assert strict.removed_blocks == []


def test_thin_conv1_removes_its_block(net):
    sc = {n: torch.ones(net.get_parameter(n).shape[0]) for n in
          [f"{b.name}.conv{i}.weight" for b in residual_blocks(net) for i in (1, 2)]}
    sc["layer3.2.conv1.weight"] = torch.full((64,), 1e-3)
    plan = select_blocks(net, sc, 0.11, input_shape=SHAPE, normalize="none", floor=0.0)
    assert plan.removed_blocks == ["layer3.2"]
    assert plan.blocks.set_index("block").loc["layer3.2", "why"] == "conv1 too thin"


def test_more_reduction_never_costs_more_and_cut_is_consistent(net, l1):
    a = select_blocks(net, l1, 0.4, input_shape=SHAPE)
    b = select_blocks(net, l1, 0.6, input_shape=SHAPE)
    assert b.macs_pruned <= a.macs_pruned and set(a.removed_blocks) <= set(b.removed_blocks)
    for n in ("layer1.0.conv1.weight", "layer2.1.conv1.weight"):
        if n.rsplit(".", 2)[0] in a.removed_blocks:
            continue
        s, keep = l1[n], a.masks[n]
        if not bool(keep.all()):
            assert float(s[~keep].max()) <= float(s[keep].min())  # a layer loses its lowest channels


def test_errors_name_the_fix(net, l1):
    with pytest.raises(ValueError, match="fraction"):
        select_blocks(net, l1, 60, input_shape=SHAPE)
    with pytest.raises(ValueError, match="structure"):
        select_blocks(net, l1, 0.4, input_shape=SHAPE, structure="coupled")
    with pytest.raises(KeyError, match="missing"):
        select_blocks(net, {"layer1.0.conv1.weight": torch.ones(16)}, 0.4, input_shape=SHAPE)
    tiny = load_model("tiny_cnn", num_classes=10, in_channels=1)
    with pytest.raises(ValueError, match="BasicBlock"):
        select_blocks(tiny, {}, 0.4, input_shape=(1, 8, 8))
