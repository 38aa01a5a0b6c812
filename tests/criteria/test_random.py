"""The random baseline: seeded, uniform, independent of the weights."""
from __future__ import annotations

import torch

from labkit.criteria import score
from labkit.runtime import seed_everything


def test_seed_controls_scores(net) -> None:
    a = score(net, "random", seed=0)
    seed_everything(123)  # the global RNG must not matter
    b = score(net, "random", seed=0)
    c = score(net, "random", seed=1)
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert not torch.equal(a["6.weight"], c["6.weight"])


def test_uniform_in_unit_interval_and_shaped(net) -> None:
    sc = score(net, "random", granularity="filter", seed=5)
    assert sc["6.weight"].shape == (16,)
    flat = torch.cat([t.flatten() for t in score(net, "random").values()])
    assert float(flat.min()) >= 0 and float(flat.max()) < 1
    assert abs(float(flat.mean()) - 0.5) < 0.05


def test_independent_of_weights(net) -> None:
    a = score(net, "random", seed=2)
    with torch.no_grad():
        net[3].weight.mul_(10)
    assert all(torch.equal(a[n], score(net, "random", seed=2)[n]) for n in a)
