"""First-order Taylor criterion: how much would the loss change if this unit were zeroed?

Setting a unit ``u`` to zero changes the loss by about ``-u * dL/du`` (first-order Taylor
expansion around the current value), so ``|u * dL/du|`` ranks units by the damage their
removal does (Molchanov et al. 2017, arXiv 1611.06440; jacobgil/pytorch-pruning).
``L`` is the summed cross-entropy over ``data`` (each item contributes its own gradient);
the model runs in eval mode on a private copy.

- ``granularity="weight"``: ``|w * (1/N) sum_n dL_n/dw|`` per weight.
- ``granularity="filter"``: ``|(1/(N H W)) sum_n sum_hw A_k * dL/dA_k|`` per output channel
  (docs/methods.md §4.1), where ``A_k`` is the measurement point of :mod:`labkit.models.topology`:
  the BatchNorm output after the conv, *before* the ReLU. Before or after a ReLU gives the same
  number (where the ReLU passes, ``A`` and its gradient are unchanged; where it blocks, the
  product is zero), and at the BatchNorm output it is exactly the tensor a filter mask zeroes,
  also in residual blocks.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from labkit.criteria import score
    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
    ...                     nn.Conv2d(4, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    >>> x, y = torch.randn(8, 1, 8, 8), torch.randint(0, 2, (8,))
    >>> _ = net(x)
    >>> score(net, "taylor", data=(x, y), granularity="filter")["3.weight"].shape
    torch.Size([4])
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.batches import Batches
from ..models.topology import measure_module, out_channel_dim, working_copy
from ._core import register_criterion

__all__ = ["taylor"]


def _loss(logits: Tensor, y: Tensor | None) -> Tensor:
    assert y is not None  # needs_labels=True: score() hands taylor labelled batches only
    return F.cross_entropy(logits, y, reduction="sum")


def _weight_taylor(work: nn.Module, layers: list[str], data: Batches) -> dict[str, Tensor]:
    params = [work.get_parameter(n) for n in layers]
    grads = [torch.zeros_like(p, dtype=torch.float64) for p in params]
    n_items = 0
    for x, y in data:
        gs = torch.autograd.grad(_loss(work(x), y), params, allow_unused=True)
        for acc, g in zip(grads, gs):
            if g is not None:
                acc += g.detach().double()
        n_items += len(x)
    return {n: (p.detach().double() * g / n_items).abs().float() for n, p, g in zip(layers, params, grads)}


def _filter_taylor(work: nn.Module, layers: list[str], data: Batches) -> dict[str, Tensor]:
    acts: dict[str, Tensor] = {}

    def hook_for(name: str) -> Callable:
        def hook(_m: nn.Module, _inp: Any, out: Tensor) -> None:
            acts[name] = out
        return hook

    dims = {n: out_channel_dim(work, n) for n in layers}
    sums: dict[str, Tensor] = {}
    counts = dict.fromkeys(layers, 0)
    handles = [measure_module(work, n).register_forward_hook(hook_for(n)) for n in layers]
    try:
        for x, y in data:
            acts.clear()
            loss = _loss(work(x), y)
            missing = [n for n in layers if n not in acts]
            if missing:
                raise RuntimeError(f"layers {missing} were not used in the forward pass; score only layers "
                                   f"the model runs")
            gs = torch.autograd.grad(loss, [acts[n] for n in layers], allow_unused=True)
            for n, g in zip(layers, gs):
                a = acts[n].detach()
                g = torch.zeros_like(a) if g is None else g.detach()
                prod = (a * g).movedim(dims[n], -1).double()
                prod = prod.reshape(-1, prod.shape[-1])
                sums[n] = sums[n] + prod.sum(0) if n in sums else prod.sum(0)
                counts[n] += prod.shape[0]
    finally:
        for h in handles:
            h.remove()
    return {n: (sums[n] / counts[n]).abs().float() for n in layers}


@register_criterion("taylor", needs_data=True, needs_labels=True,
                    summary="first-order Taylor |a * dL/da| (Molchanov et al. 2017)")
def taylor(model: nn.Module, layers: list[str], *, data: Batches, granularity: str = "filter",
           target: Any = None) -> dict[str, Tensor]:
    """``|w * dL/dw|`` per weight or ``|mean(A_k * dL/dA_k)|`` per filter, on the data."""
    work = working_copy(model)
    if granularity == "weight":
        return _weight_taylor(work, layers, data)
    return _filter_taylor(work, layers, data)
