"""The §1.5 pipeline of method 1 (docs/methods.md §1.5, §1.7) for one split and training seed, and its runs.

::

    θ0  = fit(CE, E0)                                   run A: the full dense baseline
    θ_k = finetune(θ0, trainer_k, E_aux); S_k = |θ_k|   labkit.training.trainers
    s_l = layered budgets (δ, s_max)                   labkit.pruning.allocate(mode="layered")
    M*  = weighted merge of M_k, α = softmax(τ a_k)    merge_trainers -> labkit.pruning.merge_candidates
    k*  = argmax α_k
    θ*  = finetune(θ_{k*} ⊙ M*, trainer k*, E_ft)       run E: the full method

with the controls B, C, D of §1.7 (:data:`~.settings.RUNS`). :func:`run_unit` runs one split,
:func:`run_study` every seed × class permutation, ``STUDY`` one unit each; :func:`pie_study`
counts PIEs (Hooker et al.) over K training seeds of one split.

Example:
    >>> study_units(LongTailSettings(seeds=(0, 1), permutations=(3,)))
    [{'seed': 0, 'permutation': 3}, {'seed': 1, 'permutation': 3}]
"""
from __future__ import annotations

import copy
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd
import torch
from torch import nn

from ...analysis.evaluate import ClassReport, evaluate
from ...analysis.pie import PIEReport, pie, predict_labels
from ...criteria import score
from ...data import LabData, Split
from ...models import load_model
from ...pruning import Allocation, Masks, allocate, make_masks
from ...pruning.merge import MergeResult, merge_candidates
from ...runtime import resolve_device
from ...training import FitConfig, fit
from ...training.trainers import (
    Trainer,
    TrainerResult,
    calibration_set,
    candidate_accuracy,
    check_common_start,
    get_trainer,
    merge_weights,
    soup,
    train_auxiliary,
)
from .._runner import Study
from .settings import COLUMNS, RUNS, LongTailSettings, load_unit_data, mix_seed, settings_dict

__all__ = ["TrainerMerge", "merge_trainers", "UnitResult", "run_unit", "run_study", "study_units", "unit_rows",
           "STUDY", "pie_study"]


@dataclass
class TrainerMerge(MergeResult):
    """One §1.4 merge at one sparsity: the candidates' masks and weights (:class:`~labkit.pruning.merge.MergeResult`),
    plus the layered ``allocation`` they share and each candidate's validation ``accuracy`` ``a_k``."""

    sparsity: float
    allocation: Allocation
    accuracy: dict[str, float]


def merge_trainers(results: Sequence[TrainerResult], sparsity: float, *, val: Split,
                   groups: Mapping[str, Sequence[int]], depth_bias: float = 0.5, s_max: float = 0.95,
                   tau: float = 20.0, mode: str = "weighted", weights: Sequence[float] | None = None,
                   weight_by: str = "balanced") -> TrainerMerge:
    """§1.3 + §1.4: layered budgets, one candidate mask per trainer, weights ``α``, the merged mask.

    Every candidate uses the same per-layer allocation (layered budgets depend only on layer
    sizes), and merging keeps each layer's budget, so the merged mask has exactly the
    candidates' per-layer sparsity. ``α_k = softmax(τ a_k)`` with ``a_k`` the ``weight_by``
    validation accuracy of ``θ_k ⊙ M_k``; ``weights`` overrides them by hand. ``best`` = ``k*``.
    The merge itself is :func:`labkit.pruning.merge_candidates` (named masks + weights).

    Raises:
        ValueError: candidates fine-tuned from different starts (not position-aligned).
    """
    results = list(results)
    check_common_start(results)
    alloc = allocate(results[0].scores, sparsity, mode="layered", depth_bias=depth_bias, s_max=s_max)
    cands = {r.name: r.candidate_mask(alloc) for r in results}
    check_common_start(list(cands.values()))
    acc = {r.name: candidate_accuracy(r.model, cands[r.name], val, groups, weight_by) for r in results}
    w = merge_weights(list(acc.values()), tau) if weights is None else weights
    m = merge_candidates(cands, w, mode=mode, scores={r.name: r.scores for r in results})
    m.merged.meta.update(merge_accuracy=acc)
    return TrainerMerge(m.candidates, m.alpha, m.merged, m.best, float(sparsity), alloc, acc)


@dataclass
class UnitResult:
    """Everything one (split, training seed) produced; ``rows`` go into the study table."""

    data: LabData
    seed: int
    permutation: int
    rows: list[dict[str, Any]]
    theta0: nn.Module | None = None
    candidates: list[TrainerResult] = field(default_factory=list)
    merges: dict[float, TrainerMerge] = field(default_factory=dict)
    models: dict[tuple[str, float], nn.Module] = field(default_factory=dict)
    reports: dict[tuple[str, float], ClassReport] = field(default_factory=dict)


def _soup_start(cands: Sequence[TrainerResult], best: TrainerResult, alpha: Mapping[str, float]) -> nn.Module:
    """docs/methods.md §1.5's "soup" start: the α-weighted average of the θ_k whose head matches θ_k*'s.

    Trainers with a cosine head (LDAM) and with a linear head are not averaged together; the
    best trainer is always in its own soup, so the soup of one model is θ_k* itself.
    """
    same = [c for c in cands if c.trainer.normed_head == best.trainer.normed_head]
    return soup([c.model for c in same], weights=[alpha[c.name] for c in same])  # α_best > 0: softmax


def _finetune(start: nn.Module, trainer: Trainer, data: LabData, settings: LongTailSettings,
              masks: Masks | None, device: Any, progress: bool) -> nn.Module:
    work = copy.deepcopy(start)  # the start stays a reference; fit writes θ ⊙ M into the copy first
    trainer.fit(work, data.train, FitConfig(epochs=settings.e_ft, class_counts=data.class_counts, device=device,
                                            progress=progress, **settings.fit_kwargs("finetune")), masks=masks)
    return work.eval()


def run_unit(data: LabData, seed: int, settings: LongTailSettings, *, permutation: int = -1,
             keep: bool = False, progress: bool = False) -> UnitResult:
    """Run the §1.5 pipeline and the §1.7 runs on one split with training seed ``seed``.

    ``keep=True`` also keeps θ0, the candidates, the merges, the models and the reports (for
    the views); otherwise only the table rows.
    """
    dev = resolve_device(settings.device)
    out = UnitResult(data, seed, permutation, [])
    groups, counts = data.groups, data.class_counts
    ft_seed = mix_seed(seed, 99)  # B, C, D, E see the same batch order: tighter paired differences

    def record(run: str, s: float, model: nn.Module, trainer: str, achieved: float, t0: float,
               alpha: Mapping[str, float] | None = None) -> None:
        rep = evaluate(model, data.test, groups=groups, classes=data.classes, class_counts=counts, n_boot=0)
        row = {"run": run, "sparsity": float(s), "seed": seed, "permutation": permutation,
               "overall": rep.overall, "balanced": rep.balanced,
               **{g: rep.by_group.get(g, float("nan")) for g in ("many", "medium", "few")},
               "trainer": trainer, "achieved": float(achieved),
               "alpha": json.dumps({k: round(v, 6) for k, v in alpha.items()}) if alpha else "",
               "seconds": round(time.perf_counter() - t0, 2), "n_test": len(data.test)}
        out.rows.append(row)
        if keep:
            out.models[(run, float(s))] = model
            out.reports[(run, float(s))] = rep

    t0 = time.perf_counter()
    torch.manual_seed(seed)  # same seed, same initial weights
    theta0 = load_model(settings.model, num_classes=data.num_classes, in_channels=data.input_shape[0])
    fit(theta0, data.train, FitConfig(epochs=settings.e0, loss="ce", seed=seed, device=dev, progress=progress,
                                      **settings.fit_kwargs("theta0")))
    theta0.eval()
    if "A" in settings.runs:
        record("A", 0.0, theta0, "ce", 0.0, t0)
    if "L" in settings.runs:  # the matched dense baseline: as many epochs as θ0 + auxiliary + fine-tune
        tl = time.perf_counter()
        longer = copy.deepcopy(theta0)
        fit(longer, data.train, FitConfig(epochs=settings.e_aux + settings.e_ft, loss="ce", seed=mix_seed(seed, 98),
                                          device=dev, progress=progress, **settings.fit_kwargs("finetune")))
        record("L", 0.0, longer.eval(), "ce", 0.0, tl)

    need_merge = {"B", "D", "E"} & set(settings.runs)  # only these need the auxiliary trainers
    calib = calibration_set(data.val, settings.calibration_per_class, seed) if settings.criterion == "taylor" else None
    aux = FitConfig(epochs=settings.e_aux, class_counts=counts, device=dev, progress=progress,
                    **settings.fit_kwargs("finetune"))
    cands = [train_auxiliary(theta0, get_trainer(name, seed=mix_seed(seed, k + 1)), data.train, aux,
                             criterion=settings.criterion, calibration=calib, exclude_first=settings.exclude_first)
             for k, name in enumerate(settings.trainers if need_merge else ())]
    by_name = {c.name: c for c in cands}
    if keep:
        out.theta0, out.candidates = theta0, cands

    controls: set[str] = set()
    sc0 = score(theta0, "magnitude", granularity="weight", exclude_first=settings.exclude_first)
    for s in settings.sparsities:
        s = float(s)
        if need_merge:
            t0 = time.perf_counter()
            mr = merge_trainers(cands, s, val=data.val, groups=groups, depth_bias=settings.depth_bias,
                              s_max=settings.s_max, tau=settings.tau, mode=settings.merge_mode,
                              weights=settings.weights, weight_by=settings.weight_by)
            merge_seconds = time.perf_counter() - t0
            if keep:
                out.merges[s] = mr
            best = by_name[mr.best]
            t_best = best.trainer.seeded(ft_seed)
            start = (best.model if settings.start == "best" else t_best.prepare(theta0) if settings.start == "theta0"
                     else _soup_start(cands, best, mr.alpha))
            if "B" in settings.runs and mr.best not in controls:
                tb = time.perf_counter()
                control = (_finetune(best.model, t_best, data, settings, None, dev, progress)
                           if settings.control == "matched" else best.model)
                record("B", 0.0, control, mr.best, 0.0, tb)
                controls.add(mr.best)
            if "D" in settings.runs:
                td = time.perf_counter()
                m = mr.candidates[mr.best]
                record("D", s, _finetune(start, t_best, data, settings, m, dev, progress), mr.best, m.sparsity, td,
                       {mr.best: 1.0})
            if "E" in settings.runs:  # its time: the merge plus its own fine-tune
                te = time.perf_counter() - merge_seconds
                record("E", s, _finetune(start, t_best, data, settings, mr.merged, dev, progress), mr.best,
                       mr.merged.sparsity, te, mr.alpha)
        if "C" in settings.runs:
            tc = time.perf_counter()
            m = make_masks(sc0, allocate(sc0, s, mode="uniform"))
            record("C", s, _finetune(theta0, get_trainer("ce", seed=ft_seed), data, settings, m, dev, progress),
                   "ce", m.sparsity, tc)
    return out


def run_study(settings: LongTailSettings = LongTailSettings(), *, progress: bool = False,
              units: list[UnitResult] | None = None) -> pd.DataFrame:
    """Every seed × permutation of ``settings``: the tidy table of :data:`COLUMNS`.

    ``units``, if given, receives each :class:`UnitResult` with its models kept (for views).
    The settings are in ``df.attrs["settings"]``.
    """
    perms: Sequence[int | None] = settings.permutations if settings.permutations is not None else (None,)
    rows: list[dict[str, Any]] = []
    for seed in settings.seeds:
        for p in perms:
            data = load_unit_data(settings, seed, p)
            u = run_unit(data, seed, settings, permutation=-1 if p is None else int(p), keep=units is not None,
                         progress=progress)
            rows += u.rows
            if units is not None:
                units.append(u)
    df = pd.DataFrame(rows, columns=COLUMNS)
    df.attrs["settings"] = settings_dict(settings)
    return df


def study_units(settings: LongTailSettings) -> list[dict[str, Any]]:
    """The study's units (:mod:`labkit.studies._runner`): one per seed x class order, in table order."""
    perms = settings.permutations if settings.permutations is not None else (-1,)
    return [{"seed": int(seed), "permutation": int(p)} for seed in settings.seeds for p in perms]


def unit_rows(settings: LongTailSettings, unit: dict[str, Any]) -> list[dict[str, Any]]:
    """One unit's rows: :func:`run_unit` on its split (what Ray runs as a task)."""
    p = int(unit["permutation"])
    data = load_unit_data(settings, unit["seed"], None if p < 0 else p)
    return run_unit(data, unit["seed"], settings, permutation=p).rows


STUDY = Study("longtail", units=study_units, run=unit_rows, axes=("seeds", "permutations"), columns=tuple(COLUMNS),
              settings_dict=settings_dict, volatile=("seconds",))
"""The study for :func:`labkit.studies._runner.run_units` (``--ray`` / ``--address`` on the CLI)."""


def pie_study(settings: LongTailSettings = LongTailSettings(), *, k: int = 5, seed: int | None = None,
              permutation: int | None = None, sparsity: float | None = None, dense_run: str = "B",
              pruned_run: str = "E", progress: bool = False) -> PIEReport:
    """PIEs (Hooker et al. 2019) between ``k`` dense and ``k`` pruned models of one split.

    One data split (``seed``, ``permutation``; default the first of ``settings``), ``k``
    training seeds, the pipeline at one ``sparsity`` (default ``settings.verdict_sparsity``).
    ``dense_run`` / ``pruned_run`` name the populations: ``B`` vs ``E`` (default) isolates the
    pruning step (same loss); ``A`` vs ``C`` is Hooker's own setting (magnitude pruning of a
    CE model).
    """
    for r in (dense_run, pruned_run):
        if r not in RUNS:
            raise KeyError(f"unknown run {r!r}; runs are {list(RUNS)}")
    if k < 1:
        raise ValueError(f"k must be >= 1 (the lab uses 5, Hooker et al. 30), got {k}")
    seed = settings.seeds[0] if seed is None else seed
    perms = settings.permutations
    permutation = (perms[0] if perms else None) if permutation is None else permutation
    s = settings.verdict_sparsity if sparsity is None else float(sparsity)
    cfg = replace(settings, runs=tuple(sorted({dense_run, pruned_run})), sparsities=(s,))
    data = load_unit_data(settings, seed, permutation)
    dense, pruned = [], []
    for i in range(k):
        u = run_unit(data, mix_seed(seed, 7000 + i), cfg, keep=True, progress=progress)
        dense.append(u.models[(dense_run, 0.0 if dense_run in ("A", "B", "L") else s)])
        pruned.append(u.models[(pruned_run, 0.0 if pruned_run in ("A", "B", "L") else s)])
    dev = resolve_device(settings.device)
    return pie(predict_labels(dense, data.test, dev), predict_labels(pruned, data.test, dev), data.test.targets,
               class_counts=data.class_counts, groups=data.groups, classes=data.classes)
