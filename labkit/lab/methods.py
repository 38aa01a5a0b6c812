"""The five methods' live views on a :class:`~labkit.lab.Lab`, one call per view.

Each method of docs/methods.md has a view the lab notebooks draw from one call here, so marimo,
Jupyter and reports compute it the same way:

- merging (method 1, §1.4): :meth:`MethodViews.merging` prunes each candidate, weighs them
  (α = softmax(τ · balanced validation accuracy), or hand-set weights) and merges;
- optimization-chosen small weights (method 3, §3.1): :meth:`MethodViews.compare_rescue`;
- filter criteria for transfer learning (method 4, §4.2): :meth:`MethodViews.filter_criteria`;
- domino influence (method 5, §5.2): :meth:`MethodViews.influence`.

Example:
    >>> from labkit import Lab
    >>> lab = Lab("resnet20", "digits-lt")
    >>> m = lab.merging(["magnitude", "random"], sparsity=0.5, tau=20)
    >>> sorted(m.trials), round(sum(m.alpha.values()), 6)
    (['magnitude', 'merged', 'random'], 1.0)
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
from torch import nn

from ..analysis.evaluate import evaluate
from ..data import LabData
from ..pruning import Masks, overlap, overlap_matrix
from ..training.trainers import merge_weights as softmax_weights
from .plan import Plan, Trial

if TYPE_CHECKING:
    from ..criteria.influence import InfluenceCurves, WeibullFits
    from ..pruning.rescue import RescueResult

__all__ = ["FilterChoice", "Merging", "MethodViews", "RescueComparison"]


def _masks(x: Trial | Masks) -> Masks:
    return x.masks if isinstance(x, Trial) else x


@dataclass
class Merging:
    """Candidates, their weights and the merged mask, each evaluated (the merge view's data)."""

    trials: dict[str, Trial]  # the candidates by criterion, then "merged"
    alpha: dict[str, float]   # weight of each candidate (sums to 1)
    val: dict[str, float]     # balanced validation accuracy of each mask, "merged" included
    mode: str                 # merge mode (weighted | majority | intersection-first ...)
    matrix: pd.DataFrame      # K+1 x K+1 Jaccard overlap of the kept sets

    def table(self) -> pd.DataFrame:
        """One row per mask: ``mask, α, val balanced, test balanced`` and the test accuracy per group."""
        return pd.DataFrame([{"mask": c if c != "merged" else f"merged ({self.mode})",
                              "α": self.alpha.get(c, float("nan")), "val balanced": self.val[c],
                              "test balanced": t.report.balanced, **t.report.by_group}
                             for c, t in self.trials.items()])


@dataclass
class RescueComparison:
    """Method 3's view: the searched masks against magnitude at the same per-layer budgets."""

    picked: RescueResult  # the search's result (masks, large and rescued parts, fitness history)
    searched: Trial       # its masks, evaluated one-shot
    magnitude: Trial      # magnitude pruning, uniform allocation, same sparsity
    layer: str            # the layer where the search rescued most weights (the histogram's layer)


@dataclass
class FilterChoice:
    """Method 4's view: filters kept per layer and one-shot accuracy, per criterion and ranking."""

    kept: pd.DataFrame      # criterion, ranking, layer, kept, total
    accuracy: pd.DataFrame  # criterion x ranking (per-layer, global): balanced test accuracy


class MethodViews:
    """Mixin of :class:`~labkit.lab.Lab`: the methods' views (needs the lab's prune/masks/caches)."""

    dense: nn.Module
    data: LabData
    device: Any
    seed: int
    layers: list[str]
    _exclude: tuple[bool, bool]
    _extras: dict[tuple, Any]

    if TYPE_CHECKING:  # provided by Lab
        def prune(self, criterion: str = ..., sparsity: float = ..., mode: str = ..., granularity: str = ...,
                  **kw: Any) -> Trial: ...
        def plan(self, **kw: Any) -> Plan: ...
        def masks(self, plan: Plan) -> Masks: ...
        def evaluate_masks(self, masks: Masks | None, plan: Plan | None = None,
                           incremental: bool = True) -> Trial: ...
        def pruned_model(self, trial: Trial) -> nn.Module: ...
        def merge(self, candidates: Sequence[Trial | Masks], weights: Sequence[float] | None = None,
                  mode: str = "weighted") -> Trial: ...

    @property
    def conv_layers(self) -> list[str]:
        """Prunable conv layers (those :meth:`activations` and :meth:`influence` can show)."""
        return [n for n in self.layers if isinstance(self.dense.get_submodule(n.rsplit(".", 1)[0]), nn.Conv2d)]

    # -- overlap and merging (method 1) ---------------------------------------------------------------
    def overlap(self, a: Trial | Masks, b: Trial | Masks) -> pd.DataFrame:
        """Per-layer Jaccard overlap of two trials' kept sets."""
        return overlap(_masks(a), _masks(b))

    def overlap_matrix(self, named: Mapping[str, Trial | Masks]) -> pd.DataFrame:
        """K x K total Jaccard overlap between named masks (the mask-overlap heatmap's input)."""
        return overlap_matrix({k: _masks(v) for k, v in named.items()})

    def val_accuracy(self, trial: Trial) -> float:
        """Balanced accuracy of ``trial`` on the validation split (what merge weights may see)."""
        return evaluate(self.pruned_model(trial), self.data.val, device=self.device, n_boot=0).balanced

    def merge_weights(self, trials: Mapping[str, Trial], tau: float = 20.0, *,
                      weights: Mapping[str, float] | None = None,
                      accuracy: Mapping[str, float] | None = None) -> dict[str, float]:
        """The weight α each candidate gets in a merge.

        Method 1's rule (docs/methods.md §1.4): α_k = softmax(τ · balanced *validation* accuracy);
        validation, not test, since the views report on the test split. ``tau=0`` gives equal
        weights. ``weights``: hand-set weights instead, normalised to sum 1 (all zero: equal).
        ``accuracy``: the candidates' :meth:`val_accuracy` if the caller has them already.
        """
        if weights is not None:
            w = {c: float(weights[c]) for c in trials}
            total = sum(w.values())
            return {c: (v / total if total > 0 else 1.0 / len(w)) for c, v in w.items()}
        acc = [accuracy[c] if accuracy is not None else self.val_accuracy(t) for c, t in trials.items()]
        return dict(zip(trials, (float(a) for a in softmax_weights(acc, tau=tau))))

    def merging(self, criteria: Sequence[str], *, tau: float = 20.0, weights: Mapping[str, float] | None = None,
                merge_mode: str = "weighted", **plan: Any) -> Merging:
        """Prune with each criterion under the same ``plan`` fields, weigh the candidates and merge.

        ``plan``: :class:`Plan` fields but the criterion (``sparsity``, ``mode``, ``granularity``,
        ...). ``weights`` hand-set, else method 1's softmax with temperature ``tau``.
        """
        if len(criteria) < 2:
            raise ValueError(f"merging needs at least two criteria, got {list(criteria)}")
        plan.pop("criterion", None)
        trials = {c: self.prune(criterion=c, **plan) for c in criteria}
        val = {c: self.val_accuracy(t) for c, t in trials.items()}
        alpha = self.merge_weights(trials, tau, weights=weights, accuracy=val)
        merged = self.merge(list(trials.values()), weights=list(alpha.values()), mode=merge_mode)
        everything = {**trials, "merged": merged}
        return Merging(everything, alpha, {**val, "merged": self.val_accuracy(merged)}, merge_mode,
                       self.overlap_matrix(everything))

    # -- method 3 -----------------------------------------------------------------------------------
    def rescue(self, sparsity: float, rho: float = 0.2, method: str = "ga", generations: int = 10,
               population: int = 12, max_items: int = 128, progress: bool = False) -> RescueResult:
        """Method 3: magnitude masks plus small weights chosen by an optimizer (docs/methods.md §3.1).

        Runs :func:`labkit.pruning.rescue.rescue` on ``max_items`` validation images (the
        calibration set; never the test split) and caches the :class:`RescueResult` per setting.
        """
        from ..pruning.rescue import GAOptions, PSOOptions, SearchOptions, rescue

        searches: dict[str, SearchOptions] = {
            "ga": GAOptions(population=population, generations=generations, elite=max(1, population // 4)),
            "pso": PSOOptions(population=population, generations=generations)}
        if method not in searches:
            raise ValueError(f"the lab's live view runs {sorted(searches)}, got {method!r}; the other searches "
                             "(labkit.pruning.rescue.list_searches()) run through labkit.pruning.rescue.rescue")
        key = ("rescue", sparsity, rho, method, generations, population, max_items)
        if key not in self._extras:
            x, y = self.data.val.tensors()
            self._extras[key] = rescue(self.dense, (x[:max_items], y[:max_items]), sparsity, searches[method],
                                       rho=rho, seed=self.seed, progress=progress,
                                       exclude_first=self._exclude[0], exclude_last=self._exclude[1])
        return self._extras[key]

    def compare_rescue(self, sparsity: float, rho: float = 0.2, method: str = "ga",
                       generations: int = 10) -> RescueComparison:
        """:meth:`rescue`, evaluated one-shot next to magnitude pruning at the same per-layer budgets."""
        picked = self.rescue(sparsity, rho=rho, method=method, generations=int(generations))
        layer = max(picked.masks, key=lambda n: int(picked.rescued[n].sum()))
        return RescueComparison(picked, self.evaluate_masks(picked.masks),
                                self.prune("magnitude", sparsity, "uniform"), layer)

    # -- method 4 -----------------------------------------------------------------------------------
    def kept_filters(self, criteria: Sequence[str], sparsity: float, mode: str = "uniform",
                     normalize: str = "l2") -> pd.DataFrame:
        """Filters kept per layer for each criterion at one filter sparsity (masks only, no evaluation).

        Rows ``criterion, ranking, layer, kept, total``; ``mode="uniform"`` is the per-layer ranking of
        docs/methods.md §4.2 and ``"global"`` the global one (with ``normalize``).
        """
        rows = []
        for c in criteria:
            m = self.masks(self.plan(criterion=c, sparsity=sparsity, mode=mode, granularity="filter",
                                     normalize=normalize if mode == "global" else "none"))
            rows += [{"criterion": c, "ranking": "per-layer" if mode == "uniform" else "global", "layer": n,
                      "kept": int(k.sum()), "total": k.numel()} for n, k in m.items()]
        return pd.DataFrame(rows)

    def filter_criteria(self, ratio: float,
                        criteria: Sequence[str] = ("magnitude", "mean_activation", "apoz")) -> FilterChoice:
        """Method 4's view: kept filters and one-shot balanced accuracy, per-layer and global ranking."""
        kept = pd.concat([self.kept_filters(criteria, ratio, "uniform"), self.kept_filters(criteria, ratio, "global")],
                         ignore_index=True)
        acc = pd.DataFrame([{"criterion": c, "ranking": "per-layer" if m == "uniform" else "global",
                             "balanced": self.prune(c, ratio, m, "filter").report.balanced}
                            for c in criteria for m in ("uniform", "global")])
        table = acc.pivot(index="criterion", columns="ranking", values="balanced").reindex(list(criteria))
        return FilterChoice(kept, table[["per-layer", "global"]].reset_index().rename_axis(columns=None))

    # -- method 5 -----------------------------------------------------------------------------------
    def influence(self, layer: str, max_items: int = 32) -> tuple[InfluenceCurves, WeibullFits]:
        """Method 5's domino influence of every channel of conv ``layer``: curves and Weibull fits.

        A layer needs :data:`~labkit.criteria.influence.FIT_DEPTHS` depth sites after it for the
        fit; with fewer (the last stage, or a one-stage module with functional activations) this
        raises a ``ValueError`` saying what can still be measured and why, instead of fitting noise.
        Exact ablation curves Δ_d on ``max_items`` validation images
        (:func:`labkit.criteria.influence.influence_curves`) and their fit
        S(t) ≈ exp(-(t/λ)^k) (:func:`~labkit.criteria.influence.fit_weibull`); cached per layer.
        Returns ``(curves, fits)``: ``curves.survival(layer)`` is the (C, T) survival matrix,
        ``fits.k``, ``fits.lam``, ``fits.r2`` one entry per channel.
        """
        from ..criteria.influence import FIT_DEPTHS, fit_weibull, influence_curves

        if layer not in self.conv_layers:
            raise KeyError(f"{layer!r} is not a prunable conv layer; pick one of {self.conv_layers}")
        key = ("influence", layer, max_items)
        if key not in self._extras:
            # a layer with too few depth sites after it raises saying what can be measured (not a degenerate fit)
            curves = influence_curves(self.dense, self.data.val, [layer], max_items=max_items, min_depths=FIT_DEPTHS)
            self._extras[key] = (curves, fit_weibull(curves.survival(layer)))
        return self._extras[key]
