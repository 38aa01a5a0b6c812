"""The lab's live set, and what goes beyond it: refined and exact reports, with progress.

:func:`live_set` chooses the test items a slider move evaluates (see :mod:`labkit.lab.budget`):

- ``preview=None``: every test item;
- ``preview=<int>``: about that many, stratified (every class represented, a fixed size);
- ``preview="auto"`` (the default): the items that fit the latency budget ``budget_ms``, timed on
  this machine with this model. Test splits of at most ``whole_below`` items are evaluated whole,
  whatever the timing, so small sets give the same numbers on every machine.

:class:`LiveViews` (a mixin of :class:`~labkit.lab.Lab`) adds :meth:`~LiveViews.refine` (a larger
nested stratified set, on demand) and :meth:`~LiveViews.full_report` (exact, on the whole test
split), both with a progress bar or a ``callback(task, done, total)`` a UI can draw.

Example:
    >>> from labkit import Lab
    >>> lab = Lab("resnet20", "digits-lt")            # 300 test items: evaluated whole
    >>> lab.live["whole"], lab.live["items"]
    (True, 300)
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from ..analysis.evaluate import ClassReport, evaluate_predictions
from ..analysis.incremental import IncrementalForward
from ..criteria import Scores, get_criterion, score
from ..data import LabData
from .budget import (
    Progress,
    ProgressFn,
    batched_logits,
    describe,
    live_interval,
    per_class_for,
    population_counts,
    stratified,
    time_per_item,
)
from .cache import ScoreCache, data_digest, weights_digest
from .plan import Trial

__all__ = ["LiveViews", "live_set"]

#: test splits of at most this many items are evaluated whole under ``preview="auto"``
WHOLE_BELOW = 500


def _items(data: LabData, keep: Tensor | None) -> tuple[Tensor, Tensor]:
    """Test inputs and labels at ``keep`` (all if ``None``), stacking only the items needed."""
    split = data.test
    if keep is None or split.in_memory or not hasattr(split.dataset, "__getitem__"):
        x, y = split.tensors()
        return (x, y) if keep is None else (x[keep], y[keep])
    xs = [torch.as_tensor(split.dataset[int(i)][0]) for i in keep]
    return torch.stack(xs), split.targets[keep].clone()


def live_set(dense: nn.Module, data: LabData, preview: int | str | None, budget_ms: float, seed: int,
             device: torch.device) -> tuple[Tensor, IncrementalForward, dict[str, Any]]:
    """``(labels, incremental forward, description)`` of the items the live views evaluate."""
    targets = data.test.targets
    n_total, n_cls = len(targets), max(int(torch.unique(targets).numel()), 1)
    if preview is not None and not isinstance(preview, int) and preview != "auto":
        raise ValueError(f"preview must be 'auto' (sized by budget_ms), an int (items) or None (all), got {preview!r}")
    if isinstance(preview, bool) or (isinstance(preview, int) and preview < 1):
        raise ValueError(f"preview must be a positive number of test items, got {preview!r}")
    ms_item = None
    if preview is None or (preview == "auto" and n_total <= WHOLE_BELOW) or \
            (isinstance(preview, int) and n_total <= preview):
        per, keep = int(torch.bincount(targets).max()) if n_total else 0, None
    elif isinstance(preview, int):
        per = max(1, preview // n_cls)
        keep = stratified(targets, per, seed)
    else:  # "auto": time one item per class, then take what the budget allows
        per, keep = 1, stratified(targets, 1, seed)
        x, y = _items(data, keep)
        inc = IncrementalForward(dense, x.to(device))

        def dense_pass() -> None:
            inc.run(None, full=True)
            if device.type == "cuda":  # kernels run asynchronously: time them, not their launch
                torch.cuda.synchronize(device)

        ms_item = time_per_item(dense_pass, len(y))
        per = per_class_for(budget_ms, ms_item, n_cls)
        if per == 1:
            return y, inc, dict(describe(len(y), n_total, 1, ms_item, budget_ms))
        keep = stratified(targets, per, seed)
        if len(keep) == n_total:
            keep = None
    x, y = _items(data, keep)
    inc = IncrementalForward(dense, x.to(device))
    return y, inc, dict(describe(len(y), n_total, per, ms_item, budget_ms if preview == "auto" else None))


class LiveViews:
    """Mixin of :class:`~labkit.lab.Lab`: reports beyond the live set, with progress."""

    dense: nn.Module
    data: LabData
    device: torch.device
    seed: int
    live: dict[str, Any]
    dense_report: ClassReport
    layers: list[str]
    _refined: dict[int, tuple[Tensor, Tensor, Tensor]]  # per class -> (indices, labels, dense logits)
    #: show a tqdm bar while a data-driven criterion scores (and in refine / full_report by default)
    progress: bool = True
    #: ``fn(task, done, total)`` a UI sets to draw the progress of scoring itself
    on_progress: ProgressFn | None = None
    _disk: ScoreCache | None = None
    _digests: dict[str, str]

    # -- scores: on-disk cache and progress ---------------------------------------------------------
    def cache_scores(self, folder: str | os.PathLike[str] | None = None) -> ScoreCache:
        """Keep scores on disk too (default folder :func:`labkit.lab.cache.default_cache_dir`).

        Keyed by the dense weights, criterion, granularity, options, layers and (for data-driven
        criteria) the validation data: reopening the lab on the same checkpoint skips scoring.
        """
        self._disk = ScoreCache(folder)
        return self._disk

    def _digest(self, what: str) -> str:
        self._digests = getattr(self, "_digests", {})
        if what not in self._digests:
            self._digests[what] = weights_digest(self.dense) if what == "weights" else data_digest(*self.data.val.tensors())
        return self._digests[what]

    def _score(self, criterion: str, granularity: str, options: Mapping[str, Any]) -> Scores:
        """Score with ``criterion`` (disk cache first; a progress bar / callback for data-driven ones)."""
        opts = {"seed": self.seed, **options} if criterion == "random" else dict(options)
        needs_data = get_criterion(criterion).needs_data
        key = None
        if self._disk is not None:
            key = self._disk.key(self._digest("weights"), criterion, granularity, {**opts, "_layers": self.layers},
                                 self._digest("data") if needs_data else None)
            hit = self._disk.load(key)
            if hit is not None:
                return hit
        data: Any = self.data.val
        if needs_data and "target" not in opts:  # a class target filters tensors; no bar then
            x, y = self.data.val.tensors()
            data = Progress(x, y, f"labkit scores ({criterion})", 128, bar=self.progress, callback=self.on_progress)
        s = score(self.dense, criterion, data=data, granularity=granularity, layers=self.layers, **opts)
        if key is not None and self._disk is not None:
            self._disk.save(key, s)
        return s

    if TYPE_CHECKING:  # provided by Lab
        def pruned_model(self, trial: Trial) -> nn.Module: ...

    def live_interval(self, trial: Trial | None = None) -> dict[str, tuple[float, float]]:
        """95 % intervals of the whole test split's accuracies given the live set (``None``: dense).

        Zero width when the live set is the whole split; see :func:`labkit.lab.budget.live_interval`.
        """
        rep = self.dense_report if trial is None else trial.report
        return live_interval(rep, population_counts(self.data.test.targets, self.data.num_classes))

    def _logits(self, model: nn.Module, x: Tensor, y: Tensor | None, task: str, progress: bool,
                callback: ProgressFn | None, batch_size: int) -> Tensor:
        model = model.to(self.device).eval()
        return batched_logits(model, Progress(x, y, task, batch_size, bar=progress, callback=callback),
                              self.device)

    def refine(self, trial: Trial, per_class: int | None = None, *, progress: bool = True,
               callback: ProgressFn | None = None, batch_size: int = 256) -> Trial:
        """``trial`` evaluated on a larger stratified set (on demand, when a slider rests).

        ``per_class`` items of each class (default: four times the live set's); the set contains
        the live items (the draw is nested). The dense model's logits on it are computed once and
        cached. Returns a copy of ``trial`` whose ``report`` and ``dense`` are on the refined set
        (``pred`` is dropped: it indexes the live items).
        """
        per = int(per_class) if per_class is not None else 4 * int(self.live["per_class"])
        targets = self.data.test.targets
        if per not in getattr(self, "_refined", {}):
            self._refined = getattr(self, "_refined", {})
            keep = stratified(targets, max(per, 1), self.seed)
            x, y = _items(self.data, keep)
            dense = self._logits(self.dense, x, None, "labkit refine (dense)", progress, callback, batch_size)
            self._refined[per] = (keep, y, dense)
        keep, y, dense = self._refined[per]
        x, _ = _items(self.data, keep)
        logits = self._logits(self.pruned_model(trial), x, None, "labkit refine", progress, callback, batch_size)

        def report(lg: Tensor) -> ClassReport:
            return evaluate_predictions(lg, y, groups=self.data.groups, classes=self.data.classes,
                                        class_counts=self.data.class_counts, num_classes=self.data.num_classes,
                                        seed=self.seed)

        return replace(trial, report=report(logits), dense=report(dense), preview=len(y) < len(targets), pred=None)

    def full_report(self, trial: Trial, *, progress: bool = True, callback: ProgressFn | None = None,
                    batch_size: int = 256) -> ClassReport:
        """Per-class report of ``trial`` on the whole test split (not only the live set), exact.

        A ``tqdm`` bar (``progress=True``) and/or ``callback(task, done, total)`` follow the items.
        """
        split, task = self.data.test, "labkit full report"
        if split.in_memory or len(split) <= 50_000:
            x, y = split.tensors()
            logits = self._logits(self.pruned_model(trial), x, None, task, progress, callback, batch_size)
        else:  # stream a large split instead of stacking it
            from tqdm.auto import tqdm

            model, parts, ys = self.pruned_model(trial).to(self.device).eval(), [], []
            with torch.inference_mode(), tqdm(total=len(split), desc=task, unit="item", disable=not progress) as bar:
                for xb, yb in split.loader(batch_size):
                    parts.append(model(xb.to(self.device)).float().cpu())
                    ys.append(torch.as_tensor(yb))
                    bar.update(len(yb))
                    if callback is not None:
                        callback(task, bar.n, len(split))
            logits, y = torch.cat(parts), torch.cat(ys)
        return evaluate_predictions(logits, y, groups=self.data.groups, classes=self.data.classes,
                                    class_counts=self.data.class_counts, num_classes=self.data.num_classes,
                                    seed=self.seed)
