"""The latency budget: how many test items a slider move can afford, and how sure the answer is.

At CIFAR-100 scale a whole-network forward pass of ResNet-32 costs about 2 ms per image on two
CPU cores, so the 9,000 test images take 20 s and even a 2,000-image preview 4 s: not live.
The lab therefore evaluates a *live set* sized by a latency budget (docs/design.md §4):

1. :func:`stratified` draws ``k`` test items per class (all of a class if it has fewer). The draw
   is *nested*: with the same seed, the items for ``k`` are among those for ``k + 1``, so a
   refined view extends the live one instead of replacing it.
2. :func:`time_per_item` times full forward passes of a calibration batch (the minimum of a few
   repeats, the least disturbed by other processes) and :func:`per_class_for` turns
   ``budget_ms`` into ``k = floor(budget_ms / (ms_per_item * classes))``, at least
   ``min_per_class``.
3. :func:`live_interval` says how far the live numbers can be from the whole test split's:
   a class's accuracy on ``n_c`` of its ``N_c`` items (drawn without replacement) has variance
   ``p_c (1 - p_c) / n_c * (N_c - n_c) / (N_c - 1)``; for an estimate ``sum_c a_c p_c`` (balanced:
   ``a_c = 1/C``) the variance is at most ``P (1 - P) * max_c(a_c w_c)`` with ``w_c`` the class's
   ``fpc / n_c`` (Jensen). That is a Wilson interval with ``n_eff = 1 / max_c(a_c w_c)`` items;
   it is exact (zero width) when every item is in the live set.

Example:
    >>> y = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    >>> stratified(y, 1, seed=0).tolist(), len(stratified(y, 2, seed=0))
    ([2, 4], 4)
    >>> per_class_for(budget_ms=200, ms_per_item=2.0, num_classes=100)
    1
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from ..analysis.evaluate import ClassReport, wilson_interval

__all__ = ["Progress", "ProgressFn", "live_interval", "per_class_for", "stratified", "time_per_item"]

#: ``fn(task, done, total)``: called as work advances (items or batches done of ``total``).
ProgressFn = Callable[[str, int, int], None]


def stratified(targets: Tensor, per_class: int, seed: int) -> Tensor:
    """Sorted indices of ``per_class`` items of every class (all of a class that has fewer).

    Nested in ``per_class`` for a fixed ``seed``: each class's items come from one seeded
    permutation whose draw does not depend on ``per_class``.
    """
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    g = torch.Generator().manual_seed(seed)
    picks = []
    for c in torch.unique(targets):
        idx = torch.nonzero(targets == c).flatten()
        picks.append(idx[torch.randperm(len(idx), generator=g)[:per_class]])
    return torch.sort(torch.cat(picks)).values


def per_class_for(budget_ms: float, ms_per_item: float, num_classes: int, min_per_class: int = 1) -> int:
    """Items per class that fit ``budget_ms`` at ``ms_per_item`` (at least ``min_per_class``)."""
    if budget_ms <= 0 or not math.isfinite(budget_ms):
        raise ValueError(f"budget_ms must be a positive number of milliseconds, got {budget_ms!r}")
    if ms_per_item <= 0:
        return 1 << 30  # free: everything fits
    return max(int(min_per_class), int(budget_ms // (ms_per_item * max(num_classes, 1))))


def time_per_item(run: Callable[[], object], n_items: int, repeats: int = 2) -> float:
    """Milliseconds per item of ``run()`` (which processes ``n_items``): the minimum of ``repeats`` runs."""
    best = float("inf")
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best * 1e3 / max(n_items, 1)


def live_interval(report: ClassReport, population: Sequence[int] | np.ndarray) -> dict[str, tuple[float, float]]:
    """95 % intervals for the *whole test split's* overall, balanced and group accuracies,
    given ``report`` on a stratified live set and ``population[c]`` = test items of class ``c``.

    See the module docstring for the bound. Classes without a live item are left out, as in
    the report's own means.
    """
    pc = report.per_class
    n = pc["n_test"].to_numpy().astype(float)
    big = np.asarray(population, dtype=float)
    if big.shape != n.shape or bool((big < n).any()):
        raise ValueError(f"population must give each of the {len(n)} classes at least its live count")
    present = n > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        fpc = np.where(big > 1, (big - n) / np.maximum(big - 1, 1), 0.0)
        w = np.where(present, fpc / np.maximum(n, 1), 0.0)

    def interval(point: float, a: np.ndarray) -> tuple[float, float]:
        worst = float((a * w).max()) if a.size else 0.0
        if math.isnan(point):
            return float("nan"), float("nan")
        if worst <= 0:
            return point, point
        n_eff = 1.0 / worst
        lo, hi = wilson_interval(np.array([point * n_eff]), np.array([n_eff]))
        return float(lo[0]), float(hi[0])

    out = {"overall": interval(report.overall, big * present / max(big[present].sum(), 1)),
           "balanced": interval(report.balanced, present / max(int(present.sum()), 1))}
    for g, members in report.groups.items():
        a = np.zeros_like(n)
        cols = [c for c in members if present[c]]
        a[cols] = 1.0 / max(len(cols), 1)
        out[g] = interval(report.by_group.get(g, float("nan")), a)
    return out


class Progress:
    """``(x, y)`` batches of tensors that report as they are consumed (tqdm bar and/or a callback).

    An iterable a criterion or an evaluation can walk like a ``DataLoader``; every pass restarts
    the count. ``bar=True`` shows a ``tqdm.auto`` bar; ``callback(task, done, total)`` gets items.
    """

    def __init__(self, x: Tensor, y: Tensor | None, task: str, batch_size: int = 128, bar: bool = True,
                 callback: ProgressFn | None = None) -> None:
        self.x, self.y, self.task = x, y, task
        self.batch_size, self.bar, self.callback = int(batch_size), bar, callback

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor] | Tensor]:
        from tqdm.auto import tqdm

        total = len(self.x)
        with tqdm(total=total, desc=self.task, unit="item", leave=False, disable=not self.bar) as bar:
            for i in range(0, total, self.batch_size):
                xb = self.x[i:i + self.batch_size]
                yield (xb, self.y[i:i + self.batch_size]) if self.y is not None else xb
                done = min(i + self.batch_size, total)
                bar.update(done - i)
                if self.callback is not None:
                    self.callback(self.task, done, total)


def batched_logits(model: torch.nn.Module, batches: Progress, device: torch.device) -> Tensor:
    """Logits of ``model`` on every batch of ``batches`` under ``torch.inference_mode`` (CPU result)."""
    outs = []
    with torch.inference_mode():
        for b in batches:
            xb = b[0] if isinstance(b, tuple) else b
            outs.append(model(xb.to(device)).float().cpu())
    return torch.cat(outs)


def population_counts(targets: Tensor, num_classes: int) -> np.ndarray:
    """Test items per class (the ``population`` of :func:`live_interval`)."""
    return np.bincount(targets.cpu().numpy(), minlength=num_classes)


def describe(n_live: int, n_total: int, per_class: int, ms_per_item: float | None,
             budget_ms: float | None) -> Mapping[str, object]:
    """What the lab evaluates live, for views and ``repr``: items, per class, the budget."""
    return {"items": n_live, "of": n_total, "per_class": per_class, "ms_per_item": ms_per_item,
            "budget_ms": budget_ms, "whole": n_live == n_total}
