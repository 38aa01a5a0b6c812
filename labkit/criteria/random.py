"""The random criterion: the baseline every other criterion must beat.

Scores are i.i.d. uniform on [0, 1), drawn from a generator seeded with ``seed`` (default 0)
layer by layer in forward order, so the same seed gives the same masks on every machine.
Liu et al. 2019 ("Rethinking the value of network pruning", arXiv 1810.05270) and Molchanov
et al. 2017 both report random pruning as the reference line; a criterion that does not beat
it at a given sparsity is telling you the architecture, not the ranking, sets the accuracy.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from labkit.criteria import score
    >>> net = nn.Sequential(nn.Conv2d(1, 2, 1), nn.Conv2d(2, 3, 1), nn.Conv2d(3, 1, 1))
    >>> a = score(net, "random", granularity="filter", seed=1)
    >>> b = score(net, "random", granularity="filter", seed=1)
    >>> bool((a["1.weight"] == b["1.weight"]).all())
    True
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ._core import register_criterion

__all__ = ["random_scores"]


@register_criterion("random", summary="uniform random scores (seeded baseline)")
def random_scores(model: nn.Module, layers: list[str], *, data: Any = None,
                  granularity: str = "weight", seed: int = 0) -> dict[str, Tensor]:
    """Uniform [0, 1) scores from ``torch.Generator().manual_seed(seed)``."""
    gen = torch.Generator().manual_seed(int(seed))
    out = {}
    for n in layers:
        shape = model.get_parameter(n).shape
        out[n] = torch.rand(tuple(shape) if granularity == "weight" else (shape[0],), generator=gen)
    return out
