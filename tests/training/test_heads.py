"""Cosine classifier head: outputs are cosine similarities; swapping copies, never mutates."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from labkit.training.heads import NormedLinear, with_normed_head


def test_normed_linear_outputs_cosine_similarity() -> None:
    torch.manual_seed(0)
    layer = NormedLinear(4, 3)
    x = torch.randn(5, 4)
    xs, ws = x.numpy().astype(np.float64), layer.weight.detach().numpy().astype(np.float64)
    cos = (xs @ ws.T) / np.linalg.norm(xs, axis=1, keepdims=True) / np.linalg.norm(ws, axis=1)
    assert layer(x).detach().numpy() == pytest.approx(cos, abs=1e-6)
    assert layer.bias is None and layer.weight.shape == (3, 4)


def test_with_normed_head_swaps_a_copy_and_keeps_names_and_directions() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    cos = with_normed_head(net)
    assert type(net[2]) is nn.Linear                      # the original is untouched
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert isinstance(cos[2], NormedLinear) and isinstance(cos[0], nn.Linear)
    assert torch.equal(cos[2].weight, net[2].weight)      # same class directions, same name
    assert "2.weight" in dict(cos.named_parameters()) and "2.bias" not in dict(cos.named_parameters())
    out = cos(torch.randn(6, 4))
    assert out.abs().max() <= 1 + 1e-6


def test_with_normed_head_by_name_and_errors() -> None:
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    assert isinstance(with_normed_head(net, "0")[0], NormedLinear)
    with pytest.raises(KeyError, match="linear layers"):
        with_normed_head(net, "1")
    with pytest.raises(ValueError, match="no"):
        with_normed_head(nn.Sequential(nn.ReLU()))
