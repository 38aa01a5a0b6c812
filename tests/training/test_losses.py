"""Each long-tail loss against a NumPy computation of its formula (docs/methods.md §1.2)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from labkit.training.losses import (CEDRW, LDAMLoss, drw_weights, get_loss, ldam_margins,
                                    list_losses, make_loss, register_loss)

Z = np.array([[1.0, 2.0, 0.5], [0.3, -1.0, 2.0], [0.0, 0.0, 0.0], [2.0, 1.0, -1.0]])
Y = np.array([0, 2, 1, 1])
COUNTS = np.array([100, 10, 1])


def np_ce(z: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> float:
    """Cross-entropy by hand: log-sum-exp minus the true logit; weighted mean as in PyTorch."""
    lse = np.log(np.exp(z).sum(1))
    per_item = lse - z[np.arange(len(y)), y]
    wy = np.ones(len(y)) if w is None else w[y]
    return float((wy * per_item).sum() / wy.sum())


def run(loss: nn.Module) -> float:
    return float(loss(torch.tensor(Z, dtype=torch.float32), torch.tensor(Y)))


def test_registry_lists_the_six_losses_and_is_strict() -> None:
    assert list_losses() == ["balanced_softmax", "ce", "ce_drw", "ldam", "ldam_drw", "logit_adjusted"]
    with pytest.raises(ValueError, match="already registered"):
        register_loss("ce")(lambda counts: nn.CrossEntropyLoss())
    with pytest.raises(KeyError, match="balanced_softmax"):
        get_loss("balanced_sofmax")


def test_ce_on_a_literal_example() -> None:
    # logits (0, ln 3): softmax = (1/4, 3/4), so CE for class 0 is ln 4.
    z = torch.tensor([[0.0, math.log(3.0)]])
    assert float(make_loss("ce")(z, torch.tensor([0]))) == pytest.approx(math.log(4.0), abs=1e-6)


def test_ce_matches_numpy() -> None:
    assert run(make_loss("ce", COUNTS)) == pytest.approx(np_ce(Z, Y), abs=1e-6)


def test_drw_weights_formula_and_sum() -> None:
    beta = 0.9999
    w = (1 - beta) / (1 - beta ** COUNTS.astype(float))
    w = w * 3 / w.sum()
    assert drw_weights(COUNTS) == pytest.approx(w, rel=1e-12)
    assert drw_weights(COUNTS).sum() == pytest.approx(3.0)
    # β -> 1 approaches inverse frequency: 1 : 10 : 100
    assert drw_weights(COUNTS)[2] / drw_weights(COUNTS)[0] == pytest.approx(100, rel=0.01)


def test_ce_drw_is_plain_ce_until_drw_epoch_then_weighted() -> None:
    loss = make_loss("ce_drw", COUNTS)
    assert run(loss) == pytest.approx(np_ce(Z, Y), abs=1e-6)          # never told the epoch: off
    loss.set_epoch(7, 10)                                             # default start: int(0.8*10) = 8
    assert run(loss) == pytest.approx(np_ce(Z, Y), abs=1e-6)
    loss.set_epoch(8, 10)
    beta = 0.9999
    w = (1 - beta) / (1 - beta ** COUNTS.astype(float))
    w = w * 3 / w.sum()
    assert run(loss) == pytest.approx(np_ce(Z, Y, w), abs=1e-5)
    assert run(loss) != pytest.approx(np_ce(Z, Y), abs=1e-3)
    explicit = CEDRW(COUNTS, drw_epoch=2)
    explicit.set_epoch(1, 100)
    assert not explicit.drw_active
    explicit.set_epoch(2, 100)
    assert explicit.drw_active


def test_balanced_softmax_adds_log_counts() -> None:
    assert run(make_loss("balanced_softmax", COUNTS)) == pytest.approx(
        np_ce(Z + np.log(COUNTS), Y), abs=1e-5)


def test_logit_adjusted_adds_tau_log_prior_and_equals_balanced_softmax_at_tau_1() -> None:
    prior = COUNTS / COUNTS.sum()
    assert run(make_loss("logit_adjusted", COUNTS, tau=0.5)) == pytest.approx(
        np_ce(Z + 0.5 * np.log(prior), Y), abs=1e-5)
    assert run(make_loss("logit_adjusted", COUNTS)) == pytest.approx(
        run(make_loss("balanced_softmax", COUNTS)), abs=1e-5)


def np_ldam(s: float, w: np.ndarray | None = None) -> float:
    m = COUNTS.astype(float) ** -0.25
    m = m * 0.5 / m.max()
    z = Z.copy()
    z[np.arange(len(Y)), Y] -= m[Y]
    return np_ce(s * z, Y, w)


def test_ldam_margins() -> None:
    # n^{-1/4} for 100, 10, 1 is 0.3162, 0.5623, 1 -> times 0.5
    assert ldam_margins(COUNTS) == pytest.approx([0.5 * 100 ** -0.25, 0.5 * 10 ** -0.25, 0.5])


def test_ldam_subtracts_the_margin_from_the_true_logit_then_scales() -> None:
    assert run(make_loss("ldam", COUNTS)) == pytest.approx(np_ldam(30.0), rel=1e-5)
    assert run(LDAMLoss(COUNTS, s=1.0)) == pytest.approx(np_ldam(1.0), abs=1e-5)


def test_ldam_drw_weights_switch_on() -> None:
    loss = make_loss("ldam_drw", COUNTS, drw_epoch=1)
    loss.set_epoch(0, 5)
    assert run(loss) == pytest.approx(np_ldam(30.0), rel=1e-5)
    loss.set_epoch(1, 5)
    assert run(loss) == pytest.approx(np_ldam(30.0, drw_weights(COUNTS)), rel=1e-5)


@pytest.mark.parametrize("name", ["ce_drw", "balanced_softmax", "logit_adjusted", "ldam", "ldam_drw"])
def test_long_tail_losses_need_positive_counts(name: str) -> None:
    with pytest.raises(ValueError, match="class_counts"):
        make_loss(name)
    with pytest.raises(ValueError, match=r"classes \[1\]"):
        make_loss(name, [5, 0, 3])


def test_losses_follow_the_module_to_a_device_and_backpropagate() -> None:
    z = torch.tensor(Z, dtype=torch.float32, requires_grad=True)
    for name in list_losses():
        loss = make_loss(name, COUNTS).to("cpu")
        loss.set_epoch(9, 10)
        value = loss(z, torch.tensor(Y))
        (grad,) = torch.autograd.grad(value, z)
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0, name


def test_make_loss_accepts_modules_and_rejects_options_for_them() -> None:
    module = nn.CrossEntropyLoss()
    assert make_loss(module) is module
    with pytest.raises(ValueError, match="named losses"):
        make_loss(module, tau=2.0)
