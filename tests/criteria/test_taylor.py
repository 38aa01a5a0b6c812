"""First-order Taylor against a hand-written autograd computation (Molchanov et al. 2017)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
import torchvision

from labkit.criteria import score


def test_filter_taylor_oracle(net, data) -> None:
    x, y = data
    a = net[:8](x)                                   # output of the BatchNorm after conv 6
    loss = F.cross_entropy(net[8:](a), y, reduction="sum")
    (g,) = torch.autograd.grad(loss, a)
    expect = (a * g).sum(dim=(0, 2, 3)).abs() / (a.shape[0] * a.shape[2] * a.shape[3])
    got = score(net, "taylor", data=data, granularity="filter", batch_size=5)["6.weight"]
    assert torch.allclose(got, expect.detach(), rtol=1e-4, atol=1e-7)


def test_weight_taylor_oracle(net, data) -> None:
    x, y = data
    w = net[3].weight
    (g,) = torch.autograd.grad(F.cross_entropy(net(x), y, reduction="sum"), w)
    got = score(net, "taylor", data=data, granularity="weight")["3.weight"]
    assert torch.allclose(got, (w * g / len(x)).abs().detach(), rtol=1e-4, atol=1e-8)
    assert all(p.grad is None for p in net.parameters()), "the user's model gets no .grad"


def test_inplace_relu_resnet_is_scored_without_autograd_errors() -> None:
    torch.manual_seed(0)
    m = torchvision.models.resnet18(num_classes=4).eval()
    x, y = torch.randn(4, 3, 32, 32), torch.arange(4)
    sc = score(m, "taylor", data=(x, y), granularity="filter", layers=["layer1.0.conv2.weight", "layer4.1.conv1.weight"])
    assert sc["layer4.1.conv1.weight"].shape == (512,) and bool((sc["layer1.0.conv2.weight"] > 0).any())
