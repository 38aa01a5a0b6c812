"""Re-initialisation: the same architecture with fresh weights (the "rethinking" scratch arms).

Liu et al. (2019, *Rethinking the Value of Network Pruning*) train a pruned architecture from a
fresh initialisation to ask whether the inherited weights matter (docs/methods.md §4.3 step 5,
Scratch-E / Scratch-B). :func:`reinit` gives that start: a copy of the model, same shapes,
weights drawn again after ``torch.manual_seed(seed)``.

Example:
    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))
    >>> a, b = reinit(net, seed=1), reinit(net, seed=1)
    >>> torch.equal(a[0].weight, b[0].weight), torch.equal(a[0].weight, net[0].weight)
    (True, False)
"""
from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["reinit"]


def reinit(model: nn.Module, seed: int = 0) -> nn.Module:
    """A copy with Kaiming-normal convs (``fan_out``, ReLU; He et al. 2015), default-init linears,
    zero conv biases and reset BatchNorms, drawn in module order after ``torch.manual_seed(seed)``.

    The model passed in is not changed.
    """
    new = copy.deepcopy(model)
    torch.manual_seed(seed)
    for m in new.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            m.reset_parameters()
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_parameters()
    return new
