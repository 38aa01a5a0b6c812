"""Method 1 study (docs/methods.md §1.5, §1.7): does long-tail-aware pruning keep the tail?

The thesis (Chang Shih-He, NCU 2025) claims that diverse auxiliary trainers, a layered
sparsity profile and weighted mask merging prune CIFAR-100-LT to 30% sparsity with tail-class
accuracy at or above the dense baseline. Its body is not public: the trainers, the layer
profile and the merge rule here are **our [inferred] designs** (docs/methods.md §1.2–1.4), lab
options, not the author's exact method. This study tests *those designs*.

The pipeline of §1.5, for one data split and one training seed (:func:`run_unit`)::

    θ0  = fit(CE, E0)                                   run A: the full dense baseline
    θ_k = finetune(θ0, trainer_k, E_aux); S_k = |θ_k|   labkit.training.trainers
    s_l = layered budgets (δ, s_max)                   labkit.pruning.allocate(mode="layered")
    M*  = weighted merge of M_k, α = softmax(τ a_k)    merge_candidates -> labkit.pruning.merge_masks
    k*  = argmax α_k
    θ*  = finetune(θ_{k*} ⊙ M*, trainer k*, E_ft)       run E: the full method

and the controls of §1.7: **B** the dense control (θ_{k*} fine-tuned ``E_ft`` more epochs with
trainer k*, no mask: the same training budget as E, so a gain of the long-tail loss is not
credited to pruning; ``control="theta_k"`` uses θ_{k*} as is), **C** uniform magnitude pruning
of θ0 fine-tuned with CE, **D** the single mask M_{k*} with the same layered budgets and the
same fine-tune as E (so E − D isolates merging). C, D, E run at every sparsity of the sweep;
k* (and hence B) is chosen per sparsity, as §1.5 defines it.

:func:`run_study` repeats the unit over seeds × class permutations and returns one tidy row
per (run, sparsity, seed, permutation); :func:`verdict` turns it into PASS / FAIL per §1.7
criterion with docs/methods.md §0.1's paired rule; :func:`pie_study` counts PIEs (Hooker et al.) over
K training seeds of one split.

Example:
    >>> df = run_study(LongTailSettings.smoke())                 # doctest: +SKIP
    >>> verdict(df)[["criterion", "measured", "verdict"]]        # doctest: +SKIP

CIFAR-100-LT with ResNet-32 (needs the data and, in practice, a GPU):
    >>> run_study(LongTailSettings.cifar100_lt(root="~/data"))  # doctest: +SKIP
"""
from __future__ import annotations

import copy
import json
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..analysis.evaluate import ClassReport, evaluate
from ..analysis.pie import PIEReport, pie, predict_labels
from ..criteria import score
from ..data import LabData, Split, load_dataset
from ..models import load_model
from ..pruning import Allocation, Masks, allocate, make_masks, merge_masks, overlap
from ..runtime import resolve_device
from ..training import fit
from ..training.trainers import (DEFAULT_TRAINERS, Trainer, TrainerResult, calibration_set, candidate_accuracy,
                                 check_common_start, get_trainer, merge_weights, soup, train_auxiliary)
from ..io import atomic_write
from ._results import read_table, write_table
from ._runner import Study, add_cluster_flags, run_cli

__all__ = ["LongTailSettings", "RUNS", "MergeResult", "UnitResult", "COLUMNS", "load_unit_data",
           "merge_candidates", "overlap_matrix", "run_unit", "study_units", "unit_rows", "STUDY", "run_study",
           "pie_study", "paired_rule",
           "verdict", "write_results", "read_results", "main"]

RUNS: dict[str, str] = {
    "A": "dense CE θ0 (full baseline)",
    "B": "dense control: θ_k* fine-tuned with trainer k*, no mask",
    "C": "uniform magnitude mask on θ0, fine-tuned with CE",
    "D": "single-trainer mask M_k*, layered budgets, fine-tuned with k*",
    "E": "full method: merged mask M*, layered budgets, fine-tuned with k*",
}
"""The runs of docs/methods.md §1.7."""

COLUMNS = ["run", "sparsity", "seed", "permutation", "overall", "balanced", "many", "medium", "few",
           "trainer", "achieved", "alpha", "seconds"]
"""Columns of :func:`run_study`'s table. ``sparsity`` is the target (0 for the dense runs A, B);
``achieved`` the measured fraction of prunable weights removed; ``trainer`` the loss that
fine-tuned the row's model; ``alpha`` the merge weights (JSON) for D / E; ``permutation`` −1
means the dataset's own class order."""


@dataclass(frozen=True)
class LongTailSettings:
    """Settings of the §1.7 experiment; defaults = docs/methods.md §1.7 on digits-LT ([inferred] marked)."""

    dataset: str = "digits-lt"
    model: str = "tiny_cnn"
    imbalance: float = 20.0
    seeds: tuple[int, ...] = (0, 1, 2)              # data split and training seed
    permutations: tuple[int, ...] | None = (0, 1, 2)  # class-order seeds; None = the dataset's order
    sparsities: tuple[float, ...] = (0.1, 0.3, 0.5, 0.7)
    trainers: tuple[str, ...] = DEFAULT_TRAINERS
    runs: tuple[str, ...] = ("A", "B", "C", "D", "E")
    e0: int = 40
    e_aux: int = 10
    e_ft: int = 10
    optimizer: str = "adam"
    lr: float = 1e-3                   # θ0
    lr_finetune: float | None = None   # auxiliary trainers and E_ft; None = lr
    schedule: str = "none"             # θ0
    schedule_finetune: str = "none"
    weight_decay: float = 0.0
    batch_size: int = 64               # [inferred]: §1.7 gives none
    criterion: str = "magnitude"       # S_k = |θ_k|; "taylor" on a balanced calibration set
    calibration_per_class: int = 10
    depth_bias: float = 0.5            # δ of the layered profile (§1.3)
    s_max: float = 0.95
    tau: float = 20.0                  # α = softmax(τ a_k); 0 = plain vote
    merge_mode: str = "weighted"       # weighted | majority | intersection-first
    weights: tuple[float, ...] | None = None  # merge weights by hand (one per trainer); overrides τ
    weight_by: str = "balanced"        # a_k: balanced val accuracy, or "few"
    control: str = "matched"           # B: "matched" (+E_ft dense epochs) or "theta_k" (θ_k* as is)
    start: str = "best"                # E / D fine-tune from θ_k* ("best"), θ0 ("theta0") or an α-weighted soup
    exclude_first: bool = True         # docs/methods.md §0.1 prunable set (the classifier always stays dense)
    verdict_sparsity: float = 0.3
    dataset_options: tuple[tuple[str, Any], ...] = ()
    device: str | None = None

    def __post_init__(self) -> None:
        bad = [r for r in self.runs if r not in RUNS]
        if bad:
            raise KeyError(f"unknown run(s) {bad}; runs are {list(RUNS)}")
        for name in self.trainers:
            get_trainer(name)  # unknown trainer -> KeyError with close matches
        if len(set(self.trainers)) != len(self.trainers) or not self.trainers:
            raise ValueError(f"trainers must be distinct and non-empty, got {self.trainers}")
        if not self.seeds:
            raise ValueError("seeds is empty; give at least one (three for a verdict, docs/methods.md §0.1)")
        for s in self.sparsities:
            if not 0.0 < float(s) < 1.0:
                raise ValueError(f"sparsities must be fractions in (0, 1), got {s}")
        if self.control not in ("matched", "theta_k"):
            raise ValueError(f"control must be 'matched' or 'theta_k', got {self.control!r}")
        if self.start not in ("best", "theta0", "soup"):
            raise ValueError(f"start must be 'best', 'theta0' or 'soup', got {self.start!r}")
        if self.weights is not None and len(self.weights) != len(self.trainers):
            raise ValueError(f"weights has {len(self.weights)} entries for {len(self.trainers)} trainers")

    @classmethod
    def smoke(cls) -> "LongTailSettings":
        """A tiny run for CI (< 1 min on a CPU): 2 seeds, 1 permutation, 2 sparsities, few epochs.

        The numbers are not meaningful; they only prove every path runs.
        """
        return cls(seeds=(0, 1), permutations=(0,), sparsities=(0.3, 0.5), e0=4, e_aux=1, e_ft=1)

    @classmethod
    def cifar100_lt(cls, root: str | None = None, **overrides: Any) -> "LongTailSettings":
        """CIFAR-100-LT (IF 100) with ResNet-32, LDAM-DRW's θ0 recipe (docs/methods.md §1.1).

        θ0: SGD lr 0.1, momentum 0.9, weight decay 2e-4, batch 128, 200 epochs, lr ×0.01 / ×0.0001
        at 80% / 90% (no warm-up), random crop + flip. Auxiliary trainers and the final fine-tune
        [inferred]: 20 epochs each at lr 0.01, cosine. The class order is the dataset's own.
        """
        opts: dict[str, Any] = {"augment": True}
        if root is not None:
            opts["root"] = root
        base = cls(dataset="cifar100-lt", model="resnet32", imbalance=100.0, permutations=None,
                   e0=200, e_aux=20, e_ft=20, optimizer="sgd", lr=0.1, lr_finetune=0.01, schedule="step",
                   schedule_finetune="cosine", weight_decay=2e-4, batch_size=128,
                   dataset_options=tuple(sorted(opts.items())))
        return replace(base, **overrides)

    def fit_kwargs(self, phase: str) -> dict[str, Any]:
        """``fit`` options of a phase: ``"theta0"`` or ``"finetune"`` (auxiliary trainers and E_ft)."""
        lr = self.lr if phase == "theta0" or self.lr_finetune is None else self.lr_finetune
        sched = self.schedule if phase == "theta0" else self.schedule_finetune
        return {"optimizer": self.optimizer, "lr": lr, "schedule": sched, "weight_decay": self.weight_decay,
                "batch_size": self.batch_size}


# --- data ---------------------------------------------------------------------------------------
def load_unit_data(settings: LongTailSettings, seed: int, permutation: int | None) -> LabData:
    """The dataset of one unit: split seed ``seed``, class order ``permutation`` (digits-LT only)."""
    kw: dict[str, Any] = {"imbalance": settings.imbalance, "seed": seed, **dict(settings.dataset_options)}
    if permutation is not None and permutation >= 0:
        kw["order_seed"] = permutation
    return load_dataset(settings.dataset, **kw)


def _mix(*parts: int) -> int:
    """A well-mixed non-negative 31-bit seed from integers (seed, trainer index, phase ...)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0] >> 1)


# --- merging ------------------------------------------------------------------------------------
@dataclass
class MergeResult:
    """One merge at one sparsity: the merged mask, its candidates, their accuracies and weights."""

    sparsity: float
    allocation: Allocation
    candidates: dict[str, Masks]
    accuracy: dict[str, float]
    alpha: dict[str, float]
    merged: Masks
    best: str


def merge_candidates(results: Sequence[TrainerResult], sparsity: float, *, val: Split, groups: Mapping[str, Sequence[int]],
                     depth_bias: float = 0.5, s_max: float = 0.95, tau: float = 20.0, mode: str = "weighted",
                     weights: Sequence[float] | None = None, weight_by: str = "balanced") -> MergeResult:
    """§1.3 + §1.4: layered budgets, one candidate mask per trainer, weights ``α``, the merged mask.

    Every candidate uses the same per-layer allocation (layered budgets depend only on layer
    sizes), and ``merge_masks`` keeps each layer's budget, so the merged mask has exactly the
    candidates' per-layer sparsity. ``α_k = softmax(τ a_k)`` with ``a_k`` the ``weight_by``
    validation accuracy of ``θ_k ⊙ M_k``; ``weights`` overrides them by hand. ``best`` = ``k*``.

    Raises:
        ValueError: candidates fine-tuned from different starts (not position-aligned).
    """
    results = list(results)
    check_common_start(results)
    alloc = allocate(results[0].scores, sparsity, mode="layered", depth_bias=depth_bias, s_max=s_max)
    cands = {r.name: r.candidate_mask(alloc) for r in results}
    check_common_start(list(cands.values()))
    acc = {r.name: candidate_accuracy(r.model, cands[r.name], val, groups, weight_by) for r in results}
    if weights is None:
        w = merge_weights(list(acc.values()), tau)
    else:
        w = np.asarray(weights, dtype=float)
        if w.shape != (len(results),) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"weights must be {len(results)} non-negative numbers, not all zero; got {list(weights)}")
        w = w / w.sum()
    merged = merge_masks(list(cands.values()), weights=w.tolist(), mode=mode, scores=[r.scores for r in results])
    alpha = {r.name: float(a) for r, a in zip(results, w)}
    best = results[int(np.argmax(w))].name
    merged.meta.update(merge_alpha=alpha, merge_accuracy=acc, best=best)
    return MergeResult(float(sparsity), alloc, cands, acc, alpha, merged, best)


def overlap_matrix(masks: Mapping[str, Masks]) -> pd.DataFrame:
    """K × K Jaccard overlap of the kept sets, pooled over all layers (``lk.overlap(a, b).attrs["total"]``)."""
    names = list(masks)
    mat = [[overlap(masks[a], masks[b]).attrs["total"]["jaccard"] for b in names] for a in names]
    return pd.DataFrame(mat, index=names, columns=names)


# --- one unit -----------------------------------------------------------------------------------
@dataclass
class UnitResult:
    """Everything one (split, training seed) produced; ``rows`` go into the study table."""

    data: LabData
    seed: int
    permutation: int
    rows: list[dict[str, Any]]
    theta0: nn.Module | None = None
    candidates: list[TrainerResult] = field(default_factory=list)
    merges: dict[float, MergeResult] = field(default_factory=dict)
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
    trainer.fit(work, data.train, epochs=settings.e_ft, class_counts=data.class_counts, masks=masks,
                device=device, progress=progress, **settings.fit_kwargs("finetune"))
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
    ft_seed = _mix(seed, 99)  # B, C, D, E see the same batch order: tighter paired differences

    def record(run: str, s: float, model: nn.Module, trainer: str, achieved: float, t0: float,
               alpha: Mapping[str, float] | None = None) -> None:
        rep = evaluate(model, data.test, groups=groups, classes=data.classes, class_counts=counts, n_boot=0)
        row = {"run": run, "sparsity": float(s), "seed": seed, "permutation": permutation,
               "overall": rep.overall, "balanced": rep.balanced,
               **{g: rep.by_group.get(g, float("nan")) for g in ("many", "medium", "few")},
               "trainer": trainer, "achieved": float(achieved),
               "alpha": json.dumps({k: round(v, 6) for k, v in alpha.items()}) if alpha else "",
               "seconds": round(time.perf_counter() - t0, 2)}
        out.rows.append(row)
        if keep:
            out.models[(run, float(s))] = model
            out.reports[(run, float(s))] = rep

    t0 = time.perf_counter()
    torch.manual_seed(seed)  # same seed, same initial weights
    theta0 = load_model(settings.model, num_classes=data.num_classes, in_channels=data.input_shape[0])
    fit(theta0, data.train, epochs=settings.e0, loss="ce", seed=seed, device=dev, progress=progress,
        **settings.fit_kwargs("theta0"))
    theta0.eval()
    if "A" in settings.runs:
        record("A", 0.0, theta0, "ce", 0.0, t0)

    need_merge = {"B", "D", "E"} & set(settings.runs)  # only these need the auxiliary trainers
    calib = calibration_set(data.val, settings.calibration_per_class, seed) if settings.criterion == "taylor" else None
    cands = [train_auxiliary(theta0, get_trainer(name, seed=_mix(seed, k + 1)), data.train, epochs=settings.e_aux,
                             class_counts=counts, criterion=settings.criterion, calibration=calib,
                             exclude_first=settings.exclude_first, device=dev, progress=progress,
                             **settings.fit_kwargs("finetune"))
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
            mr = merge_candidates(cands, s, val=data.val, groups=groups, depth_bias=settings.depth_bias,
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
    df.attrs["settings"] = _settings_dict(settings)
    return df


def _settings_dict(settings: LongTailSettings) -> dict[str, Any]:
    d = asdict(settings)
    d["dataset_options"] = {k: str(v) for k, v in settings.dataset_options}
    return d


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
              settings_dict=_settings_dict, volatile=("seconds",))
"""The study for :func:`labkit.studies._runner.run_units` (``--ray`` / ``--address`` on the CLI)."""


# --- PIE ----------------------------------------------------------------------------------------
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
        u = run_unit(data, _mix(seed, 7000 + i), cfg, keep=True, progress=progress)
        dense.append(u.models[(dense_run, 0.0 if dense_run in ("A", "B") else s)])
        pruned.append(u.models[(pruned_run, 0.0 if pruned_run in ("A", "B") else s)])
    dev = resolve_device(settings.device)
    return pie(predict_labels(dense, data.test, dev), predict_labels(pruned, data.test, dev), data.test.targets,
               class_counts=data.class_counts, groups=data.groups, classes=data.classes)


# --- verdict ------------------------------------------------------------------------------------
def paired_rule(diffs: Sequence[float], strict: bool = False) -> bool:
    """docs/methods.md §0.1 "pass" for a claim ``a ≥ b`` (``strict``: ``a > b``) from paired differences.

    Pass when the mean difference is positive **and** either exceeds one (sample) std of the
    differences or every difference has the claimed sign (``≥ 0``, or ``> 0`` when strict).
    An all-zero result is not a pass: §1.7 asks for a paired mean > 0.

    Example:
        >>> paired_rule([1.0, 2.0, 0.5]), paired_rule([3.0, -1.0, 0.5]), paired_rule([0.0, 0.0])
        (True, False, False)
        >>> paired_rule([2.0, 0.0, 1.0]), paired_rule([2.0, 0.0, 1.0], strict=True)  # a tie meets >=, not >
        (True, False)
    """
    d = np.asarray(diffs, dtype=float)
    if len(d) == 0 or not np.isfinite(d).all():
        return False
    mean = float(d.mean())
    if mean <= 0:
        return False
    sd = float(d.std(ddof=1)) if len(d) > 1 else float("inf")
    same_sign = bool((d > 0).all()) if strict else bool((d >= 0).all())
    return same_sign or mean > sd


def _paired(df: pd.DataFrame, a: tuple[str, float], b: tuple[str, float], metric: str,
            match_trainer: bool = False) -> pd.Series:
    """Per-unit ``metric(a) − metric(b)`` in points, keyed by (seed, permutation[, trainer]).

    ``match_trainer`` pairs a row with the dense control B of its own trainer k* (B has one row
    per unit and k*).
    """
    keys = ["seed", "permutation"] + (["trainer"] if match_trainer else [])

    def pick(run: str, s: float) -> pd.Series:
        rows = df[(df["run"] == run) & np.isclose(df["sparsity"].astype(float), s)]
        return rows.groupby(keys)[metric].mean()

    joined = pd.concat({"a": pick(*a), "b": pick(*b)}, axis=1, join="inner")
    return ((joined["a"] - joined["b"]) * 100).dropna()


def _dominance(df: pd.DataFrame, s: float) -> str:
    """How often one trainer's weight exceeded 1/2 at ``s``: its mask is then the merged mask exactly.

    With equal per-layer budgets, a unit kept by a candidate with ``α > 1/2`` has vote ``V > 1/2``
    and any other unit ``V < 1/2`` (the score tie-break adds at most 1e-3), so ``M* = M_k*`` and
    E repeats D's fine-tune: their difference is then exactly zero.
    """
    if "alpha" not in df.columns:
        return ""
    rows = df[(df["run"] == "E") & np.isclose(df["sparsity"].astype(float), s)]
    tops = [max(json.loads(a).values()) for a in rows["alpha"] if isinstance(a, str) and a]
    if not tops:
        return ""
    dominated = sum(t > 0.5 + 1e-3 for t in tops)
    return f"; one trainer's α > 0.5 (so M* = M_k*, E = D) in {dominated} of {len(tops)}"


def verdict(df: pd.DataFrame, sparsity: float | None = None) -> pd.DataFrame:
    """PASS / FAIL per §1.7 criterion, as measured in ``df`` (the table of :func:`run_study`).

    Criteria at ``sparsity`` (default ``df.attrs["settings"]["verdict_sparsity"]`` or 0.3), paired
    by (seed, permutation), differences in accuracy points on the few-shot (tail) group:

    * **thesis claim (miniature)**: ``few(E) ≥ few(A)``;
    * **merging helps**: ``few(E) ≥ few(D)``;
    * **pruning itself helps the tail**: ``few(E) > few(B)`` (the dense control with the same
      loss); §1.7: "report E vs B honestly".

    ``INFO`` rows (no pass rule) give the context: what the loss alone does (B − A), plain
    magnitude pruning (C − A), E − B on balanced accuracy, and E − A along the sweep. ``n/a``
    when a criterion's runs are missing. Columns: ``criterion, claim, measured, mean_diff_pt,
    std_diff_pt, per_unit_pt, n_pairs, verdict``.
    """
    need = {"run", "sparsity", "seed", "permutation", "few", "balanced", "trainer"}
    if not need <= set(df.columns):
        raise ValueError(f"verdict needs the table of run_study (columns {sorted(need)}); got {list(df.columns)}")
    s = float(sparsity if sparsity is not None else df.attrs.get("settings", {}).get("verdict_sparsity", 0.3))
    rows: list[dict[str, Any]] = []

    def add(criterion: str, claim: str, a: tuple[str, float], b: tuple[str, float], metric: str = "few",
            rule: str | None = "ge", match_trainer: bool = False, note: str = "") -> None:
        d = _paired(df, a, b, metric, match_trainer)
        label = f"{metric}({a[0]}{'' if a[0] in 'AB' else f'@{a[1]:g}'}) − {metric}({b[0]}{'' if b[0] in 'AB' else f'@{b[1]:g}'})"
        if len(d) == 0:
            rows.append({"criterion": criterion, "claim": claim, "measured": f"needs runs {a[0]} and {b[0]}",
                         "mean_diff_pt": np.nan, "std_diff_pt": np.nan, "per_unit_pt": "", "n_pairs": 0,
                         "verdict": "n/a"})
            return
        v = d.to_numpy()
        sd = float(v.std(ddof=1)) if len(v) > 1 else np.nan
        verdict_ = "INFO" if rule is None else ("PASS" if paired_rule(v, strict=rule == "gt") else "FAIL")
        rows.append({"criterion": criterion, "claim": claim,
                     "measured": f"{label}: {v.mean():+.2f} ± {sd:.2f} pt over {len(v)} pairs{note}",
                     "mean_diff_pt": float(v.mean()), "std_diff_pt": sd,
                     "per_unit_pt": ", ".join(f"{x:+.1f}" for x in v), "n_pairs": len(v), "verdict": verdict_})

    add("thesis claim (miniature)", f"tail accuracy of E at s={s:g} ≥ dense baseline A (paired mean > 0)",
        ("E", s), ("A", 0.0))
    add("merging helps", f"tail accuracy of E ≥ single-trainer D at s={s:g}", ("E", s), ("D", s),
        note=_dominance(df, s))
    add("pruning itself helps the tail", f"tail accuracy of E at s={s:g} > dense control B (same loss)",
        ("E", s), ("B", 0.0), match_trainer=True)
    add("E vs B, balanced", f"(info) balanced accuracy of E at s={s:g} − dense control B", ("E", s), ("B", 0.0),
        metric="balanced", rule=None, match_trainer=True)
    # B rows exist per (unit, k*); the loss effect is read off the control of E's k* at s.
    e_trainers = df[(df["run"] == "E") & np.isclose(df["sparsity"].astype(float), s)][["seed", "permutation", "trainer"]]
    b_for_e = df[df["run"] == "B"].merge(e_trainers, on=["seed", "permutation", "trainer"]) if len(e_trainers) else df[df["run"] == "B"]
    sub = pd.concat([df[df["run"] != "B"], b_for_e], ignore_index=True)
    d_loss = _paired(sub, ("B", 0.0), ("A", 0.0), "few")
    if len(d_loss):
        v = d_loss.to_numpy()
        sd = float(v.std(ddof=1)) if len(v) > 1 else np.nan
        rows.append({"criterion": "long-tail loss alone", "claim": "(info) tail accuracy of B − A: what the loss does "
                     "without pruning", "measured": f"few(B) − few(A): {v.mean():+.2f} ± {sd:.2f} pt over {len(v)} pairs",
                     "mean_diff_pt": float(v.mean()), "std_diff_pt": sd,
                     "per_unit_pt": ", ".join(f"{x:+.1f}" for x in v), "n_pairs": len(v), "verdict": "INFO"})
    add("plain pruning", f"(info) tail accuracy of uniform magnitude C at s={s:g} − A", ("C", s), ("A", 0.0), rule=None)
    for other in sorted(set(df.loc[df["run"] == "E", "sparsity"].astype(float)) - {s}):
        add(f"sweep s={other:g}", f"(info) tail accuracy of E at s={other:g} − A", ("E", other), ("A", 0.0), rule=None)
    return pd.DataFrame(rows, columns=["criterion", "claim", "measured", "mean_diff_pt", "std_diff_pt", "per_unit_pt",
                                       "n_pairs", "verdict"])


# --- saved results ------------------------------------------------------------------------------
def write_results(df: pd.DataFrame, path: str | os.PathLike[str], command: str) -> Path:
    """Save ``df`` with its command, settings and versions (:func:`labkit.studies._results.write_table`)."""
    return write_table(df, path, command, "labkit long-tail pruning study (docs/methods.md §1.7; trainers, layering "
                                          "and merging are [inferred])")


def read_results(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Load a table saved by :func:`write_results`; its ``#`` header lines go to ``df.attrs``."""
    df = read_table(path, dtype={"alpha": str, "trainer": str, "run": str})
    df["alpha"] = df["alpha"].fillna("")
    return df


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m labkit.studies.longtail --out results.csv [--smoke | --cifar100-lt ROOT] [--seeds 0 1 2] ...``.

    Writes the table (CSV), and beside it a ``.md`` with the command, the settings, the
    verdict and (with ``--pie-k``) the PIE table.
    """
    import argparse
    import shlex
    import sys

    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="tiny settings (LongTailSettings.smoke())")
    ap.add_argument("--cifar100-lt", metavar="ROOT", dest="cifar_root", default=None,
                    help="CIFAR-100-LT + ResNet-32 (LongTailSettings.cifar100_lt(root=ROOT)); needs the data files")
    ap.add_argument("--seeds", type=int, nargs="+")
    ap.add_argument("--permutations", type=int, nargs="+")
    ap.add_argument("--sparsities", type=float, nargs="+")
    ap.add_argument("--trainers", nargs="+")
    ap.add_argument("--e0", type=int)
    ap.add_argument("--e-aux", type=int, dest="e_aux")
    ap.add_argument("--e-ft", type=int, dest="e_ft")
    ap.add_argument("--criterion", choices=["magnitude", "taylor"])
    ap.add_argument("--start", choices=["best", "theta0", "soup"],
                    help="what D and E fine-tune from: θ_k* (default), θ0, or the α-weighted soup of the θ_k")
    ap.add_argument("--pie-k", type=int, default=0, help="also count PIEs over K training seeds (0 = skip)")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    ap.add_argument("--out", required=True,
                    help="CSV to write (atomically, after every unit; a rerun resumes); the .md goes beside it")
    add_cluster_flags(ap)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.smoke and args.cifar_root:
        raise SystemExit("--smoke and --cifar100-lt exclude each other")
    s = (LongTailSettings.smoke() if args.smoke else
         LongTailSettings.cifar100_lt(root=args.cifar_root) if args.cifar_root else LongTailSettings())
    over = {k: (tuple(v) if isinstance(v, list) else v) for k, v in vars(args).items()
            if k in ("seeds", "permutations", "sparsities", "trainers", "e0", "e_aux", "e_ft", "criterion", "start")
            and v is not None}
    s = replace(s, **over)
    t0 = time.perf_counter()
    cmd = " ".join(shlex.quote(a) for a in ["python", "-m", "labkit.studies.longtail",
                                            *(sys.argv[1:] if argv is None else argv)])
    df = run_cli(STUDY, s, args, prog="labkit.studies.longtail", write=lambda d: write_results(d, args.out, cmd),
                 read=read_results)
    out = Path(args.out)
    v = verdict(df)
    parts = [f"# Long-tail pruning study ({'smoke' if args.smoke else 'full'} run)\n\nCommand (from the repository "
             f"root):\n\n```\n{cmd}\n```\n",
             f"Settings: `{json.dumps(_settings_dict(s), default=str)}`\n",
             f"Study time: {time.perf_counter() - t0:.0f} s (table and verdict).\n",
             "## Verdict (as measured)\n\n```\n" + v[["criterion", "measured", "verdict"]].to_string(index=False) + "\n```\n"]
    if args.pie_k:
        rep = pie_study(s, k=args.pie_k)
        parts.append(f"## PIEs (K = {args.pie_k}, B vs E at s = {s.verdict_sparsity:g}, seed {s.seeds[0]}, "
                     f"permutation {(s.permutations or [-1])[0]})\n\nOverall PIE rate {rep.rate:.3f}; by group "
                     f"{ {g: round(r, 3) for g, r in rep.by_group().items()} }.\n\n```\n"
                     + rep.per_class.sort_values("n_train", ascending=False).to_string(index=False) + "\n```\n")
    parts.append(f"Total time: {time.perf_counter() - t0:.0f} s.\n")
    atomic_write(out.with_suffix(".md"), "\n".join(parts))
    with pd.option_context("display.width", 200, "display.max_colwidth", 100):
        print(v[["criterion", "measured", "verdict"]].to_string(index=False))


if __name__ == "__main__":
    # Run the importable module, not __main__: Ray then pickles the unit function by reference.
    from labkit.studies.longtail import main as _main

    _main()
