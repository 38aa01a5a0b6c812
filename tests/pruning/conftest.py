"""Shared fixtures: a tiny conv-BN-ReLU net with non-trivial BatchNorm statistics, and data for it."""
from __future__ import annotations

import pytest
import torch
from torch import nn


def make_net(seed: int = 0) -> nn.Sequential:
    """conv(3->8) bn relu | conv(8->12) bn relu | conv(12->16, stride 2) bn relu | pool | fc(16->10) relu | fc(10->5).

    Prunable by default: ``3.weight``, ``6.weight`` (convs) and ``11.weight`` (hidden linear).
    """
    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 12, 3, padding=1), nn.BatchNorm2d(12), nn.ReLU(inplace=True),
        nn.Conv2d(12, 16, 3, padding=1, stride=2), nn.BatchNorm2d(16), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10), nn.ReLU(), nn.Linear(10, 5))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        for m in net.modules():  # eval-mode BN that is not the identity
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) * 0.4 - 0.2)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return net.eval()


@pytest.fixture
def net() -> nn.Sequential:
    return make_net()


@pytest.fixture
def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(24, 3, 8, 8, generator=g), torch.arange(24) % 5
