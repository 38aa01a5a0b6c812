"""Class-balanced resampling (docs/methods.md §1.2): pick a class uniformly, then one of its items.

On long-tailed data a plain shuffled epoch shows the head classes far more often than the tail.
Class-balanced resampling draws each item in two steps, a class uniformly at random among the
classes present, then an item of that class uniformly, so every class is seen equally often in
expectation (tail items are repeated, head items are skipped). Kang et al. 2020
(arXiv 1910.09217) call this "class-balanced sampling".

The draw for epoch ``e`` depends only on ``(seed, e)``, so an interrupted run resumes with the
same batches. ``fit`` calls :meth:`ClassBalancedSampler.set_epoch`; used on its own, each new
iteration moves to the next epoch (unlike ``DistributedSampler``, which repeats the same order
until told otherwise).

Example:
    >>> s = ClassBalancedSampler([0, 0, 0, 0, 0, 0, 0, 1], seed=0, num_samples=4000)
    >>> counts = np.bincount(np.asarray([0, 0, 0, 0, 0, 0, 0, 1])[list(s)])
    >>> bool(abs(counts[0] - counts[1]) < 300)
    True
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from torch import Tensor
from torch.utils.data import Sampler

__all__ = ["ClassBalancedSampler"]


class ClassBalancedSampler(Sampler[int]):
    """Seeded class-balanced sampler over ``targets``.

    Args:
        targets: the label of every item (``split.targets``).
        num_samples: items per epoch (default: ``len(targets)``, one "epoch" worth of draws).
        seed: base seed; epoch ``e`` uses ``numpy.random.default_rng([seed, e])``.
    """

    def __init__(self, targets: Sequence[int] | np.ndarray | Tensor, num_samples: int | None = None,
                 seed: int = 0) -> None:
        y = np.asarray(targets.cpu().numpy() if isinstance(targets, Tensor) else targets)
        if y.ndim != 1 or len(y) == 0:
            raise ValueError(f"targets must be a non-empty 1-D label vector, got shape {y.shape}")
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
            raise ValueError("targets must be non-negative integer class labels")
        if num_samples is not None and num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        self.num_samples = int(num_samples) if num_samples is not None else len(y)
        self.seed = int(seed)
        self.epoch = 0
        # Items grouped by class: class c owns order[start[c] : start[c] + size[c]].
        self._order = np.argsort(y, kind="stable")
        self.classes, self._start, self._size = np.unique(y[self._order], return_index=True,
                                                          return_counts=True)

    def set_epoch(self, epoch: int) -> None:
        """Use the draw of epoch ``epoch`` on the next iteration."""
        self.epoch = int(epoch)

    def indices(self, epoch: int | None = None) -> np.ndarray:
        """The item indices drawn for ``epoch`` (default: the current one), shape ``(num_samples,)``."""
        e = self.epoch if epoch is None else int(epoch)
        rng = np.random.default_rng([self.seed, e])
        k = rng.integers(0, len(self.classes), size=self.num_samples)  # a class, uniformly
        within = rng.integers(0, self._size[k])  # then an item of that class, uniformly
        return self._order[self._start[k] + within]

    def __iter__(self) -> Iterator[int]:
        idx = self.indices()
        self.epoch += 1
        return iter(idx.tolist())

    def __len__(self) -> int:
        return self.num_samples
