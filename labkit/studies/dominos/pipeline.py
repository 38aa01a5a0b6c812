"""The §5.7 pipeline, one seed at a time: dense ResNet-20, every score, every pruned run, fine-tune, SE.

Per seed (same seed = same split, noise, init and batch order for every run): the dense
reference (:func:`prepare_seed`), its scores (:func:`scores_for_seed`), then for every MACs
target and run of :data:`~.settings.RUNS` the block plan, the slimmed network, its accuracy before
and after fine-tuning and, for ``attention_runs``, SE gates against the same number of plain
epochs. :func:`run_study` repeats it over the seeds; ``STUDY`` is one unit per seed.

Example:
    >>> study_units(DominosSettings(seeds=(0, 1)))
    [{'seed': 0}, {'seed': 1}]
"""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ...analysis.cost import cost
from ...analysis.evaluate import evaluate
from ...analysis.influence import influence_table
from ...criteria import score
from ...criteria.dominos import (
    combine_importance,
    domino_scores_and_curves,
    normalize_by_max,
    representativeness_scores,
)
from ...data import load_dataset
from ...data.batches import Batches
from ...errors import MismatchError, OptionError
from ...models import load_model
from ...models.se import add_se, se_overhead
from ...pruning.blocks import BlockPlan, residual_blocks, select_blocks, slim
from ...runtime import resolve_device
from ...training import FitConfig, fit
from .._runner import Study
from .settings import COLUMNS, RUNS, DominosSettings

__all__ = ["SeedArtifacts", "fpgm_scores", "scores_for_seed", "prepare_seed", "run_study", "study_units", "unit_rows", "STUDY"]


@dataclass
class SeedArtifacts:
    """What one seed leaves behind for the views: the dense model, scores, curves, fits and plans."""

    dense: nn.Module
    scores: dict[str, dict[str, torch.Tensor]]
    curves: Any
    fits: dict[str, Any]
    plans: dict[tuple[str, float], BlockPlan] = field(default_factory=dict)
    models: dict[tuple[str, float, str], nn.Module] = field(default_factory=dict)


def _data(settings: DominosSettings, seed: int) -> Any:
    if settings.dataset != "digits":
        return load_dataset(settings.dataset, seed=seed, **dict(settings.dataset_options))
    return load_dataset("digits", seed=seed, size=settings.image_size, noise=settings.noise,
                        noise_splits=settings.noise_splits, train_fraction=settings.train_fraction,
                        test_per_class=settings.test_per_class)


def fpgm_scores(model: nn.Module, layers: list[str]) -> dict[str, torch.Tensor]:
    """FPGM (He et al. 2019, arXiv 1811.00250): a filter's summed L2 distance to the layer's other filters.

    A filter near the geometric median is replaceable by the others, so a small sum = prune first.
    """
    out = {}
    for name in layers:
        w = model.get_parameter(name).detach().flatten(1).float()  # layers are weight names
        out[name] = torch.cdist(w, w).sum(1)
    return out


def scores_for_seed(model: nn.Module, calib: torch.Tensor, settings: DominosSettings, seed: int,
                    labelled: Any = None) -> tuple[dict[str, dict[str, torch.Tensor]], Any, dict[str, Any]]:
    """All importances of §5.7 on one calibration batch: ``{"l1", "random", "fpgm", "R", "D", "I"}`` -> scores.

    ``labelled`` (a split of the calibration items with labels) adds ``"taylor"``.

    R and D are computed once and reused for R-only, D-only and I (so the variants differ only in
    how they combine the same measurements). Returns ``(scores, curves, fits)``.
    """
    layers = [n for b in residual_blocks(model) for n in (b.conv1, b.conv2)]
    R = representativeness_scores(model, layers, Batches(calib), top_m=settings.top_m,
                                  max_items=settings.calib_items)
    D, curves, fits = domino_scores_and_curves(model, layers, calib, method=settings.method,
                                               horizon=settings.horizon, max_items=settings.calib_items_d)
    extra = {"taylor": dict(score(model, "taylor", labelled, granularity="filter", layers=layers))} \
        if labelled is not None else {}
    return {
        **extra,
        "fpgm": fpgm_scores(model, layers),
        "l1": dict(score(model, "magnitude", granularity="filter", layers=layers)),
        "random": dict(score(model, "random", granularity="filter", layers=layers, seed=seed)),
        "R": R,
        "D": normalize_by_max(D),
        "I": combine_importance(R, D, settings.alpha),
    }, curves, fits


def _acc(model: nn.Module, split: Any) -> float:
    return float(evaluate(model, split, n_boot=0).overall)


def _train(model: nn.Module, split: Any, epochs: int, lr: float, s: DominosSettings, seed: int, dev: Any) -> nn.Module:
    if epochs > 0:
        fit(model, split, FitConfig(epochs=epochs, optimizer="sgd", lr=lr, weight_decay=s.weight_decay,
                                    schedule="cosine", batch_size=s.batch_size, seed=seed, device=dev, progress=False))
    return model


def prepare_seed(settings: DominosSettings, seed: int) -> tuple[Any, SeedArtifacts, dict[str, Any]]:
    """Steps 1-2 for one seed: data, the trained dense ResNet-20 and every score (R, D curves, fits ...).

    Returns ``(data, artifacts, dense_row)``; ``dense_row`` is the study table's ``dense`` row
    (accuracy, MACs, influence time, Weibull R² counts). The lab notebook calls this once and
    then re-selects interactively from the stored scores.
    """
    t0 = time.perf_counter()
    dev = resolve_device(settings.device)
    shape = settings.input_shape
    data = _data(settings, seed)
    if tuple(data.input_shape) != shape:
        raise MismatchError(f"{settings.dataset} items are {tuple(data.input_shape)}, the settings say {shape}; "
                            "set channels and image_size to match the data")
    torch.manual_seed(seed)
    dense = load_model(settings.model, num_classes=len(data.classes), in_channels=settings.channels)
    _train(dense, data.train, settings.epochs, settings.lr, settings, seed, dev)
    dense = dense.cpu().eval()
    labelled = data.train.subset(list(range(min(settings.calib_items, len(data.train)))))
    calib = labelled.tensors()[0]
    sc, curves, fits = scores_for_seed(dense, calib, settings, seed, labelled)
    tab = influence_table(curves, fits)
    c = cost(dense, shape, latency=False)
    row = {"seed": seed, "run": "dense", "target": 0.0, "what": f"unpruned {settings.model}", "structure": "",
           "macs": c["MACs"], "params": c["params"], "reduction": 0.0, "removed_blocks": "",
           "n_removed": 0, "shape_ok": True, "acc_pruned": np.nan, "acc_ft": _acc(dense, data.test),
           "acc_se": np.nan, "acc_extra": np.nan, "se_params": 0, "se_macs": 0,
           "influence_seconds": round(curves.seconds, 2), "weibull_fits": len(tab),
           "weibull_r2_defined": int(tab["r2"].notna().sum()),
           "weibull_r2_ge_09": int((tab["r2"] >= 0.9).sum()), "seconds": round(time.perf_counter() - t0, 1),
           "n_test": len(data.test)}
    return data, SeedArtifacts(dense, sc, curves, fits), row


def check_settings(settings: DominosSettings) -> None:
    """Refuse settings that would fail mid-run: every MACs target must be reachable by every run.

    MACs depend on the architecture, not the weights, so an untrained ResNet-20 of the study's
    shape answers this in milliseconds, before any unit trains (the CLI then exits 2).

    Raises:
        OptionError: a target outside (0, 1), or one a run's structure cannot reach under ``floor``.
    """
    bad = [t for t in settings.targets if not 0 < t < 1]
    if bad:
        raise OptionError(f"targets are MACs reductions in (0, 1), e.g. 0.4 for -40%; got {bad}")
    model = load_model(settings.model, num_classes=10, in_channels=settings.channels)
    shape = settings.input_shape
    ones = {b.conv1: torch.ones(b.c_mid) for b in residual_blocks(model)}
    ones |= {b.conv2: torch.ones(b.c_out) for b in residual_blocks(model)}
    for structure in sorted({RUNS[r].structure for r in settings.runs}):
        for target in settings.targets:
            try:
                select_blocks(model, ones, target, input_shape=shape, floor=settings.floor, structure=structure)
            except ValueError as e:
                runs = [r for r in settings.runs if RUNS[r].structure == structure]
                raise OptionError(f"target {target:.0%} cannot be run by {runs}: {e}") from None


def run_study(settings: DominosSettings = DominosSettings(), *, progress: bool = False,
              artifacts: dict[int, SeedArtifacts] | None = None) -> pd.DataFrame:
    """Run §5.7 for every seed; one row per (seed, run, target), plus one ``dense`` row per seed.

    Columns: ``seed, run, target, what, structure, macs, params, reduction, removed_blocks,
    n_removed, shape_ok, acc_pruned, acc_ft, acc_se, acc_extra, se_params, se_macs,
    influence_seconds, weibull_fits, weibull_r2_defined, weibull_r2_ge_09, seconds``
    (accuracies are test fractions in [0, 1]; NaN where a phase does not apply). ``artifacts``,
    if given, receives each seed's :class:`SeedArtifacts` for the views.
    """
    unknown = [r for r in settings.runs if r not in RUNS]
    unknown += [r for r in settings.attention_runs if r not in RUNS]
    if unknown:
        raise KeyError(f"unknown or not-run run(s) {unknown}; runs: {', '.join(RUNS)}")
    if not settings.seeds:
        raise ValueError("settings.seeds is empty; give at least one seed (three for a verdict)")
    check_settings(settings)
    rows: list[dict[str, Any]] = []
    for seed in settings.seeds:
        rows += _seed_rows(settings, seed, artifacts, progress)
    df = pd.DataFrame(rows)[COLUMNS]
    df.attrs["settings"] = asdict(settings)
    return df


def _seed_rows(settings: DominosSettings, seed: int, artifacts: dict[int, SeedArtifacts] | None = None,
               progress: bool = False) -> list[dict[str, Any]]:
    """One seed's rows: the dense row, then every target x run; ``artifacts[seed]`` receives the views' data."""
    dev = resolve_device(settings.device)
    shape = settings.input_shape
    rows: list[dict[str, Any]] = []
    data, art, dense_row = prepare_seed(settings, seed)
    if artifacts is not None:
        artifacts[seed] = art
    rows.append(dense_row)
    dense, sc = art.dense, art.scores
    for target in settings.targets:
        for run in settings.runs:
            t1 = time.perf_counter()
            spec = RUNS[run]
            plan = select_blocks(dense, sc[spec.importance], target, input_shape=shape, floor=settings.floor,
                                 tau_blk=settings.tau_blk, beta=settings.beta, structure=spec.structure)
            art.plans[(run, target)] = plan
            try:
                small = slim(dense, plan)           # raises if shapes or outputs disagree
                with torch.no_grad():
                    small(torch.zeros(2, *shape))
                ok = True
            except (RuntimeError, ValueError):
                ok = False
            row = {"seed": seed, "run": run, "target": target, "what": spec.what, "structure": spec.structure,
                   "reduction": plan.reduction, "removed_blocks": " ".join(plan.removed_blocks),
                   "n_removed": len(plan.removed_blocks), "shape_ok": ok, "acc_se": np.nan, "acc_extra": np.nan,
                   "se_params": 0, "se_macs": 0, "influence_seconds": np.nan, "weibull_fits": np.nan,
                   "weibull_r2_defined": np.nan, "weibull_r2_ge_09": np.nan, "n_test": len(data.test)}
            if not ok:
                rows.append({**row, "macs": plan.macs_pruned, "params": np.nan, "acc_pruned": np.nan,
                             "acc_ft": np.nan, "seconds": round(time.perf_counter() - t1, 1)})
                continue
            c = cost(small, shape, latency=False)
            row.update(macs=c["MACs"], params=c["params"], acc_pruned=_acc(small, data.test))
            ft = _train(copy.deepcopy(small), data.train, settings.finetune_epochs, settings.finetune_lr,
                        settings, seed, dev).cpu().eval()
            row["acc_ft"] = _acc(ft, data.test)
            art.models[(run, target, "finetuned")] = ft
            if run in settings.attention_runs:
                att = _train(add_se(ft), data.train, settings.attention_epochs, settings.attention_lr,
                             settings, seed, dev).cpu().eval()
                extra = _train(copy.deepcopy(ft), data.train, settings.attention_epochs, settings.attention_lr,
                               settings, seed, dev).cpu().eval()
                ov = se_overhead(att)
                row.update(acc_se=_acc(att, data.test), acc_extra=_acc(extra, data.test), se_params=ov["params"],
                           se_macs=cost(att, shape, latency=False)["MACs"] - c["MACs"])
                art.models[(run, target, "se")] = att
                art.models[(run, target, "extra")] = extra
            row["seconds"] = round(time.perf_counter() - t1, 1)
            rows.append(row)
            if progress:
                print(f"seed {seed} target {target:.0%} {run}: acc {row['acc_ft']:.3f} "
                      f"({row['seconds']:.0f}s)", flush=True)
    return rows


def study_units(settings: DominosSettings) -> list[dict[str, Any]]:
    """The study's units (:mod:`labkit.studies._runner`): one per seed (its dense model and scores are shared)."""
    return [{"seed": int(seed)} for seed in settings.seeds]


def unit_rows(settings: DominosSettings, unit: dict[str, Any]) -> list[dict[str, Any]]:
    """One unit's rows (what Ray runs as a task)."""
    return _seed_rows(settings, unit["seed"])


STUDY = Study("dominos", units=study_units, run=unit_rows, axes=("seeds",), columns=tuple(COLUMNS),
              volatile=("seconds", "influence_seconds"))
"""The study for :func:`labkit.studies._runner.run_units` (``--ray`` / ``--address`` on the CLI)."""
