"""captum attribution criteria: reduction per channel and the class target."""
from __future__ import annotations

import pytest
import torch

from labkit.criteria import score

captum = pytest.importorskip("captum")


def _grad_x_act(net, x, y, upto: int) -> torch.Tensor:
    a = net[:upto](x)
    out = net[upto:](a)
    (g,) = torch.autograd.grad(out.gather(1, y[:, None]).sum(), a)
    return (a * g).sum(dim=(2, 3)).abs().mean(dim=0).detach()


def test_grad_x_activation_oracle(net, data) -> None:
    x, y = data
    got = score(net, "grad_x_activation", data=data, granularity="filter")["6.weight"]
    assert torch.allclose(got, _grad_x_act(net, x, y, 8), rtol=1e-4, atol=1e-7)


def test_few_shot_target_uses_only_those_classes(net, data) -> None:
    x, y = data
    few = [3, 4]
    keep = (y == 3) | (y == 4)
    got = score(net, "grad_x_activation", data=data, granularity="filter", target=few)["6.weight"]
    assert torch.allclose(got, _grad_x_act(net, x[keep], y[keep], 8), rtol=1e-4, atol=1e-7)
    assert not torch.allclose(got, _grad_x_act(net, x, y, 8), rtol=1e-3)


def test_conductance_matches_captum_directly(net, data) -> None:
    from captum.attr import LayerConductance

    x, y = data
    attr = LayerConductance(net, net[7]).attribute(x, target=y, n_steps=8)
    expect = attr.sum(dim=(2, 3)).abs().mean(dim=0)
    got = score(net, "conductance", data=data, granularity="filter", n_steps=8)["6.weight"]
    assert torch.allclose(got, expect.detach(), rtol=1e-4, atol=1e-7)


def test_internal_influence_runs_on_each_layer(net, data) -> None:
    sc = score(net, "internal_influence", data=data, granularity="filter", target=0, n_steps=4)
    assert [t.shape for t in sc.values()] == [(12,), (16,), (10,)]
