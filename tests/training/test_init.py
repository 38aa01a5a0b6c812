"""Re-initialisation for the scratch arms: same shapes, fresh seeded weights, the source untouched."""
import torch
from torch import nn

from labkit.training.init import reinit


def test_reinit_draws_fresh_seeded_weights_on_a_copy():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    with torch.no_grad():
        net[1].weight.fill_(2.0)
        net[0].bias.fill_(1.0)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    a, b = reinit(net, seed=1), reinit(net, seed=1)
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in before)  # same seed, same weights
    assert a[0].weight.shape == net[0].weight.shape and not torch.equal(a[0].weight, net[0].weight)
    assert torch.equal(a[0].bias, torch.zeros(4)) and torch.equal(a[1].weight, torch.ones(4))  # zero bias, reset BN
    fan_out = 4 * 3 * 3  # Kaiming normal, fan_out, ReLU gain: std = sqrt(2 / fan_out)
    big = reinit(nn.Conv2d(64, 4, 3), seed=0).weight
    assert abs(float(big.detach().std()) - (2 / fan_out) ** 0.5) < 0.05
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
