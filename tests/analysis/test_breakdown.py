"""Where the MACs go: hand-counted conv / linear rows, formula units, and the total FlopCounterMode counts."""
import pytest
import torch
from torch import nn

from labkit.analysis.breakdown import analytic_macs, cost_breakdown, counted_macs
from labkit.analysis.cost import layer_macs
from labkit.models import load_model


def test_a_small_net_by_hand():
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                        nn.Linear(4 * 8 * 8, 10)).train()
    bd = cost_breakdown(net, (1, 8, 8)).set_index("module")
    assert bd.loc["0", "macs"] == 8 * 8 * 4 * 1 * 9 and bd.loc["0", "params"] == 4 * 9 + 4
    assert bd.loc["4", "macs"] == 256 * 10 and bd.loc["4", "params"] == 2570
    assert (bd.loc["1", "macs"], bd.loc["1", "kind"]) == (0, "norm")
    assert list(bd["kind"]) == ["conv", "linear", "norm"] and net.training  # the mode is restored
    assert analytic_macs(net, (1, 8, 8)) == counted_macs(net, (1, 8, 8)) == 2304 + 2560


def test_layer_macs_is_positions_times_weights():
    conv = nn.Conv2d(6, 8, 3, stride=2, groups=2)
    out = conv(torch.zeros(3, 6, 9, 9))  # 3 items x 4 x 4 positions
    assert layer_macs(conv, out) == 3 * 4 * 4 * 8 * 3 * 9
    lin = nn.Linear(5, 7)
    assert layer_macs(lin, lin(torch.zeros(2, 11, 5))) == 2 * 11 * 5 * 7
    assert layer_macs(lin, lin(torch.zeros(1, 5)), weights=3) == 3


@pytest.mark.parametrize("name", ["csasml_lite", "csasml_baseline"])
def test_formula_units_cost_what_the_counter_counts(name):
    net = load_model(name, num_classes=10, in_channels=1, **({"input_size": 16} if name == "csasml_lite" else {}))
    bd = cost_breakdown(net, (1, 16, 16))
    assert bd["macs"].sum() == counted_macs(net, (1, 16, 16))
    assert bd["params"].sum() == sum(p.numel() for p in net.parameters())  # every parameter exactly once
    kinds = set(bd["kind"])
    assert ({"SMM", "CSA"} if name == "csasml_lite" else {"basic block", "MHSA"}) <= kinds
    formula = bd.loc[bd["kind"].isin(["SMM", "CSA", "MHSA"]), "module"]
    assert not any(m.startswith(f + ".") for f in formula for m in bd["module"])  # inner layers not counted twice
