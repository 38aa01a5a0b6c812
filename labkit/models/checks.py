"""Checks on weights: every parameter and buffer finite, before a model is scored, evaluated or served.

A NaN in a layer nobody scores (the classifier) still turns every prediction into class 0, so
the check covers the whole ``state_dict``, not only the prunable layers.

Example:
    >>> import torch
    >>> from torch import nn
    >>> m = nn.Linear(2, 2)
    >>> check_finite(m, "my model") is m
    True
    >>> with torch.no_grad():
    ...     _ = m.bias.fill_(float("nan"))
    >>> check_finite(m, "my model")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    labkit.errors.WeightsError: my model has non-finite values (NaN or inf) in bias (2 of 2)...
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import torch
from torch import Tensor, nn

from ..errors import WeightsError

__all__ = ["nonfinite", "check_finite"]

M = TypeVar("M", nn.Module, Mapping[str, Tensor])


def nonfinite(weights: nn.Module | Mapping[str, Tensor]) -> dict[str, tuple[int, int]]:
    """``{name: (non-finite count, size)}`` of the floating tensors holding NaN or inf."""
    state = weights.state_dict() if isinstance(weights, nn.Module) else weights
    bad: dict[str, tuple[int, int]] = {}
    for name, t in state.items():
        if isinstance(t, Tensor) and t.is_floating_point():
            n = int((~torch.isfinite(t.detach())).sum())
            if n:
                bad[name] = (n, t.numel())
    return bad


def check_finite(weights: M, source: str) -> M:
    """``weights`` (a module or a state dict) unchanged if every float is finite, else :class:`WeightsError`.

    ``source`` names where they came from in the message ("checkpoint run.safetensors").
    """
    bad = nonfinite(weights)
    if bad:
        where = ", ".join(f"{n} ({k} of {size})" for n, (k, size) in list(bad.items())[:4])
        more = f" and {len(bad) - 4} more tensor(s)" if len(bad) > 4 else ""
        raise WeightsError(f"{source} has non-finite values (NaN or inf) in {where}{more}: it diverged in "
                           f"training or the weights were damaged; reload or retrain it (a lower learning "
                           f"rate often helps)")
    return weights
