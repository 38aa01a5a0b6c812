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
- a stratified *preview* of large test sets (``preview`` items, every class represented): live
  views use it, :meth:`Lab.full_report` evaluates on everything.

Example:
    >>> lab = Lab("resnet20", "digits-lt")
    >>> t = lab.prune(sparsity=0.5)
    >>> round(t.masks.sparsity, 2), t.report.balanced <= 1.0
    (0.5, True)
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import pandas as pd
import torch
from torch import Tensor, nn

from .analysis.cost import cost as measure_cost
from .analysis.evaluate import ClassReport, evaluate, evaluate_predictions
from .analysis.incremental import IncrementalForward
from .criteria import Scores, score
from .data import LabData, load_dataset
from .models import load_model, prunable_parameters
from .pruning import Masks, Ranking, apply_masks, compact, expand_masks, merge_masks, overlap
from .pruning.allocate import check_sparsity
from .runtime import resolve_device, seed_everything, versions

if TYPE_CHECKING:  # annotations only: these modules load on first use
    from .criteria.influence import InfluenceCurves, WeibullFits
    from .pruning.rescue import RescueResult

__all__ = ["Lab", "Plan", "Trial", "ALLOCATION_MODES"]

ALLOCATION_MODES = ("global", "uniform", "layered", "per-layer")


@dataclass(frozen=True)
class Plan:
    """Everything that decides a pruning: saved next to the masks, so a result can be re-made."""

    criterion: str = "magnitude"  # a name from lk.list_criteria()
    sparsity: float = 0.5         # fraction of the prunable units removed, in [0, 1)
    mode: str = "global"          # global | uniform | layered | per-layer
    granularity: str = "weight"   # weight (unstructured) | filter (output channels)
    # per-layer score normalisation for global ranking: auto|none|l2|minmax|mean. "auto" is "none"
    # for weights (classic global magnitude pruning) and "l2" for filters: raw filter norms differ by
    # orders of magnitude between layers, so one global threshold would empty the early layers.
    normalize: str = "auto"
    depth_bias: float = 0.5       # delta of the layered profile (docs/methods.md §1.3)
    s_max: float = 0.95           # per-layer ceiling of the layered profile
    layer_sparsity: tuple[tuple[str, float], ...] = ()  # mode="per-layer": (layer, sparsity) pairs
    options: tuple[tuple[str, Any], ...] = ()           # criterion options, e.g. (("p", 2),)

    @property
    def resolved_normalize(self) -> str:
        """The normalisation actually used: ``"auto"`` resolved by granularity (see ``normalize``)."""
        if self.normalize != "auto":
            return self.normalize
        return "l2" if self.granularity == "filter" else "none"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["layer_sparsity"] = dict(self.layer_sparsity)
        d["options"] = dict(self.options)
        return d


@dataclass
class Trial:
    """One pruning of the lab's dense model: the plan, the masks and what they did."""

    plan: Plan
    masks: Masks
    allocation: dict[str, float]
    report: ClassReport
    dense: ClassReport
    cost: dict[str, Any]
    first_stage: int             # first stage re-run (len(stages) = nothing changed)
    eval_ms: float               # masks -> per-class report, wall time
    preview: bool = False        # report computed on the stratified preview only
    model: nn.Module | None = field(default=None, repr=False)  # set for fine-tuned trials
    pred: Tensor | None = field(default=None, repr=False)       # predicted labels of the live test items

    def layers(self) -> pd.DataFrame:
        """Per-layer ``layer, sparsity, n_params`` (the sparsity-profile view's input)."""
        return pd.DataFrame([{"layer": n, "sparsity": 1.0 - float(m.float().mean()), "n_params": m.numel()}
                             for n, m in self.masks.items()])

    def summary(self) -> pd.DataFrame:
        """One row: plan, accuracies (pruned and dense), sparsity, params and MACs."""
        row: dict[str, Any] = {"criterion": self.plan.criterion, "mode": self.plan.mode,
                               "granularity": self.plan.granularity, "target": self.plan.sparsity,
                               "sparsity": self.masks.sparsity}
        for key in ("overall", "balanced"):
            row[key], row[f"dense_{key}"] = getattr(self.report, key), getattr(self.dense, key)
        for g, v in self.report.by_group.items():
            row[g], row[f"dense_{g}"] = v, self.dense.by_group.get(g, float("nan"))
        row.update({k: self.cost[k] for k in ("params", "nonzero_params", "MACs", "nonzero_MACs")})
        return pd.DataFrame([row])


def _stratified(targets: Tensor, n: int, seed: int) -> Tensor:
    """About ``n`` indices with every class represented in proportion (at least one each)."""
    g = torch.Generator().manual_seed(seed)
    classes = torch.unique(targets)
    per = max(1, n // len(classes))
    idx = [torch.nonzero(targets == c).flatten() for c in classes]
    picks = [i[torch.randperm(len(i), generator=g)[:per]] for i in idx]
    return torch.sort(torch.cat(picks)).values


class Lab:
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
        preview: live views evaluate at most this many test items (stratified); ``None`` = all.
    """

    def __init__(self, model: str | nn.Module = "resnet20", dataset: str | LabData = "digits-lt", *,
                 pretrained: bool = True, dataset_kwargs: Mapping[str, Any] | None = None,
                 device: str | torch.device | None = None, seed: int = 0, exclude_first: bool = True,
                 exclude_last: bool = True, preview: int | None = 2000) -> None:
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
            self.model_name = type(model).__name__
        meta = getattr(model, "labkit_meta", {}) or {}
        if isinstance(dataset, str):
            kw = dict(meta.get("dataset_kwargs", {})) if dataset_kwargs is None else dict(dataset_kwargs)
            dataset = load_dataset(dataset, **kw)
        self.data: LabData = dataset
        self.dense: nn.Module = model.to(self.device).eval()
        for p in self.dense.parameters():
            p.requires_grad_(False)
        self.layers: list[str] = prunable_parameters(self.dense, exclude_first, exclude_last)
        self._exclude = (exclude_first, exclude_last)
        self.input_shape = tuple(self.data.input_shape)

        x, y = self.data.test.tensors()
        self.preview = preview is not None and len(y) > preview
        if self.preview:
            keep = _stratified(y, int(preview), seed)
            x, y = x[keep], y[keep]
        self._y = y
        self._inc = IncrementalForward(self.dense, x.to(self.device))
        self.dense_report = self._report(self._inc.logits)
        self._scores: dict[tuple, Scores] = {}
        self._rankings: dict[tuple, Ranking] = {}
        self._extras: dict[tuple, Any] = {}  # method views' results (influence curves, rescue searches)
        self._positions = self._output_positions()
        self.dense_cost = measure_cost(self.dense, self.input_shape, latency=False)

    def __repr__(self) -> str:
        return (f"Lab({self.model_name!r}, {self.data.name!r}, device={self.device.type}, "
                f"layers={len(self.layers)}, dense balanced={self.dense_report.balanced:.3f})")

    @property
    def targets(self) -> Tensor:
        """Labels of the test items the live views evaluate (the preview, if one is used)."""
        return self._y

    @property
    def conv_layers(self) -> list[str]:
        """Prunable conv layers (those :meth:`activations` can show)."""
        return [n for n in self.layers if isinstance(self.dense.get_submodule(n.rsplit(".", 1)[0]), nn.Conv2d)]

    # -- scores and rankings (cached) -----------------------------------------------------------
    def _key(self, criterion: str, granularity: str, options: Mapping[str, Any]) -> tuple:
        return (criterion, granularity, tuple(sorted((k, repr(v)) for k, v in options.items())))

    def scores(self, criterion: str = "magnitude", granularity: str = "weight", **options: Any) -> Scores:
        """Scores of the prunable layers, computed once per (criterion, granularity, options).

        Data-driven criteria (activations, gradients, attributions) see the balanced
        validation split, never the test items the views report on.
        """
        key = self._key(criterion, granularity, options)
        if key not in self._scores:
            opts = {"seed": self.seed, **options} if criterion == "random" else dict(options)
            self._scores[key] = score(self.dense, criterion, data=self.data.val, granularity=granularity,
                                      layers=self.layers, **opts)
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
        if "layer_sparsity" in kw and isinstance(kw["layer_sparsity"], Mapping):
            kw["layer_sparsity"] = tuple(sorted(kw["layer_sparsity"].items()))
        if "options" in kw and isinstance(kw["options"], Mapping):
            kw["options"] = tuple(sorted(kw["options"].items()))
        p = Plan(**kw)
        if p.mode not in ALLOCATION_MODES:
            raise ValueError(f"mode must be one of {ALLOCATION_MODES}, got {p.mode!r}")
        check_sparsity(p.sparsity)
        if p.mode == "per-layer":
            unknown = [n for n, _ in p.layer_sparsity if n not in self.layers]
            if unknown:
                raise KeyError(f"unknown layer(s) {unknown}; prunable layers: {', '.join(self.layers)}")
        return p

    def masks(self, plan: Plan) -> Masks:
        """Masks for ``plan`` from the cached ranking (no re-scoring, no re-sorting)."""
        r = self.ranking(plan.criterion, plan.granularity, **dict(plan.options))
        if plan.mode == "per-layer":
            alloc = r.allocate(dict(plan.layer_sparsity), mode="global")
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

    def _output_positions(self) -> dict[str, int]:
        """Output positions per item of every conv / linear (``H_out*W_out``; 1 for linear)."""
        pos: dict[str, int] = {}
        hooks = []
        for n, m in self.dense.named_modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                def hook(mod: nn.Module, _i: Any, out: Tensor, n: str = n) -> None:
                    pos[f"{n}.weight"] = out[0].numel() // out.shape[1]
                hooks.append(m.register_forward_hook(hook))
        try:
            with torch.no_grad():
                self.dense(self._inc.acts[0][:1])
        finally:
            for h in hooks:
                h.remove()
        return pos

    def _live_cost(self) -> dict[str, Any]:
        """Params and MACs of the working copy as masked now, without a forward pass.

        ``nonzero_MACs`` charges each conv / linear ``H_out*W_out*nnz(W)`` (the same definition
        as :func:`labkit.analysis.cost`); dense hardware still does ``MACs`` until
        :meth:`compact` removes filters physically.
        """
        work = self._inc.work
        nnz_params = sum(int(torch.count_nonzero(p)) for p in work.parameters())
        zero_macs = sum(self._positions[n] * (p.numel() - int(torch.count_nonzero(p)))
                        for n, p in work.named_parameters() if n in self._positions)
        return {"params": self.dense_cost["params"], "nonzero_params": nnz_params,
                "MACs": self.dense_cost["MACs"], "nonzero_MACs": self.dense_cost["MACs"] - zero_macs}

    def evaluate_masks(self, masks: Masks | None, plan: Plan | None = None,
                       incremental: bool = True) -> Trial:
        """Write ``masks`` into the working copy and report per-class accuracy and cost."""
        t0 = time.perf_counter()
        logits, first = self._inc.run(masks, full=not incremental)
        report = self._report(logits)
        ms = (time.perf_counter() - t0) * 1e3
        masks = masks if masks is not None else Masks({}, "weight")
        alloc = {n: 1.0 - float(m.float().mean()) for n, m in masks.items()}
        return Trial(plan or Plan(criterion="given", sparsity=masks.sparsity if len(masks) else 0.0),
                     masks, alloc, report, self.dense_report, self._live_cost(), first, ms, self.preview,
                     pred=logits.argmax(1).cpu())

    def prune(self, criterion: str = "magnitude", sparsity: float = 0.5, mode: str = "global",
              granularity: str = "weight", *, incremental: bool = True, **kw: Any) -> Trial:
        """Score (cached), allocate, mask and evaluate: one slider move.

        Extra keywords are :class:`Plan` fields (``normalize``, ``depth_bias``, ``s_max``,
        ``layer_sparsity`` for ``mode="per-layer"``, ``options`` for the criterion).
        """
        plan = self.plan(criterion=criterion, sparsity=sparsity, mode=mode, granularity=granularity, **kw)
        return self.evaluate_masks(self.masks(plan), plan, incremental=incremental)

    def merge(self, candidates: Sequence[Trial | Masks], weights: Sequence[float] | None = None,
              mode: str = "weighted") -> Trial:
        """Merge candidate masks (each layer keeps its budget) and evaluate the result."""
        masks = [c.masks if isinstance(c, Trial) else c for c in candidates]
        # Scores break ties and fill the intersection-first budget by importance; a trial's plan
        # names the cached scores it was made from (merged or hand-made masks have none).
        scores = [self._scores.get(self._key(c.plan.criterion, c.plan.granularity, dict(c.plan.options)))
                  if isinstance(c, Trial) else None for c in candidates]
        merged = merge_masks(masks, weights=weights, mode=mode,
                             scores=scores if all(s is not None for s in scores) else None)
        return self.evaluate_masks(merged, Plan(criterion=f"merge:{mode}", sparsity=merged.sparsity))

    def overlap(self, a: Trial | Masks, b: Trial | Masks) -> pd.DataFrame:
        """Per-layer Jaccard overlap of two trials' kept sets."""
        return overlap(a.masks if isinstance(a, Trial) else a, b.masks if isinstance(b, Trial) else b)

    def overlap_matrix(self, named: Mapping[str, Trial | Masks]) -> pd.DataFrame:
        """K x K total Jaccard overlap between named masks (the mask-overlap heatmap's input)."""
        ms = {k: (v.masks if isinstance(v, Trial) else v) for k, v in named.items()}
        names = list(ms)
        mat = [[overlap(ms[a], ms[b]).attrs["total"]["jaccard"] for b in names] for a in names]
        return pd.DataFrame(mat, index=names, columns=names)

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

    # -- the methods' live views (docs/methods.md §1-§5) --------------------------------------------------
    def val_accuracy(self, trial: Trial) -> float:
        """Balanced accuracy of ``trial`` on the validation split (what merge weights may see)."""
        return evaluate(self.pruned_model(trial), self.data.val, device=self.device, n_boot=0).balanced

    def merge_weights(self, trials: Mapping[str, Trial], tau: float = 20.0,
                      accuracy: Mapping[str, float] | None = None) -> dict[str, float]:
        """Method 1's merge weights α_k = softmax(τ · balanced validation accuracy) (docs/methods.md §1.4).

        Validation, not test: the views report on the test split, so choosing weights there would
        leak it. ``tau=0`` gives equal weights; a large τ puts all the weight on the best candidate.
        ``accuracy``: the candidates' :meth:`val_accuracy` if the caller has them already.
        """
        from .training.trainers import merge_weights

        acc = [accuracy[c] if accuracy is not None else self.val_accuracy(t) for c, t in trials.items()]
        return dict(zip(trials, (float(a) for a in merge_weights(acc, tau=tau))))

    def kept_filters(self, criteria: Sequence[str], sparsity: float, mode: str = "uniform",
                     normalize: str = "l2") -> pd.DataFrame:
        """Method 4's view data: filters kept per layer for each criterion at one filter sparsity.

        Rows ``criterion, ranking, layer, kept, total``; ``mode="uniform"`` is the per-layer ranking of
        docs/methods.md §4.2 and ``"global"`` the global one (with ``normalize``).
        """
        rows = []
        for c in criteria:  # masks only, from the cached ranking: nothing is evaluated here
            m = self.masks(self.plan(criterion=c, sparsity=sparsity, mode=mode, granularity="filter",
                                     normalize=normalize if mode == "global" else "none"))
            rows += [{"criterion": c, "ranking": "per-layer" if mode == "uniform" else "global", "layer": n,
                      "kept": int(k.sum()), "total": k.numel()} for n, k in m.items()]
        return pd.DataFrame(rows)

    def influence(self, layer: str, max_items: int = 32) -> tuple[InfluenceCurves, WeibullFits]:
        """Method 5's domino influence of every channel of conv ``layer``: curves and Weibull fits.

        Exact ablation curves Δ_d on ``max_items`` validation images
        (:func:`labkit.criteria.influence.influence_curves`) and their fit
        S(t) ≈ exp(-(t/λ)^k) (:func:`~labkit.criteria.influence.fit_weibull`); cached per layer.
        Returns ``(curves, fits)``: ``curves.survival(layer)`` is the (C, T) survival matrix,
        ``fits.k``, ``fits.lam``, ``fits.r2`` one entry per channel.
        """
        from .criteria.influence import fit_weibull, influence_curves

        if layer not in self.conv_layers:
            raise KeyError(f"{layer!r} is not a prunable conv layer; pick one of {self.conv_layers}")
        key = ("influence", layer, max_items)
        if key not in self._extras:
            curves = influence_curves(self.dense, self.data.val, [layer], max_items=max_items)
            self._extras[key] = (curves, fit_weibull(curves.survival(layer)))
        return self._extras[key]

    def rescue(self, sparsity: float, rho: float = 0.2, method: str = "ga", generations: int = 10,
               population: int = 12, max_items: int = 128, progress: bool = False) -> RescueResult:
        """Method 3: magnitude masks plus small weights chosen by an optimizer (docs/methods.md §3.1).

        Runs :func:`labkit.pruning.rescue.rescue` on ``max_items`` validation images (the
        calibration set; never the test split) and caches the :class:`RescueResult` per setting.
        """
        from .pruning.rescue import rescue

        key = ("rescue", sparsity, rho, method, generations, population, max_items)
        if key not in self._extras:
            x, y = self.data.val.tensors()
            self._extras[key] = rescue(self.dense, (x[:max_items], y[:max_items]), sparsity, rho=rho,
                                       method=method, generations=generations, population=population,
                                       elite=max(1, population // 4), seed=self.seed, progress=progress,
                                       exclude_first=self._exclude[0], exclude_last=self._exclude[1])
        return self._extras[key]

    # -- beyond the live loop -----------------------------------------------------------------------
    def pruned_model(self, trial: Trial) -> nn.Module:
        """A standalone copy of the dense model with the trial's masks applied."""
        return trial.model if trial.model is not None else apply_masks(self.dense, trial.masks)

    def full_report(self, trial: Trial) -> ClassReport:
        """Per-class report of ``trial`` on the whole test split (not only the preview)."""
        return evaluate(self.pruned_model(trial), self.data.test, groups=self.data.groups,
                        classes=self.data.classes, class_counts=self.data.class_counts,
                        device=self.device, seed=self.seed)

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
                 **fit_kw: Any) -> Trial:
        """Fine-tune a copy of the pruned model with its masks held fixed, and evaluate it."""
        from .training import finetune

        model = finetune(self.dense, self.data.train, masks=expand_masks(self.dense, trial.masks),
                         epochs=epochs, lr=lr, seed=self.seed, device=self.device, progress=progress,
                         class_counts=self.data.class_counts, **fit_kw)  # a trainable copy of the frozen dense
        model.eval()
        x = self._inc.acts[0]
        with torch.no_grad():
            logits = torch.cat([model(x[i:i + 1024]) for i in range(0, len(x), 1024)])
        plan = replace(trial.plan, options=trial.plan.options + (("finetune_epochs", epochs),))
        c = measure_cost(model, self.input_shape, latency=False)
        return Trial(plan, trial.masks, trial.allocation, self._report(logits), self.dense_report,
                     {k: c[k] for k in ("params", "nonzero_params", "MACs", "nonzero_MACs")},
                     0, float("nan"), self.preview, model, pred=logits.argmax(1).cpu())

    def app(self, **options: Any) -> Any:
        """The whole lab as one ipywidgets widget (JupyterLab, VS Code, Colab): ``lab.app()``.

        Controls, readout, per-class / group / profile / curve / cost views, merging with the
        clickable overlap widget, filter activations, the methods' views and fine-tune / save /
        report. ``options`` go to :class:`labkit.ui.jupyter_app.LabApp` (``candidates``,
        ``sweep``, ``out_dir``, ``dpi``). Needs the ``lab`` extra (ipywidgets, anywidget).
        """
        from .ui.jupyter_app import lab_app

        return lab_app(self, **options)

    def save(self, trial: Trial, folder: str | os.PathLike) -> Path:
        """Write ``masks.safetensors`` and ``plan.json`` (plan, results, seed, versions) atomically."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        record = {"model": self.model_name, "dataset": self.data.name, "dataset_meta_seed": self.data.meta.get("seed"),
                  "plan": trial.plan.to_dict(), "seed": self.seed, "versions": versions(),
                  "summary": json.loads(trial.summary().to_json(orient="records"))[0]}
        trial.masks.save(folder / "masks.safetensors", meta=record)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(record, f, indent=2, default=str)
        os.chmod(tmp, 0o644)
        os.replace(tmp, folder / "plan.json")
        return folder
