"""Zero-initialised SE gates: identity at the start, the §5.5 overhead formula, trainable, placed before the add."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from labkit.analysis.cost import cost
from labkit.criteria import score
from labkit.models import load_model
from labkit.models.se import SEGate, add_se, default_reduction, se_gates, se_overhead
from labkit.pruning.blocks import select_blocks, slim


@pytest.fixture(scope="module")
def net() -> nn.Module:
    torch.manual_seed(0)
    return load_model("resnet20", num_classes=10, in_channels=1).eval()


def test_gates_start_as_the_identity(net):
    att = add_se(net)
    x = torch.rand(4, 1, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(att(x), net(x))
    g = next(iter(se_gates(att).values()))
    with torch.no_grad():
        assert torch.equal(g.gate(torch.randn(3, 16, 4, 4)), torch.ones(3, 16))
    assert not se_gates(net), "add_se must not modify its input"


def test_overhead_is_sum_of_2c2_over_r(net):
    att = add_se(net)
    want = 3 * sum(2 * c * c // default_reduction(c) for c in (16, 32, 64))
    ov = se_overhead(att)
    assert ov["gates"] == 9 and ov["weights"] == want
    assert ov["params"] == sum(p.numel() for p in att.parameters()) - sum(p.numel() for p in net.parameters())
    assert cost(att, (1, 16, 16), latency=False)["MACs"] - cost(net, (1, 16, 16), latency=False)["MACs"] == ov["macs"]
    assert default_reduction(64) == 4 and default_reduction(128) == 16 and SEGate(128).fc1.out_features == 8


def test_gate_scales_the_branch_before_the_addition(net):
    att = add_se(net)
    block = att.layer1[1]
    with torch.no_grad():
        block.bn2.se.fc2.bias.fill_(-50.0)  # g = 2 sigmoid(-50) ~ 0: the branch is switched off
    x = torch.rand(2, 16, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(block(x), torch.relu(x))  # relu(0 + identity shortcut)


def test_gates_learn_from_the_start(net):
    att = add_se(net).train()
    loss = att(torch.rand(4, 1, 16, 16)).logsumexp(1).mean()
    loss.backward()
    g = att.layer2[0].bn2.se
    assert float(g.fc2.weight.grad.abs().sum()) > 0  # W2 = 0 receives gradient, W1 waits one step
    assert float(g.fc1.weight.grad.abs().sum()) == 0


def test_only_remaining_blocks_get_gates(net):
    plan = select_blocks(net, score(net, "magnitude", granularity="filter"), 0.6, input_shape=(1, 16, 16))
    small = slim(net, plan)
    att = add_se(small)
    assert len(se_gates(att)) == 9 - len(plan.removed_blocks)
    x = torch.rand(3, 1, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(att(x), small(x))


def test_errors_name_the_fix(net):
    with pytest.raises(ValueError, match="already"):
        add_se(add_se(net))
    with pytest.raises(ValueError, match="BasicBlock"):
        add_se(load_model("tiny_cnn", num_classes=10, in_channels=1))
    with pytest.raises(ValueError, match="reduction"):
        SEGate(16, reduction=0)
