"""``Lab``: the facade the notebooks drive. It holds the state and the caches that keep sliders live.

A notebook cell should read like the experiment, not like plumbing::

    lab = lk.Lab("resnet20", "digits-lt")               # shipped checkpoint, offline
    trial = lab.prune(criterion="magnitude", sparsity=0.5, mode="global")
    trial.report.by_group, trial.cost["nonzero_MACs"]

What the lab keeps so that a slider move costs milliseconds (docs/design.md §4):

- the dense model on the device, never modified (pruned weights go into one working copy);
- scores per (criterion, granularity, options) and their :class:`~labkit.pruning.Ranking`, so a
  new sparsity finds its thresholds by index instead of re-scoring and re-sorting;
- the test tensors on the device, and the input of every stage of the working copy
  (:class:`~labkit.analysis.incremental.IncrementalForward`), so changing masks that only touch
  stage ``k`` re-runs stages ``k..end``;
- the last ``trial_cache`` (64) trials by plan, so a slider moved back to a setting seen before
  answers from memory (its ``first_stage`` then says nothing was re-run);
- a stratified *live set* of large test sets, sized by a latency budget (``budget_ms``, every
  class represented; :mod:`labkit.lab.live`): live views use it, :meth:`Lab.refine` evaluates a
  larger nested set on demand and :meth:`Lab.full_report` everything, with progress.

Example:
    >>> lab = Lab("resnet20", "digits-lt")
    >>> t = lab.prune(sparsity=0.5)
    >>> round(t.masks.sparsity, 2), t.report.balanced <= 1.0
    (0.5, True)
"""
from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import torch
from torch import Tensor, nn

from ..analysis.cost import MaskedCost
from ..analysis.cost import cost as measure_cost
from ..analysis.evaluate import ClassReport, evaluate_predictions
from ..criteria import Scores
from ..data import LabData, load_dataset
from ..io import atomic_write
from ..models import load_model, prunable_parameters
from ..pruning import Masks, Ranking, apply_masks, compact, expand_masks, merge_candidates
from ..runtime import resolve_device, seed_everything, versions
from . import checks
from .live import LiveViews, live_set
from .methods import MethodViews
from .plan import Plan, Trial, make_plan

if TYPE_CHECKING:
    from ..training.fit import Callback

__all__ = ["Lab"]


class Lab(LiveViews, MethodViews):
    """A dense model, its data and the caches that make re-pruning interactive.

    Args:
        model: a registered model name (loaded with ``pretrained``) or an ``nn.Module``.
        dataset: a registered dataset name or a :class:`LabData`.
        pretrained: load the shipped checkpoint for (model, dataset).
        dataset_kwargs: options for :func:`load_dataset`; default: the ones the checkpoint was
            trained with (so the test split is the one it never saw).
        device: ``None`` picks cuda, then mps, then cpu.
        seed: seeds scoring, random criteria and the preview.
        exclude_first, exclude_last: keep the first conv / last linear dense (docs/methods.md §0.1).
        preview: ``"auto"``: live views evaluate the stratified test items that fit ``budget_ms``
            per slider move (sets of <= 500 items whole); an int: about that many; ``None``: all.
        budget_ms: the forward-pass time a slider move may take under ``preview="auto"``.
    """

    def __init__(self, model: str | nn.Module = "resnet20", dataset: str | LabData = "digits-lt", *,
                 pretrained: bool = True, dataset_kwargs: Mapping[str, Any] | None = None,
                 device: str | torch.device | None = None, seed: int = 0, exclude_first: bool = True,
                 exclude_last: bool = True, preview: int | str | None = "auto",
                 budget_ms: float = 200.0) -> None:
        checks.check_inputs(preview=preview, seed=seed, device=device, dataset=dataset,
                            budget_ms=budget_ms)  # see labkit/lab/checks.py
        seed_everything(seed)
        self.seed = seed
        self.device = resolve_device(device)
        name = dataset if isinstance(dataset, str) else dataset.name
        if isinstance(model, str):
            self.model_name = model
            if isinstance(dataset, LabData) and not pretrained:
                model = load_model(model, num_classes=dataset.num_classes, in_channels=dataset.input_shape[0])
            else:
                model = load_model(model, dataset=name, pretrained=pretrained,
                                   dataset_kwargs=dict(dataset_kwargs or {}))
        else:
            model = checks.own_copy(model)  # the caller's module is never changed (eval mode, grads)
            self.model_name = type(model).__name__
        meta = getattr(model, "labkit_meta", {}) or {}
        if isinstance(dataset, str):
            kw = checks.dataset_kwargs_for(meta, dataset, dataset_kwargs)
            dataset = load_dataset(dataset, **kw)
        self.data: LabData = dataset
        checks.check_data(model, dataset, meta, dataset_kwargs, self.model_name)  # vs the checkpoint, the model
        self.dense: nn.Module = model.to(self.device).eval()
        for p in self.dense.parameters():
            p.requires_grad_(False)
        self.layers: list[str] = prunable_parameters(self.dense, exclude_first, exclude_last)
        self._exclude = (exclude_first, exclude_last)
        self.input_shape = tuple(self.data.input_shape)

        self._y, self._inc, self.live = live_set(self.dense, self.data, preview, budget_ms, seed, self.device)
        self.preview = not self.live["whole"]
        self.dense_report = self._report(self._inc.logits)
        self._scores: dict[tuple, Scores] = {}
        self._rankings: dict[tuple, Ranking] = {}
        self._extras: dict[tuple, Any] = {}  # method views' results (influence curves, rescue searches)
        self._cost = MaskedCost(self.dense, self.input_shape)  # nonzero MACs of a masked copy, no forward pass
        self.dense_cost = self._cost(self.dense)
        self._sweeps: dict[tuple[Plan, tuple[float, ...]], pd.DataFrame] = {}
        self._trials: dict[tuple[Plan, bool], Trial] = {}  # recent prunes, least recently used first
        self.trial_cache = 64

    def __repr__(self) -> str:
        return (f"Lab({self.model_name!r}, {self.data.name!r}, device={self.device.type}, "
                f"layers={len(self.layers)}, dense balanced={self.dense_report.balanced:.3f})")

    @property
    def targets(self) -> Tensor:
        """Labels of the test items the live views evaluate (the preview, if one is used)."""
        return self._y

    # -- scores and rankings (cached) -----------------------------------------------------------
    def _key(self, criterion: str, granularity: str, options: Mapping[str, Any]) -> tuple:
        return (criterion, granularity, tuple(sorted((k, repr(v)) for k, v in options.items())))

    def scores(self, criterion: str = "magnitude", granularity: str = "weight", **options: Any) -> Scores:
        """Scores of the prunable layers, computed once per (criterion, granularity, options).

        Data-driven criteria (activations, gradients, attributions) see the balanced
        validation split, never the test items the views report on; they show progress
        (``lab.progress``, ``lab.on_progress``). :meth:`cache_scores` keeps scores on disk too.
        """
        key = self._key(criterion, granularity, options)
        if key not in self._scores:
            self._scores[key] = self._score(criterion, granularity, options)
        return self._scores[key]

    def has_scores(self, criterion: str, granularity: str = "weight", **options: Any) -> bool:
        """Are these scores cached already (so the next prune takes milliseconds, not a scoring pass)?"""
        return self._key(criterion, granularity, options) in self._scores

    def ranking(self, criterion: str = "magnitude", granularity: str = "weight", **options: Any) -> Ranking:
        """The sorted-once :class:`Ranking` of :meth:`scores`."""
        key = self._key(criterion, granularity, options)
        if key not in self._rankings:
            self._rankings[key] = Ranking(self.scores(criterion, granularity, **options))
        return self._rankings[key]

    def plan(self, **kw: Any) -> Plan:
        """A :class:`Plan` from keyword arguments, checked (bad input raises naming the fix)."""
        return make_plan(self.layers, **kw)

    def masks(self, plan: Plan) -> Masks:
        """Masks for ``plan`` from the cached ranking (no re-scoring, no re-sorting)."""
        r = self.ranking(plan.criterion, plan.granularity, **dict(plan.options))
        if plan.mode == "per-layer":
            alloc = r.allocate(dict(plan.layer_sparsity), mode=plan.ranking_mode)
        else:
            alloc = r.allocate(plan.sparsity, mode=plan.mode, normalize=plan.resolved_normalize,
                               depth_bias=plan.depth_bias, s_max=plan.s_max)
        m = r.masks(alloc)
        m.meta.update({"plan": plan.to_dict(), "model": self.model_name, "dataset": self.data.name,
                       "seed": self.seed})
        return m

    # -- evaluation ------------------------------------------------------------------------------
    def _report(self, logits: Tensor) -> ClassReport:
        return evaluate_predictions(logits, self._y, groups=self.data.groups, classes=self.data.classes,
                                    class_counts=self.data.class_counts, num_classes=self.data.num_classes,
                                    seed=self.seed)

    def evaluate_masks(self, masks: Masks | None, plan: Plan | None = None,
                       incremental: bool = True) -> Trial:
        """Write ``masks`` into the working copy and report per-class accuracy and cost."""
        t0 = time.perf_counter()
        logits, first = self._inc.run(masks, full=not incremental)
        report = self._report(logits)
        ms = (time.perf_counter() - t0) * 1e3
        masks = masks if masks is not None else Masks({}, "weight")
        alloc = {n: 1.0 - int(m.count_nonzero()) / max(m.numel(), 1) for n, m in masks.items()}
        return Trial(plan or Plan(criterion="given", sparsity=masks.sparsity if len(masks) else 0.0),
                     masks, alloc, report, self.dense_report, self._cost(self._inc.work), first, ms, self.preview,
                     pred=logits.argmax(1).cpu())

    def prune(self, criterion: str = "magnitude", sparsity: float = 0.5, mode: str = "global",
              granularity: str = "weight", *, incremental: bool = True, **kw: Any) -> Trial:
        """Score (cached), allocate, mask and evaluate: one slider move.

        Extra keywords are :class:`Plan` fields (``normalize``, ``depth_bias``, ``s_max``,
        ``layer_sparsity`` for ``mode="per-layer"``, ``options`` for the criterion).
        """
        plan = self.plan(criterion=criterion, sparsity=sparsity, mode=mode, granularity=granularity, **kw)
        t0 = time.perf_counter()
        key = (plan, incremental)
        if key in self._trials:  # a setting seen before (a slider moved back): nothing to re-run
            self._trials[key] = self._trials.pop(key)  # most recently used last
            for w in self._trials[key].warnings:  # said again: a host shows what this setting warned
                warnings.warn(w.message, w.category, stacklevel=2)
            return replace(self._trials[key], first_stage=len(self._inc.stages),
                           eval_ms=(time.perf_counter() - t0) * 1e3)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            trial = self.evaluate_masks(self.masks(plan), plan, incremental=incremental)
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        trial.warnings = tuple(w for w in caught)
        self._trials[key] = trial
        while len(self._trials) > self.trial_cache:
            self._trials.pop(next(iter(self._trials)))
        return trial

    def merge(self, candidates: Sequence[Trial | Masks], weights: Sequence[float] | None = None,
              mode: str = "weighted") -> Trial:
        """Merge candidate masks (each layer keeps its budget) and evaluate the result.

        The same :func:`labkit.pruning.merge_candidates` the long-tail study merges its trainers'
        masks with; ``weights`` default to equal, and are divided by their sum unless they sum to 1.
        """
        names = [f"{i}:{c.plan.criterion}" if isinstance(c, Trial) else f"{i}:masks" for i, c in enumerate(candidates)]
        named = {n: (c.masks if isinstance(c, Trial) else c) for n, c in zip(names, candidates)}
        # Scores break ties and fill the intersection-first budget by importance; a trial's plan
        # names the cached scores it was made from (merged or hand-made masks have none).
        found = {n: self._scores.get(self._key(c.plan.criterion, c.plan.granularity, dict(c.plan.options)))
                 if isinstance(c, Trial) else None for n, c in zip(names, candidates)}
        scores = {n: s for n, s in found.items() if s is not None}
        merged = merge_candidates(named, weights, mode=mode, scores=scores if len(scores) == len(found) else None).merged
        return self.evaluate_masks(merged, Plan(criterion=f"merge:{mode}", sparsity=merged.sparsity))

    def sweep(self, sparsities: Sequence[float], criterion: str = "magnitude", mode: str = "global",
              granularity: str = "weight", **kw: Any) -> pd.DataFrame:
        """Accuracy vs sparsity, long format ``sparsity, metric, value`` (one-shot, no fine-tune)."""
        rows = []
        for s in sparsities:
            t = self.prune(criterion, s, mode, granularity, **kw)
            vals = {"overall": t.report.overall, "balanced": t.report.balanced, **t.report.by_group}
            rows += [{"sparsity": float(s), "metric": k, "value": v, "criterion": criterion,
                      "granularity": granularity} for k, v in vals.items()]
        return pd.DataFrame(rows)

    def curve(self, plan: Plan, sparsities: Sequence[float], criterion: str | None = None) -> pd.DataFrame | None:
        """:meth:`sweep` through ``plan`` (its sparsity left out), cached: the accuracy-vs-sparsity view.

        ``criterion`` replaces the plan's (its options dropped), e.g. ``"random"`` for the baseline
        curve. ``None`` for a per-layer plan, which has no single sparsity to sweep.
        """
        mode = plan.sweep_mode
        if mode is None:
            return None
        if criterion is not None and criterion != plan.criterion:
            plan = replace(plan, criterion=criterion, options=())
        key = (replace(plan, sparsity=0.0), tuple(float(s) for s in sparsities))
        if key not in self._sweeps:
            self._sweeps[key] = self.sweep(key[1], plan.criterion, mode, plan.granularity,
                                           normalize=plan.normalize, depth_bias=plan.depth_bias,
                                           s_max=plan.s_max, options=plan.options)
        return self._sweeps[key]

    def baselines(self) -> dict[str, float]:
        """Dense accuracies by metric (horizontal lines of the accuracy-vs-sparsity view)."""
        r = self.dense_report
        return {"overall": r.overall, "balanced": r.balanced, **r.by_group}

    def test_image(self, index: int) -> Tensor:
        """Live test item ``index`` as the model sees it, ``(C, H, W)`` on the CPU (normalised)."""
        if not 0 <= index < len(self._y):
            raise IndexError(f"index must be in [0, {len(self._y)}), got {index}")
        return self._inc.acts[0][index].cpu()

    def activations(self, layer: str, index: int = 0, masks: Masks | None = None) -> Tensor:
        """Feature maps ``(C, H, W)`` that conv ``layer`` outputs for test item ``index``.

        Uses the working copy as last masked (or ``masks`` if given, which are written first).
        """
        if masks is not None:
            self._inc.run(masks)
        mod = self._inc.work.get_submodule(layer.rsplit(".", 1)[0])
        if not isinstance(mod, nn.Conv2d):
            raise ValueError(f"{layer!r} is not a conv layer; pick one of {self.conv_layers}")
        if not 0 <= index < len(self._y):
            raise IndexError(f"index must be in [0, {len(self._y)}), got {index}")
        out: list[Tensor] = []
        h = mod.register_forward_hook(lambda _m, _i, o: out.append(o[0].detach().cpu()))
        try:
            with torch.no_grad():
                self._inc.work(self._inc.acts[0][index:index + 1])
        finally:
            h.remove()
        return out[0]

    def class_details(self, trial: Trial, cls: int, k: int = 8) -> tuple[pd.DataFrame, Tensor, Tensor]:
        """What the pruned model does with the test items of class ``cls``.

        Returns ``(row, images, predicted)``: ``row`` is the class's confusion row (columns
        ``predicted, name, count, share``, sorted by count, the diagonal included), ``images``
        up to ``k`` misclassified items ``(k, C, H, W)`` as the model sees them (normalised) and
        ``predicted`` their predicted labels. Computed from ``trial.pred``: no forward pass.
        """
        if trial.pred is None:
            raise ValueError("this trial carries no predictions; make it with lab.prune / lab.evaluate_masks")
        if not 0 <= int(cls) < self.data.num_classes:
            raise IndexError(f"class must be in [0, {self.data.num_classes}), got {cls}")
        mine = self._y.cpu() == int(cls)
        pred = trial.pred[mine]
        counts = torch.bincount(pred, minlength=self.data.num_classes)
        names = list(self.data.classes)
        row = pd.DataFrame({"predicted": range(self.data.num_classes), "name": names, "count": counts.numpy()})
        row = row[row["count"] > 0].sort_values(["count", "predicted"], ascending=[False, True])
        row["share"] = row["count"] / max(int(mine.sum()), 1)
        wrong = torch.nonzero(mine & (trial.pred != self._y.cpu())).flatten()[:k]
        return row.reset_index(drop=True), self._inc.acts[0][wrong.to(self._inc.acts[0].device)].cpu(), trial.pred[wrong]

    # -- beyond the live loop -----------------------------------------------------------------------
    def pruned_model(self, trial: Trial) -> nn.Module:
        """A standalone copy of the dense model with the trial's masks applied."""
        return trial.model if trial.model is not None else apply_masks(self.dense, trial.masks)

    def compact(self, trial: Trial, batch_size: int = 64) -> tuple[nn.Module, pd.DataFrame]:
        """Physically remove the trial's pruned filters; return the small model and a cost table.

        The table compares dense, masked and compacted models side by side (params, MACs and
        latency measured in one run), which is where "speedup not realised" becomes visible.
        """
        example = self._inc.acts[0][:2]
        small = compact(self.dense, trial.masks, example)
        rows = []
        for name, m in (("dense", self.dense), ("masked", self.pruned_model(trial)), ("compacted", small)):
            c = measure_cost(m, self.input_shape, batch_size=batch_size, device=self.device)
            rows.append({"model": name, **{k: c[k] for k in ("params", "nonzero_params", "MACs",
                                                             "nonzero_MACs", "latency_ms")}})
        return small, pd.DataFrame(rows)

    def finetune(self, trial: Trial, epochs: int = 5, lr: float = 1e-3, progress: bool = True,
                 callback: Callback | None = None, **config: Any) -> Trial:
        """Fine-tune a copy of the pruned model with its masks held fixed, and evaluate it.

        ``config``: further :class:`~labkit.training.FitConfig` fields (``loss``, ``batch_size``,
        ``schedule`` ...); ``callback(epoch, history, model)`` runs after every epoch.
        """
        from ..training import FitConfig, finetune

        cfg = FitConfig(epochs=epochs, lr=lr, seed=self.seed, device=self.device, progress=progress,
                        class_counts=self.data.class_counts, **config)
        model = finetune(self.dense, self.data.train, cfg, masks=expand_masks(self.dense, trial.masks),
                         callback=callback)  # a trainable copy of the frozen dense
        model.eval()
        x = self._inc.acts[0]
        with torch.no_grad():
            logits = torch.cat([model(x[i:i + 1024]) for i in range(0, len(x), 1024)])
        plan = replace(trial.plan, options=trial.plan.options + (("finetune_epochs", epochs),))
        c = measure_cost(model, self.input_shape, latency=False)
        return Trial(plan, trial.masks, trial.allocation, self._report(logits), self.dense_report,
                     {k: c[k] for k in ("params", "nonzero_params", "MACs", "nonzero_MACs")},
                     0, float("nan"), self.preview, model, pred=logits.argmax(1).cpu())

    def save(self, trial: Trial, folder: str | os.PathLike) -> Path:
        """Write ``masks.safetensors`` and ``plan.json`` (plan, results, seed, versions) atomically."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        record = {"model": self.model_name, "dataset": self.data.name, "dataset_meta_seed": self.data.meta.get("seed"),
                  "plan": trial.plan.to_dict(), "seed": self.seed, "versions": versions(),
                  "summary": json.loads(trial.summary().to_json(orient="records"))[0]}
        trial.masks.save(folder / "masks.safetensors", meta=record)
        atomic_write(folder / "plan.json", json.dumps(record, indent=2, default=str))
        return folder
