"""Method 3 study (docs/methods.md §3.3): do optimizer-chosen small weights beat plain magnitude?

The thesis (Chung Yang, NTNU 2021; abstract only) claims that, at the same pruning rate,
keeping the large weights plus small weights picked by an optimization strategy gives higher
accuracy than keeping only the large ones. The search itself is **[inferred]**
(:mod:`labkit.pruning.rescue`), so this study tests *our* GA, not the author's method.

The lab experiment:

* data: the embedded digits, balanced, native 8x8, Gaussian pixel noise (σ = 0.3) on every split
  for headroom, 600 test items; the seed picks the split; a calibration set of 300 items is drawn
  from the *training* split (disjoint from test); ``--cifar10 ROOT`` runs it on CIFAR-10 instead;
* model: ResNet-20 (19 prunable convs), trained dense with Adam 1e-3 for ``dense_epochs`` per seed;
* variants at every ``s`` in {0.8, 0.9}, rescue budget rho = 0.2, per-layer scope:
  ``magnitude`` (keep the top K), ``random`` (top L + B random small), ``wanda`` / ``taylor``
  (top L + greedy top-B saliency), ``ga`` (top L + B chosen by the GA, magnitude seeded), and
  the baselines that see the GA's data: ``bn_recal`` (magnitude + BatchNorm statistics on D_cal)
  and ``sgd_cal`` (magnitude + as many SGD steps on D_cal as the GA's population × generations / 3);
* measured: test accuracy one-shot (no retraining) and after ``finetune_epochs`` of
  mask-preserving fine-tuning on the training split; the calibration loss of every mask.

:func:`verdict` checks §3.3's claims (:func:`claims`) as measured. Nothing in it is tuned to pass.

Example:
    >>> df = run_study(OptimizedSettings.smoke())      # doctest: +SKIP
    >>> verdict(df)[["criterion", "verdict"]]          # doctest: +SKIP
"""
from __future__ import annotations

import copy
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..analysis.evaluate import evaluate
from ..data import load_dataset
from ..data._base import Split
from ..models import load_model
from ..pruning import apply_masks
from ..pruning.rescue import GAOptions, PSOOptions, RescueResult, SearchOptions, rescue, search_options
from ..runtime import resolve_device
from ..training import FitConfig, finetune, fit
from ._cli import Option, Preset, StudyCommand, study_main
from ._results import read_table, write_table
from ._runner import Study
from ._verdict import Check, Claim, headroom, paired_diffs, verdict_table

__all__ = ["OptimizedSettings", "VARIANTS", "COLUMNS", "calibration_split", "study_units", "unit_rows", "STUDY",
           "run_study", "GA_SEARCH", "MATCHED", "claims", "stated_claims",
           "verdict", "write_results", "read_results", "COMMAND", "main"]

#: Variant name -> (rescue method, what it is); every variant keeps the same number of weights.
VARIANTS: dict[str, tuple[str, str]] = {
    "magnitude": ("magnitude", "keep the K largest |w| (baseline)"),
    "random": ("random", "L largest + B random small"),
    "wanda": ("wanda", "L largest + greedy top-B of |w| * ||x_in||"),
    "taylor": ("taylor", "L largest + greedy top-B of |w * dL/dw|"),
    "ga": ("ga", "L largest + B chosen by the GA (magnitude seeded)"),
    "sa": ("sa", "L largest + B chosen by simulated annealing"),
    "ste": ("ste", "L largest + B chosen by a learned straight-through score mask"),
    "pso": ("pso", "L largest + B chosen by binary particle swarm (magnitude seeded)"),
    "bn_recal": ("magnitude", "magnitude mask + BatchNorm statistics recalibrated on D_cal (the GA's data)"),
    "sgd_cal": ("magnitude", "magnitude mask + full-batch Adam steps on D_cal (the GA's data and compute)"),
}
MATCHED = ("bn_recal", "sgd_cal")
"""Magnitude baselines that see the calibration data the GA sees (issue 17's matched baselines)."""


@dataclass(frozen=True)
class OptimizedSettings:
    """Settings of the §3.3 experiment (defaults: docs/methods.md §3.1 / §3.3; smoke: :meth:`smoke`)."""

    model: str = "resnet20"                              # 19 prunable convs (issue 17: >= 10 layers)
    image_size: int = 8                                  # native digits
    noise: float = 0.3                                   # Gaussian pixel noise on every split: headroom
    test_per_class: int = 60                             # 600 test items: one item = 0.17 pt
    sparsities: tuple[float, ...] = (0.8, 0.9)           # the judged s >= 0.8 (0.5, 0.7: pass --sparsities)
    variants: tuple[str, ...] = ("magnitude", "random", "wanda", "taylor", "ga", "bn_recal", "sgd_cal")
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)             # §3.3: 5 seeds (>= 3 for a verdict)
    rho: float = 0.2                                     # rescue budget B = floor(rho K)
    scope: str = "layer"                                 # [inferred] K, L, B per layer
    pool: str = "all"                                    # [inferred] candidate pool
    calibration: int = 300                               # D_cal items, from the training split
    dense_epochs: int = 40                               # §1.7 E0
    finetune_epochs: int = 3                             # as in the §3.3 prototype
    lr: float = 1e-3                                     # Adam, for both
    batch_size: int = 64
    population: int = 24
    generations: int = 60
    elite: int = 6
    mutation: float = 0.02
    cal_steps: int | None = None                         # sgd_cal steps; None: population x generations / 3
    dataset: str = "digits"                              # "digits" (the CPU proxy) or a registered one (cifar10)
    dataset_options: tuple[tuple[str, Any], ...] = ()    # load_dataset kwargs for a non-digits dataset
    device: str | None = None

    @classmethod
    def cifar10(cls, root: str | None = None, **overrides: Any) -> OptimizedSettings:
        """ResNet-20 on CIFAR-10 (needs the data files; meant for a GPU).

        The thesis does not name its data; CIFAR-10 is the usual first benchmark of unstructured
        pruning. Dense: 100 epochs of Adam 1e-3 at batch 128 with crop-and-flip, a calibration set
        of 1,000 training images, the full 10,000-image test set: **[inferred]**. ``root`` holds
        ``cifar-10-batches-py`` (``None``: ``$LABKIT_DATA``).
        """
        base = cls(dataset="cifar10", model="resnet20", image_size=32, noise=0.0, dense_epochs=100, batch_size=128,
                   calibration=1000, dataset_options=(("augment", True),) + ((("root", root),) if root else ()))
        return replace(base, **overrides)

    @classmethod
    def smoke(cls) -> OptimizedSettings:
        """Tiny run for CI: 3 seeds, s in {0.8, 0.9}, tiny_cnn, 3 dense epochs, GA 8 x 4 (numbers are noise)."""
        return cls(model="tiny_cnn", sparsities=(0.8, 0.9), variants=("magnitude", "random", "wanda", "ga", "bn_recal",
                                                                       "sgd_cal"),
                   seeds=(0, 1, 2), dense_epochs=3, finetune_epochs=1, population=8, generations=4, elite=2,
                   calibration=200, test_per_class=30)


COLUMNS = ["seed", "sparsity", "variant", "phase", "accuracy", "dense_accuracy", "cal_loss",
           "magnitude_cal_loss", "kept", "rescued", "prunable", "seconds", "n_test"]
"""Columns of :func:`run_study`'s table."""


def calibration_split(train: Split, n: int, seed: int) -> Split:
    """``n`` items of ``train`` drawn without replacement (seeded): D_cal, disjoint from test."""
    if not 1 <= n <= len(train):
        raise ValueError(f"calibration must be 1..{len(train)} items (the training split), got {n}")
    idx = np.random.default_rng([seed, 3]).choice(len(train), size=n, replace=False)
    return train.subset(np.sort(idx))


def _search(settings: OptimizedSettings, method: str) -> SearchOptions:
    """The options of search ``method``: the GA's and the swarm's sizes come from the settings."""
    if method == "ga":
        return GAOptions(population=settings.population, generations=settings.generations, elite=settings.elite,
                         mutation=settings.mutation)
    if method == "pso":
        return PSOOptions(population=settings.population, generations=settings.generations)
    return search_options(method)


def _acc(model: torch.nn.Module, split: Split) -> float:
    return float(evaluate(model, split, n_boot=0).overall)


def _matched(variant: str, settings: OptimizedSettings, pruned: torch.nn.Module, dense: torch.nn.Module, masks: Any,
             cal: Split, seed: int, dev: Any) -> torch.nn.Module:
    """The magnitude mask given the GA's calibration data: BN recalibrated, or Adam steps on D_cal."""
    if variant == "bn_recal":
        net = copy.deepcopy(pruned)
        for m in net.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.reset_running_stats()
                m.momentum = None  # cumulative average over the calibration batches
        net.train()
        x = cal.tensors()[0].to(next(net.parameters()).device)
        with torch.no_grad():
            for i in range(0, len(x), settings.batch_size):
                net(x[i:i + settings.batch_size])
        return net.eval()
    steps = settings.cal_steps if settings.cal_steps is not None else settings.population * settings.generations // 3
    return finetune(dense, cal, FitConfig(epochs=steps, lr=settings.lr, batch_size=len(cal), seed=seed, device=dev,
                                          progress=False), masks=dict(masks))


def run_study(settings: OptimizedSettings, *, progress: bool = True,
              keep: dict[tuple[int, float, str], RescueResult] | None = None) -> pd.DataFrame:
    """Run every seed x sparsity x variant; one row per (seed, sparsity, variant, phase).

    Columns: ``seed, sparsity, variant, phase`` (``one-shot`` / ``fine-tuned``), ``accuracy``,
    ``dense_accuracy``, ``cal_loss`` (of the mask), ``magnitude_cal_loss``, ``kept``,
    ``rescued``, ``prunable``, ``seconds`` (search time). ``keep`` (a dict) receives each
    :class:`~labkit.pruning.rescue.RescueResult` by ``(seed, sparsity, variant)``.
    """
    unknown = [v for v in settings.variants if v not in VARIANTS]
    if unknown:
        raise KeyError(f"unknown variant(s) {unknown}; choose from {list(VARIANTS)}")
    rows: list[dict[str, Any]] = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(settings.seeds) * len(settings.sparsities) * len(settings.variants), desc="§3.3")
    for seed in settings.seeds:
        rows += _seed_rows(settings, seed, keep, bar)
    if bar is not None:
        bar.close()
    df = pd.DataFrame(rows, columns=COLUMNS)
    df.attrs["settings"] = asdict(settings)
    return df


def _seed_rows(settings: OptimizedSettings, seed: int, keep: dict[tuple[int, float, str], RescueResult] | None = None,
               bar: Any = None) -> list[dict[str, Any]]:
    """Every sparsity x variant of one seed (one dense model): two rows each (one-shot, fine-tuned)."""
    dev = resolve_device(settings.device)
    rows: list[dict[str, Any]] = []
    if settings.dataset == "digits":
        data = load_dataset("digits", seed=seed, size=settings.image_size, noise=settings.noise,
                            noise_splits=("train", "val", "test"), test_per_class=settings.test_per_class)
    else:
        data = load_dataset(settings.dataset, seed=seed, **dict(settings.dataset_options))
    cal = calibration_split(data.train, settings.calibration, seed)
    torch.manual_seed(seed)
    dense = load_model(settings.model, num_classes=data.num_classes, in_channels=data.input_shape[0])
    fit(dense, data.train, FitConfig(epochs=settings.dense_epochs, lr=settings.lr, batch_size=settings.batch_size,
                                     seed=seed, device=dev, progress=False))
    dense_acc = _acc(dense, data.test)
    for s in settings.sparsities:
        for variant in settings.variants:
            t0 = time.perf_counter()
            res = rescue(dense, cal, s, _search(settings, VARIANTS[variant][0]), rho=settings.rho,
                         scope=settings.scope, pool=settings.pool, seed=seed)
            secs = time.perf_counter() - t0
            if keep is not None:
                keep[(seed, s, variant)] = res
            pruned = apply_masks(dense, res.masks)
            base = {"seed": seed, "sparsity": s, "variant": variant, "dense_accuracy": dense_acc,
                    "cal_loss": res.loss, "magnitude_cal_loss": res.magnitude_loss,
                    "kept": res.masks.kept, "rescued": res.rescued.kept, "prunable": res.masks.total,
                    "seconds": secs, "n_test": len(data.test)}
            if variant in MATCHED:  # one-shot only: its fine-tuned model would be magnitude's
                net = _matched(variant, settings, pruned, dense, res.masks, cal, seed, dev)
                rows.append({**base, "seconds": time.perf_counter() - t0, "phase": "one-shot",
                             "accuracy": _acc(net, data.test)})
                if bar is not None:
                    bar.update(1)
                continue
            tuned = finetune(dense, data.train, FitConfig(epochs=settings.finetune_epochs, lr=settings.lr,
                                                          batch_size=settings.batch_size, seed=seed, device=dev,
                                                          progress=False), masks=dict(res.masks))
            rows.append({**base, "phase": "one-shot", "accuracy": _acc(pruned, data.test)})
            rows.append({**base, "phase": "fine-tuned", "accuracy": _acc(tuned, data.test)})
            if bar is not None:
                bar.update(1)
    return rows


def study_units(settings: OptimizedSettings) -> list[dict[str, Any]]:
    """The study's units (:mod:`labkit.studies._runner`): one per seed (its dense model is shared)."""
    return [{"seed": int(seed)} for seed in settings.seeds]


def unit_rows(settings: OptimizedSettings, unit: dict[str, Any]) -> list[dict[str, Any]]:
    """One unit's rows (what Ray runs as a task)."""
    return _seed_rows(settings, unit["seed"])


STUDY = Study("optimized", units=study_units, run=unit_rows, axes=("seeds",), columns=tuple(COLUMNS),
              volatile=("seconds",))
"""The study for :func:`labkit.studies._runner.run_units` (``--ray`` / ``--address`` on the CLI)."""


# --- claims ----------------------------------------------------------------------------------------
GA_SEARCH = Claim("GA search", "L_cal(GA) <= L_cal(magnitude) in every run (holds by construction: magnitude is "
                  "individual 0 and elites are kept)", metric="L_cal(GA) − L_cal(magnitude)", rule="fact", kind="check")
"""The GA's seeding guarantee: it never ends worse than the magnitude mask it starts from (a check, not a result)."""

V1_TEST_ITEMS = 300
"""Test items of the table committed before issue 17 (30 per class; no ``n_test`` column)."""


def claims(s: float) -> list[tuple[Claim, str, str, str]]:
    """The paired §3.3 claims at sparsity ``s``: ``(claim, a, b, phase)`` for ``acc(a) − acc(b)`` in points.

    In verdict order: GA beats magnitude, random, and the two magnitude baselines that see the
    same calibration data (BN recalibration; Adam steps with the GA's compute), then the
    reports: the gap after fine-tuning and GA vs the greedy saliencies.
    """
    def pair(criterion: str, text: str, a: str, b: str, phase: str, rule: str = "beats") -> tuple[Claim, str, str, str]:
        return Claim(criterion, text, metric=f"acc({a}) − acc({b}), {phase}", rule=rule,
                     missing=f"needs variants {a} and {b}"), a, b, phase

    return [pair(f"GA beats magnitude, s={s:g}", "one-shot acc(mag+GA) beats acc(magnitude)", "ga", "magnitude",
                 "one-shot"),
            pair(f"GA beats random, s={s:g}", "one-shot acc(mag+GA) beats acc(mag+random)", "ga", "random",
                 "one-shot"),
            pair(f"GA beats BN recalibration, s={s:g}", "one-shot acc(mag+GA) beats magnitude + BN statistics "
                 "recalibrated on D_cal (same data)", "ga", "bn_recal", "one-shot"),
            pair(f"GA beats SGD on D_cal, s={s:g}", "one-shot acc(mag+GA) beats magnitude + Adam steps on D_cal "
                 "(same data and compute)", "ga", "sgd_cal", "one-shot"),
            pair(f"after fine-tune, s={s:g}", "(report) acc(mag+GA) − acc(magnitude) after fine-tuning", "ga",
                 "magnitude", "fine-tuned", "info"),
            *(pair(f"GA vs {g}, s={s:g}", f"(report) one-shot acc(mag+GA) − acc(mag+{g})", "ga", g, "one-shot", "info")
              for g in ("wanda", "taylor"))]


def stated_claims() -> list[Claim]:
    """The claims at s = 0.8 and 0.9 and the checks, for the rule tests."""
    return [c for s in (0.8, 0.9) for c, *_ in claims(s)] + [GA_SEARCH]


def _diffs(df: pd.DataFrame, s: float, a: str, b: str, phase: str) -> np.ndarray:
    """Per-seed ``acc(a) - acc(b)`` in points at sparsity ``s`` and ``phase``."""
    t = df[np.isclose(df["sparsity"], s) & (df["phase"] == phase)]
    p = t.pivot_table(index="seed", columns="variant", values="accuracy", aggfunc="first")
    return paired_diffs(p[a], p[b]) if a in p and b in p else np.array([])


def verdict(df: pd.DataFrame) -> pd.DataFrame:
    """The §3.3 claims (:func:`claims` at every s >= 0.8) as measured in ``df``; then the checks.

    One-shot accuracy differences are paired by seed and judged by the one rule
    (:func:`~labkit.studies._verdict.beats`); fewer than 3 seeds cannot pass (docs/methods.md
    §0.1). Checks: ``GA search`` (the GA's calibration loss <= magnitude's in every run, by
    construction) and the proxy's headroom.
    """
    need = {"seed", "sparsity", "variant", "phase", "accuracy", "cal_loss", "magnitude_cal_loss"}
    if not need <= set(df.columns):
        raise ValueError(f"verdict needs the table of run_study (columns {sorted(need)}); got {list(df.columns)}")
    enough = df["seed"].nunique() >= 3
    high = sorted(s for s in df["sparsity"].unique() if s >= 0.8 - 1e-9)
    by_s = [claims(s) for s in high]
    checks: list[Check] = []
    for k in range(len(claims(0.8))):
        for s, row in zip(high, by_s):
            claim, a, b, phase = row[k]
            checks.append(claim.check(_diffs(df, s, a, b, phase), require=enough))
    ga = df[(df["variant"] == "ga") & (df["phase"] == "one-shot")]
    if len(ga):
        worse = int((ga["cal_loss"] > ga["magnitude_cal_loss"] + 1e-9).sum())
        checks.append(GA_SEARCH.judge(f"{len(ga) - worse}/{len(ga)} runs; mean L_cal "
                                      f"{ga['cal_loss'].mean():.4f} vs {ga['magnitude_cal_loss'].mean():.4f}",
                                      worse == 0))
    dense = df.groupby("seed")["dense_accuracy"].first()
    n_test = int(df["n_test"].iloc[0]) if "n_test" in df.columns and len(df) else V1_TEST_ITEMS
    checks.append(headroom(float(dense.mean()) if len(dense) else float("nan"), n_test, "dense test accuracy"))
    return verdict_table(checks)


# --- saved results ---------------------------------------------------------------------------------
def write_results(df: pd.DataFrame, path: str | os.PathLike[str], command: str) -> Path:
    """Save ``df`` with its command, settings and versions (:func:`labkit.studies._results.write_table`)."""
    return write_table(df, path, command, "labkit method 3 study (docs/methods.md §3.3; [inferred] search)")


def read_results(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Load a table saved by :func:`write_results`; its ``#`` header lines go to ``df.attrs``."""
    return read_table(path)


COMMAND = StudyCommand(
    "labkit.studies.optimized", STUDY, OptimizedSettings, write=write_results, read=read_results, verdict=verdict,
    options=(Option("--sparsities", float, many=True), Option("--variants", str, many=True, choices=list(VARIANTS)),
             Option("--dense-epochs"), Option("--generations")),
    presets=(Preset("--cifar10", OptimizedSettings.cifar10,
                    "ResNet-20 on CIFAR-10 (OptimizedSettings.cifar10(root=ROOT)); needs the data files"),))
"""The study's command line (:mod:`labkit.studies._cli`)."""


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m labkit.studies.optimized --out results.csv [--smoke] [--seeds ...] [--generations N]``."""
    study_main(COMMAND, argv)


if __name__ == "__main__":
    # Run the importable module, not __main__: Ray then pickles the unit function by reference.
    from labkit.studies.optimized import main as _main

    _main()
