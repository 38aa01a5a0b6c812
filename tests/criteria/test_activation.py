"""Mean activation and APoZ against a hand-written forward pass (docs/methods.md §4.1)."""
from __future__ import annotations

import torch

from labkit.criteria import score


def _post_relu(net, x, upto: int) -> torch.Tensor:
    """ReLU of the output of net[:upto] (upto = index just past the BatchNorm)."""
    with torch.no_grad():
        return torch.relu(net[:upto](x))


def test_mean_activation_oracle(net, data) -> None:
    x, _ = data
    sc = score(net, "mean_activation", data=data, granularity="filter", batch_size=7)
    assert torch.allclose(sc["3.weight"], _post_relu(net, x, 5).mean(dim=(0, 2, 3)), atol=1e-6)
    assert torch.allclose(sc["6.weight"], _post_relu(net, x, 8).mean(dim=(0, 2, 3)), atol=1e-6)
    assert torch.allclose(sc["11.weight"], _post_relu(net, x, 12).mean(dim=0), atol=1e-6)  # linear: no BN


def test_apoz_oracle(net, data) -> None:
    x, _ = data
    sc = score(net, "apoz", data=data, granularity="filter")
    zeros = (_post_relu(net, x, 8) == 0).float().mean(dim=(0, 2, 3))
    assert torch.allclose(sc["6.weight"], 1 - zeros, atol=1e-6)
    assert float(sc["6.weight"].min()) >= 0 and float(sc["6.weight"].max()) <= 1


def test_a_channel_that_never_fires_scores_zero(net, data) -> None:
    with torch.no_grad():
        net[7].weight[4] = 0.0
        net[7].bias[4] = -1.0   # BN output is -1 everywhere: ReLU kills it
    for name in ("apoz", "mean_activation"):
        assert float(score(net, name, data=data, granularity="filter")["6.weight"][4]) == 0.0


def test_hooks_removed_and_mode_restored(net, data) -> None:
    net.train()
    score(net, "apoz", data=data, granularity="filter")
    assert net.training
    assert all(len(m._forward_hooks) == 0 for m in net.modules())
