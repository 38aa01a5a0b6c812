"""Optimizers and learning-rate schedules by name (strict registries, like every plug-in family).

A schedule here is a *pure function* ``factor(epoch, total) -> float``: the learning rate of
epoch ``e`` (0-based) is ``lr * factor(e, total)``. Unlike a ``torch.optim.lr_scheduler``
object it has no state, so a resumed run gets the right rate from the epoch number alone.

==========  =====================================================================
schedule    factor
==========  =====================================================================
``none``    1
``cosine``  ``½(1 + cos(π e / E))``, the closed form of ``CosineAnnealingLR(T_max=E)``
``step``    the LDAM-DRW recipe (Cao et al. 2019) scaled to ``E`` epochs: 1, then ×0.01
            from 80 % and ×0.0001 from 90 % of the epochs (epochs 160 / 180 of 200)
``warmup_   ``step`` after a 5-epoch linear warm-up ``(e + 1) / 5``: the full LDAM-DRW
step``      schedule (kaidic/LDAM-DRW ``adjust_learning_rate``)
==========  =====================================================================

Example:
    >>> [round(get_schedule("cosine")(e, 4), 3) for e in range(4)]
    [1.0, 0.854, 0.5, 0.146]
    >>> [get_schedule("warmup_step")(e, 200) for e in (0, 4, 5, 159, 160, 179, 180)]
    [0.2, 1.0, 1.0, 1.0, 0.01, 0.01, 0.0001]
    >>> make_optimizer("sgd", nn.Linear(2, 2).parameters(), lr=0.1).defaults["momentum"]
    0.9
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from .._registry import Registry

__all__ = ["list_optimizers", "list_schedules", "make_optimizer", "get_schedule"]

Schedule = Callable[[int, int], float]
_OPTIMIZERS: Registry[Callable[..., torch.optim.Optimizer]] = Registry("optimizer")
_SCHEDULES: Registry[Schedule] = Registry("schedule")


@_OPTIMIZERS.register("adam")
def _adam(params: Any, lr: float, weight_decay: float, momentum: float) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)  # L2 added to the gradient


@_OPTIMIZERS.register("adamw")
def _adamw(params: Any, lr: float, weight_decay: float, momentum: float) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)  # decoupled decay


@_OPTIMIZERS.register("sgd")
def _sgd(params: Any, lr: float, weight_decay: float, momentum: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


@_SCHEDULES.register("none")
def _constant(epoch: int, total: int) -> float:
    return 1.0


@_SCHEDULES.register("cosine")
def _cosine(epoch: int, total: int) -> float:
    return 0.5 * (1.0 + math.cos(math.pi * epoch / max(total, 1)))


@_SCHEDULES.register("step")
def _step(epoch: int, total: int) -> float:
    if epoch >= int(0.9 * total):
        return 1e-4
    if epoch >= int(0.8 * total):
        return 1e-2
    return 1.0


@_SCHEDULES.register("warmup_step")
def _warmup_step(epoch: int, total: int, warmup: int = 5) -> float:
    if epoch < warmup:  # LDAM-DRW: lr * epoch / 5 for the 1-based epochs 1..5
        return (epoch + 1) / warmup
    return _step(epoch, total)


def list_optimizers() -> list[str]:
    """Optimizer names ``fit`` accepts (or pass ``optimizer=callable(params) -> Optimizer``)."""
    return _OPTIMIZERS.names()


def list_schedules() -> list[str]:
    """Schedule names ``fit`` accepts (or pass ``schedule=callable(epoch, total) -> factor``)."""
    return _SCHEDULES.names()


def make_optimizer(optimizer: str | Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer],
                   params: Iterable[nn.Parameter], lr: float = 1e-3, weight_decay: float = 0.0,
                   momentum: float = 0.9) -> torch.optim.Optimizer:
    """Build a named optimizer, or call ``optimizer(params)`` (which then sets its own options)."""
    if isinstance(optimizer, str):
        return _OPTIMIZERS.get(optimizer)(params, lr=lr, weight_decay=weight_decay, momentum=momentum)
    if not callable(optimizer):
        raise TypeError(f"optimizer must be one of {list_optimizers()} or a callable(params), "
                        f"got {type(optimizer).__name__}")
    return optimizer(params)


def get_schedule(schedule: str | Schedule) -> Schedule:
    """The factor function of a named schedule, or ``schedule`` itself if it is callable."""
    if isinstance(schedule, str):
        return _SCHEDULES.get(schedule)
    if not callable(schedule):
        raise TypeError(f"schedule must be one of {list_schedules()} or a callable(epoch, total), "
                        f"got {type(schedule).__name__}")
    return schedule
