"""The ranking cache: sort the scores once, then every new sparsity is an index look-up.

A slider that changes the sparsity must not re-sort millions of scores each time. A
:class:`Ranking` keeps, per layer, a stable ascending ``argsort`` of the scores and the sorted
values, and per normalisation the global order of all units (as each layer's sorted positions
in it). A new target then costs:

- allocation: ``np.searchsorted`` per layer on the cached positions (microseconds);
- masks: per layer one comparison against ``sorted_values[k - 1]`` (or, if a tie straddles
  the cut, switching off ``order[:k]``).

Nothing is sorted again; ``torch.nn.utils.prune.global_unstructured`` runs a top-k over all
weights on every call (see ``benchmarks/masks_speed.py`` for the side-by-side timing).

Example:
    >>> sc = {"a.weight": torch.rand(4, 8), "b.weight": torch.rand(8, 8)}
    >>> r = Ranking(sc)
    >>> [round(r.masks(s).sparsity, 3) for s in (0.25, 0.5, 0.75)]
    [0.25, 0.5, 0.75]
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
from torch import Tensor

from .allocate import Allocation, allocate, global_positions
from .masks import Masks, check_scores, make_masks

__all__ = ["Ranking"]


class Ranking:
    """Sorted copies of ``scores`` for instant re-masking.

    Args:
        scores: :class:`~labkit.criteria.Scores` (kept by reference; do not modify them in place).
    """

    def __init__(self, scores: Mapping[str, Tensor]) -> None:
        check_scores(scores)
        self.scores = scores
        self._flat: dict[str, Tensor] = {}
        self._order: dict[str, Tensor] = {}
        self._sorted: dict[str, Tensor] = {}
        self._positions: dict[str, dict[str, np.ndarray]] = {}
        for name, t in scores.items():
            flat = t.detach().reshape(-1).float().cpu()
            values, order = torch.sort(flat, stable=True)
            self._flat[name] = flat
            self._order[name] = order
            self._sorted[name] = values

    def __repr__(self) -> str:
        return f"Ranking(layers={len(self.scores)}, units={sum(t.numel() for t in self.scores.values())})"

    @property
    def granularity(self) -> str:
        from .masks import granularity_of

        return granularity_of(self.scores)

    def flat(self, name: str) -> Tensor:
        """Layer ``name``'s scores, flattened float32 on the CPU (what the orders index)."""
        return self._flat[name]

    def order(self, name: str) -> Tensor:
        """Stable ascending argsort of layer ``name``'s flattened scores."""
        return self._order[name]

    def sorted_values(self, name: str) -> Tensor:
        """Layer ``name``'s scores, sorted ascending."""
        return self._sorted[name]

    def global_positions(self, normalize: str = "none") -> dict[str, np.ndarray]:
        """Cached :func:`~labkit.pruning.allocate.global_positions` for ``normalize``."""
        if normalize not in self._positions:
            self._positions[normalize] = global_positions(self.scores, normalize)
        return self._positions[normalize]

    def allocate(self, sparsity: float | Mapping[str, float] | None = None,
                 mode: str | Mapping[str, float] = "global", **kw: Any) -> Allocation:
        """:func:`~labkit.pruning.allocate` using the cached orders."""
        return allocate(self, sparsity, mode, **kw)

    def masks(self, sparsity: float | Mapping[str, float] | Allocation | None = None,
              mode: str | Mapping[str, float] = "global", **kw: Any) -> Masks:
        """Masks for a new target: ``make_masks(ranking, ranking.allocate(sparsity, mode, **kw))``.

        An :class:`~labkit.pruning.allocate.Allocation` is used as is.
        """
        alloc = sparsity if isinstance(sparsity, Allocation) else self.allocate(sparsity, mode, **kw)
        return make_masks(self, alloc)
