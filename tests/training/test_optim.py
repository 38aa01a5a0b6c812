"""Named optimizers and pure learning-rate schedules."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from labkit.training.optim import get_schedule, list_optimizers, list_schedules, make_optimizer


def test_names() -> None:
    assert list_optimizers() == ["adam", "adamw", "sgd"]
    assert list_schedules() == ["cosine", "none", "step", "warmup_step"]


def test_cosine_matches_torchs_cosine_annealing() -> None:
    net = nn.Linear(2, 2)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    ours = get_schedule("cosine")
    for epoch in range(10):
        assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * ours(epoch, 10))
        opt.step()
        sched.step()


def test_step_is_the_ldam_drw_recipe() -> None:
    f = get_schedule("step")
    assert [f(e, 200) for e in (0, 159, 160, 179, 180, 199)] == [1, 1, 1e-2, 1e-2, 1e-4, 1e-4]


def test_make_optimizer_by_name_or_callable() -> None:
    net = nn.Linear(2, 2)
    sgd = make_optimizer("sgd", net.parameters(), lr=0.5, weight_decay=1e-4, momentum=0.8)
    assert isinstance(sgd, torch.optim.SGD)
    assert (sgd.defaults["lr"], sgd.defaults["weight_decay"], sgd.defaults["momentum"]) == (0.5, 1e-4, 0.8)
    assert isinstance(make_optimizer("adamw", net.parameters()), torch.optim.AdamW)
    rms = make_optimizer(lambda ps: torch.optim.RMSprop(ps, lr=0.01), net.parameters())
    assert isinstance(rms, torch.optim.RMSprop)
    with pytest.raises(KeyError, match="adam"):
        make_optimizer("adma", net.parameters())
    with pytest.raises(TypeError, match="callable"):
        get_schedule(3)
    assert get_schedule(math.cos) is math.cos
