"""Activation criteria: a filter that rarely fires on *your* data matters little for it.

Both run the model (eval mode, no gradients) over ``data`` and read each layer's post-ReLU
output channel ``A_k = ReLU(BN_k(conv_k(x)))``: a forward hook on the BatchNorm right after the
conv (or on the conv / linear itself when no BatchNorm follows), with the ReLU applied in the
hook; see :mod:`labkit.models.topology`. For a residual block's last conv this is the branch's
contribution before the skip is added. With ``N`` items and ``H x W`` positions
(docs/methods.md §4.1):

- ``mean_activation``: ``(1/(N H W)) sum_n sum_hw A_k(x_n)[h, w]``
  (Molchanov et al. 2017, arXiv 1611.06440, "mean activation").
- ``apoz``: ``1 - APoZ_k`` with ``APoZ_k = (1/(N H W)) sum_n sum_hw 1[A_k(x_n)[h, w] = 0]``,
  the Average Percentage of Zeros of Hu et al. 2016 (Network Trimming, arXiv 1607.03250);
  ``1 - APoZ`` so that higher = more important. It is comparable across layers as is.

These are data-dependent, which is the point for transfer learning on a small target set:
pass ``target=[...]`` to ``score`` to measure them on the items of chosen classes only
(e.g. the few-shot classes of a long-tailed set).

Example:
    >>> import torch
    >>> from torch import nn
    >>> from labkit.criteria import score
    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
    ...                     nn.Conv2d(4, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    >>> x, y = torch.randn(8, 1, 8, 8), torch.randint(0, 2, (8,))
    >>> _ = net(x)
    >>> score(net, "apoz", data=(x, y), granularity="filter")["3.weight"].shape
    torch.Size([4])
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from ..data.batches import Batches
from ..models.topology import measure_module, out_channel_dim
from ._core import register_criterion

__all__ = ["mean_activation", "apoz", "channel_statistic"]


def channel_statistic(model: nn.Module, layers: list[str], data: Batches,
                      stat: Callable[[Tensor], Tensor]) -> dict[str, Tensor]:
    """Average of ``stat(A)`` per output channel over all items and positions.

    ``A`` is the post-ReLU measurement-point output with channels moved last and flattened to
    ``(items * positions, C)``; ``stat`` maps it elementwise (``A`` itself, or ``A == 0``).
    The model is not modified: hooks are removed and the train/eval mode restored.
    """
    sums: dict[str, Tensor] = {}
    counts: dict[str, int] = {}

    def hook_for(name: str, dim: int) -> Callable:
        def hook(_m: nn.Module, _inp: Any, out: Tensor) -> None:
            a = torch.relu(out.detach()).movedim(dim, -1)
            a = a.reshape(-1, a.shape[-1])
            s = stat(a).to(torch.float64).sum(dim=0)
            sums[name] = sums[name] + s if name in sums else s
            counts[name] = counts.get(name, 0) + a.shape[0]
        return hook

    was_training = model.training
    handles = [measure_module(model, n).register_forward_hook(hook_for(n, out_channel_dim(model, n)))
               for n in layers]
    try:
        model.eval()
        with torch.no_grad():
            for x, _ in data:
                model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return {n: (sums[n] / counts[n]).float() for n in layers}


@register_criterion("mean_activation", needs_data=True, granularities=("filter",),
                    summary="mean post-ReLU activation of the channel on the data (Molchanov et al. 2017)")
def mean_activation(model: nn.Module, layers: list[str], *, data: Batches, granularity: str = "filter",
                    target: Any = None) -> dict[str, Tensor]:
    """``(1/(N H W)) sum A_k``: how strongly channel k fires on the data, on average."""
    return channel_statistic(model, layers, data, lambda a: a)


@register_criterion("apoz", needs_data=True, granularities=("filter",),
                    summary="1 - average percentage of zeros after ReLU (Hu et al. 2016)")
def apoz(model: nn.Module, layers: list[str], *, data: Batches, granularity: str = "filter",
         target: Any = None) -> dict[str, Tensor]:
    """``1 - APoZ_k``: the fraction of positions where channel k is active (non-zero)."""
    zero_frac = channel_statistic(model, layers, data, lambda a: (a == 0))
    return {n: 1.0 - z for n, z in zero_frac.items()}
