"""The ranking cache: sort the scores once, then every new sparsity is an index look-up.

A slider that changes the sparsity must not re-sort millions of scores each time. A
:class:`Ranking` keeps, per layer, a stable ascending ``argsort`` of the scores and the sorted
values, and per normalisation the global order of all units (as each layer's sorted positions
in it). A new target then costs:

- allocation: ``np.searchsorted`` per layer on the cached positions (microseconds);
- masks: per layer one comparison against ``sorted_values[k - 1]`` (or, if a tie straddles
  the cut, switching off ``order[:k]``); for a global threshold, a single comparison
  ``global_rank >= K`` over all units at once.

Nothing is sorted again; ``torch.nn.utils.prune.global_unstructured`` runs a top-k over all
weights on every call (see ``benchmarks/masks_speed.py`` for the side-by-side timing).

Example:
    >>> sc = {"a.weight": torch.rand(4, 8), "b.weight": torch.rand(8, 8)}
    >>> r = Ranking(sc)
    >>> [round(r.masks(s).sparsity, 3) for s in (0.25, 0.5, 0.75)]
    [0.25, 0.5, 0.75]
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..criteria.scores import check_scores, granularity_of
from .allocate import Allocation, allocate, normalize_scores
from .masks import Masks, make_masks, masks_meta

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
        self._rank: dict[str, Tensor] = {}
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
        """Per layer, the ascending positions of its units in the global order (cached).

        The global order is one stable sort of the concatenated per-layer *sorted* (then
        normalised, which keeps them sorted) scores: sorted runs make it a cheap merge, ties go
        by layer and then by each layer's own order, so the global order restricted to a layer
        is exactly that layer's ``order``.
        """
        if normalize not in self._positions:
            runs = torch.cat([normalize_scores(self._sorted[n], normalize) for n in self.scores]).numpy()
            order = np.argsort(runs, kind="stable")
            ranks = np.empty_like(order)
            ranks[order] = np.arange(order.size)
            positions, offset = {}, 0
            for name in self.scores:
                n = self._sorted[name].numel()
                positions[name] = ranks[offset:offset + n]
                offset += n
            self._positions[normalize] = positions
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
        fast = self._global_masks(alloc)
        return fast if fast is not None else make_masks(self, alloc)

    def _global_masks(self, alloc: Allocation) -> Masks | None:
        """One comparison over all units for a global threshold, else ``None``.

        "The ``K`` lowest overall" is exactly ``global_rank < K``, unless a ``min_keep`` /
        ``protect`` cap changed some layer's count (then ``None``: masks are made per layer).
        """
        normalize = alloc.meta.get("normalize")
        if alloc.meta.get("mode") != "global" or normalize is None:
            return None
        pos = self.global_positions(normalize)
        counts = {n: round(alloc[n] * self.scores[n].numel()) for n in self.scores}
        total = sum(counts.values())
        if any(int(np.searchsorted(pos[n], total)) != counts[n] for n in self.scores):
            return None
        keep = self._global_rank(normalize) >= total
        out, offset = {}, 0
        for name, t in self.scores.items():
            out[name] = keep[offset:offset + t.numel()].view(t.shape)
            offset += t.numel()
        return Masks(out, self.granularity, masks_meta(self.scores, alloc))

    def _global_rank(self, normalize: str) -> Tensor:
        """Global position of every unit, layers concatenated in element order (cached)."""
        if normalize not in self._rank:
            pos = self.global_positions(normalize)
            rank = torch.empty(sum(t.numel() for t in self.scores.values()), dtype=torch.int32)
            offset = 0
            for name, t in self.scores.items():
                rank[offset:offset + t.numel()][self._order[name]] = torch.from_numpy(pos[name]).to(torch.int32)
                offset += t.numel()
            self._rank[normalize] = rank
        return self._rank[normalize]
