"""Weight-magnitude criteria: small weights matter least. No data needed.

Per weight the score is ``|w|``. Per filter k of a layer with weights ``W_k`` (the k-th output
channel, ``C_in x h x w`` for a conv, one row for a linear):

=================  ==================================  =========================================
name               filter score                        source
=================  ==================================  =========================================
``magnitude``      ``sum |W_k|``  (L1 norm)             Li et al. 2017, arXiv 1608.08710
``magnitude_l2``   ``sqrt(sum W_k^2)``  (L2 norm)        Li et al. 2017; Torch-Pruning's default
``min_weight``     ``(1/|W_k|) sum W_k^2``              Molchanov et al. 2017 Theta_MW, arXiv 1611.06440
``avg_weight``     ``(1/|W_k|) sum |W_k|``              docs/methods.md §4.1 (L1 rank within a layer)
=================  ==================================  =========================================

Within one layer L1 and average weight rank filters identically (and so do L2 and minimum
weight); they differ across layers, which matters for a ``global`` allocation without
normalisation: norms grow with fan-in, means do not.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from labkit.criteria import score
    >>> net = nn.Sequential(nn.Conv2d(1, 2, 1), nn.Conv2d(2, 2, 1), nn.Conv2d(2, 1, 1))
    >>> with torch.no_grad(): _ = net[1].weight.copy_(torch.tensor([[1., -3.], [0., 2.]]).view(2, 2, 1, 1))
    >>> score(net, "magnitude", granularity="filter")["1.weight"].tolist()
    [4.0, 2.0]
"""
from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from ._core import register_criterion

__all__ = ["magnitude", "magnitude_l2", "min_weight", "avg_weight"]


def _rows(model: nn.Module, name: str) -> Tensor:
    """The weight as ``(out_channels, fan_in)``, detached."""
    return model.get_parameter(name).detach().flatten(1)


@register_criterion("magnitude", summary="|w| per weight; L1 norm sum|W_k| per filter (Li et al. 2017)")
def magnitude(model: nn.Module, layers: list[str], *, data: Any = None,
        granularity: str = "weight") -> dict[str, Tensor]:
    """|w| per weight; L1 norm ``sum |W_k|`` per filter (Li et al. 2017, arXiv 1608.08710)."""
    if granularity == "weight":
        return {n: model.get_parameter(n).detach().abs() for n in layers}
    return {n: _rows(model, n).abs().sum(dim=1) for n in layers}


@register_criterion("magnitude_l2", summary="|w| per weight; L2 norm ||W_k||_2 per filter")
def magnitude_l2(model: nn.Module, layers: list[str], *, data: Any = None,
        granularity: str = "weight") -> dict[str, Tensor]:
    """|w| per weight (the L2 norm of one number); ``||W_k||_2`` per filter."""
    if granularity == "weight":
        return {n: model.get_parameter(n).detach().abs() for n in layers}
    return {n: _rows(model, n).norm(p=2, dim=1) for n in layers}


@register_criterion("min_weight", granularities=("filter",),
                    summary="mean squared weight of the filter (Molchanov et al. 2017, Theta_MW)")
def min_weight(model: nn.Module, layers: list[str], *, data: Any = None,
        granularity: str = "filter") -> dict[str, Tensor]:
    """``(1/|W_k|) sum W_k^2``: Molchanov et al.'s minimum-weight criterion (arXiv 1611.06440)."""
    return {n: _rows(model, n).pow(2).mean(dim=1) for n in layers}


@register_criterion("avg_weight", granularities=("filter",),
                    summary="mean absolute weight of the filter (docs/methods.md §4.1)")
def avg_weight(model: nn.Module, layers: list[str], *, data: Any = None,
        granularity: str = "filter") -> dict[str, Tensor]:
    """``(1/|W_k|) sum |W_k|``: the average-weight criterion of docs/methods.md §4.1."""
    return {n: _rows(model, n).abs().mean(dim=1) for n in layers}

