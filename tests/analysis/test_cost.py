"""cost(): MACs against the analytic formula (docs/methods.md §0.1), nonzero counts, latency, no side effects."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from labkit.analysis.cost import cost
from labkit.criteria import score
from labkit.pruning import Masks, Ranking, apply_masks, compact


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),                 # 16x16 out
        nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=4), nn.BatchNorm2d(16), nn.ReLU(),   # 8x8 out
        nn.Conv2d(16, 16, 1), nn.ReLU(),                                             # 8x8 out
        nn.Flatten(), nn.Linear(16 * 8 * 8, 32), nn.ReLU(), nn.Linear(32, 10))


def _analytic(h: int = 16) -> int:
    conv = lambda ho, wo, cout, cin, groups, k: ho * wo * cout * (cin // groups) * k * k  # noqa: E731
    return (conv(h, h, 8, 3, 1, 3) + conv(h // 2, h // 2, 16, 8, 4, 3) + conv(h // 2, h // 2, 16, 16, 1, 1)
            + 16 * 8 * 8 * 32 + 32 * 10)


def test_macs_match_the_analytic_formula() -> None:
    c = cost(_net(), (3, 16, 16), latency=False)
    assert c["MACs"] == _analytic()
    assert c["nonzero_MACs"] == c["MACs"]
    assert c["params"] == sum(p.numel() for p in _net().parameters())
    assert c["latency_ms"] is None and c["input_shape"] == (3, 16, 16)


def test_masks_lower_nonzero_counts_but_not_macs() -> None:
    net = _net()
    masks = Ranking(score(net, "magnitude", exclude_first=False, exclude_last=False)).masks(0.5, mode="uniform")
    dense, masked = cost(net, (3, 16, 16), latency=False), cost(apply_masks(net, masks), (3, 16, 16), latency=False)
    assert masked["MACs"] == dense["MACs"] and masked["params"] == dense["params"]
    removed = sum(int((~m).sum()) for m in masks.values())
    assert dense["nonzero_params"] - masked["nonzero_params"] == removed
    # each removed conv weight saves H_out * W_out MACs, each removed linear weight one
    positions = {"0.weight": 256, "3.weight": 64, "6.weight": 64, "9.weight": 1, "11.weight": 1}
    saved = sum(positions[n] * int((~m).sum()) for n, m in masks.items())
    assert dense["nonzero_MACs"] - masked["nonzero_MACs"] == saved


def test_compaction_lowers_macs() -> None:
    net = _net().eval()
    small = compact(net, Masks({"6.weight": torch.arange(16) < 8}, "filter"), torch.randn(1, 3, 16, 16))
    assert cost(small, (3, 16, 16), latency=False)["MACs"] == _analytic() - 8 * 8 * 8 * 16 - 8 * 8 * 8 * 32


def test_latency_is_measured_without_side_effects() -> None:
    net = _net().train()
    c = cost(net, (3, 16, 16), batch_size=4, warmup=1, repeats=3)
    assert c["latency_ms"] > 0 and c["batch_size"] == 4 and c["device"] == "cpu"
    assert net.training
    assert all(m.num_batches_tracked == 0 for m in net.modules() if isinstance(m, nn.BatchNorm2d))


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="input_shape"):
        cost(_net(), (3, 0, 16), latency=False)
    with pytest.raises(ValueError, match="batch_size"):
        cost(_net(), (3, 16, 16), batch_size=0)
