"""wanda_saliency: |W_ij| times the L2 norm of input feature j over the calibration items."""
from __future__ import annotations

import torch
from torch import nn

from labkit.pruning.rescue import wanda_saliency


def make_mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 24), nn.ReLU(), nn.Linear(24, 16), nn.ReLU(), nn.Linear(16, 4)).eval()


def make_data() -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(96, 8, generator=torch.Generator().manual_seed(100))
    return x, (x[:, 0] > 0).long()


def test_wanda_saliency_is_abs_weight_times_input_column_norm() -> None:
    net, (x, _) = make_mlp(), make_data()
    sal = wanda_saliency(net, ["2.weight"], x)["2.weight"]
    with torch.no_grad():
        inp = torch.relu(net[0](x))  # what layer 2 receives
    oracle = net[2].weight.detach().abs() * inp.norm(dim=0).view(1, -1)
    assert torch.allclose(sal, oracle, rtol=1e-5)


def test_conv_wanda_uses_the_input_channel_norm() -> None:
    torch.manual_seed(0)
    conv = nn.Sequential(nn.Conv2d(2, 3, 3))
    x = torch.randn(4, 2, 5, 5)
    sal = wanda_saliency(conv, ["0.weight"], x)["0.weight"]
    oracle = conv[0].weight.detach().abs() * x.pow(2).sum(dim=(0, 2, 3)).sqrt().view(1, -1, 1, 1)
    assert torch.allclose(sal, oracle, rtol=1e-5)


def test_the_model_keeps_its_mode() -> None:
    net, (x, _) = make_mlp(), make_data()
    net.train()
    wanda_saliency(net, ["2.weight"], x)
    assert net.training and all(not m._forward_pre_hooks for m in net.modules())
