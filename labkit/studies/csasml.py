"""Method 2 study (docs/methods.md §2.5): is CSASML-lite cheaper than its baseline at no accuracy cost?

The thesis (Liao Po-Yu, NCU 2024) claims 25% less computation and +1.8% accuracy on CIFAR-100
for a backbone built from a Split-and-Mixed module and a Cross-Scale Attention module. Its body
is not public, so the modules here are **our [inferred] designs** (see
:mod:`labkit.models.csasml`), and this study tests *those designs*, not the author's exact
method. The CPU experiment:

* data: the embedded digits upsampled to 32×32 (stage 3 is an 8×8 map: 64 tokens), Gaussian
  noise σ = 0.8 (all splits, for headroom), random ±1-pixel shifts while training, 50% of the
  training pool, 600 test items; the split and the noise follow the seed;
* runs (:data:`RUNS`): ``baseline`` (basic blocks + full MHSA), ``csasml_lite``, its ablations
  ``no_le`` (no local branch), ``single_scale`` (one pooled scale: the largest default one,
  the analogue of §2.5's P = {4}) and ``full_mhsa``,
  and the plug-in test ``resnet20`` vs ``resnet20_smm``;
* each run × seed: AdamW, cosine schedule, same seed = same data, order and augmentation;
* measured: parameters, MACs analytic (:func:`labkit.analysis.breakdown.analytic_macs`, from the
  formulas) and counted (``lk.cost``: ``torch.utils.flop_counter`` FLOPs / 2), test accuracy.

:func:`verdict` checks the §2.5 claims (:data:`CLAIMS`) with docs/methods.md §0.1's rule for paired
differences. Nothing in it is tuned to pass.

Example:
    >>> df = run_study(CSASMLSettings.smoke())          # doctest: +SKIP
    >>> verdict(df)[["criterion", "verdict"]]          # doctest: +SKIP
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..analysis.breakdown import analytic_macs, counted_macs
from ..analysis.evaluate import evaluate
from ..data import LabData, load_dataset
from ..models import load_model
from ..models.csasml import default_scales
from ..models.csasml_plugin import plug_smm
from ..runtime import resolve_device
from ..training import FitConfig, fit
from ..training.augment import RandomShift
from ._cli import Option, Preset, StudyCommand, study_main
from ._results import read_table, write_table
from ._runner import Study
from ._verdict import Check, Claim, headroom, paired_diffs, verdict_table

__all__ = ["CSASMLSettings", "RUNS", "build_run", "study_units", "unit_rows", "STUDY", "run_study", "CLAIMS",
           "stated_claims", "verdict", "write_results", "read_results", "COMMAND", "main"]


@dataclass(frozen=True)
class CSASMLSettings:
    """Settings of the §2.5 experiment (smoke: :meth:`smoke`; the pre-issue-17 proxy: :meth:`v1`).

    Defaults (issue 17's proxy with headroom): 32x32 noisy digits, so stage 3 is an 8x8 map (64
    tokens against 21 pooled: cross-scale attention really is cheaper than full attention),
    600 balanced test items (one item = 0.17 pt), 5 seeds (each its own split, noise and init).
    """

    runs: tuple[str, ...] = ("baseline", "csasml_lite", "no_le", "single_scale", "full_mhsa",
                             "resnet20", "resnet20_smm")
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)  # >= 5 seeds, each a new split and init (issue 17)
    epochs: int = 30
    lr: float = 2e-3                          # AdamW, cosine schedule to 0
    weight_decay: float = 0.05                # [inferred]: §2.5 names AdamW but not its decay
    batch_size: int = 64
    image_size: int = 32                      # digits upsampled 8 -> 32: stage 3 has 8x8 = 64 tokens
    test_per_class: int = 60                  # 600 test items
    # Gaussian pixel noise std on every split (headroom). Upsampled to 32x32 the digits shrug off
    # pixel noise: one-seed calibration of the baseline (15 epochs) gave 0.977 at 0.2, 0.957 at 0.4
    # and 0.810 at 0.8, so the v2 proxy uses 0.8 (the 16x16 proxy before it used 0.2).
    noise: float = 0.8
    noise_splits: tuple[str, ...] = ("train", "val", "test")  # ... on every split (headroom)
    train_fraction: float = 0.5               # half of the training pool
    max_shift: int = 1                        # random ±1-pixel shifts while training
    device: str | None = None                 # None: cuda, then mps, then cpu
    dataset: str = "digits"                   # "digits" (the §2.5 CPU experiment) or a registered dataset
    dataset_options: tuple[tuple[str, Any], ...] = ()  # keyword arguments of load_dataset (non-digits)

    @classmethod
    def smoke(cls) -> CSASMLSettings:
        """A tiny run for CI: every run and seed, 1 epoch on 10% of the pool (< 1 min on a CPU)."""
        return cls(epochs=1, train_fraction=0.1, batch_size=32, image_size=16, test_per_class=30, seeds=(0, 1, 2))

    @classmethod
    def v1(cls) -> CSASMLSettings:
        """The proxy of the run committed before issue 17: 16x16 (16 stage-3 tokens), 300 test items, 3 seeds."""
        return cls(image_size=16, test_per_class=30, seeds=(0, 1, 2), noise=0.2)

    @classmethod
    def cifar100(cls, root: str | None = None, **overrides: Any) -> CSASMLSettings:
        """The thesis's setting: CIFAR-100 at 32x32 (needs the data files; meant for a GPU).

        The loader's crop-and-flip augmentation replaces the digits' noise and shifts. The
        thesis does not give its recipe, so 200 epochs of AdamW (lr 2e-3, cosine) at batch 128
        are **[inferred]**. ``root`` holds ``cifar-100-python`` (``None``: ``$LABKIT_DATA``).
        """
        base = cls(dataset="cifar100", image_size=32, noise=0.0, noise_splits=(), train_fraction=1.0,
                   max_shift=0, epochs=200, batch_size=128,
                   dataset_options=(("augment", True),) + ((("root", root),) if root else ()))
        return replace(base, **overrides)

    def load_data(self, seed: int) -> LabData:
        """The data of one seed: noisy digits (§2.5) or ``load_dataset(dataset, **dataset_options)``."""
        if self.dataset == "digits":
            return load_dataset("digits", seed=seed, size=self.image_size, noise=self.noise,
                                noise_splits=self.noise_splits, train_fraction=self.train_fraction,
                                test_per_class=self.test_per_class)
        data = load_dataset(self.dataset, seed=seed, **dict(self.dataset_options))
        if tuple(data.input_shape[1:]) != (self.image_size, self.image_size):
            raise ValueError(f"{self.dataset} images are {tuple(data.input_shape[1:])}, but image_size is "
                             f"{self.image_size}; set image_size to match (csasml_lite is built for it)")
        return data


# --- the runs ------------------------------------------------------------------------------------
def _lite(**kw: Any) -> Callable[[CSASMLSettings, int, int], nn.Module]:
    def build(s: CSASMLSettings, num_classes: int, in_channels: int) -> nn.Module:
        opts = dict(kw)
        if opts.get("scales") == "largest":
            opts["scales"] = default_scales(max(1, s.image_size // 4))[-1:]
        return load_model("csasml_lite", num_classes=num_classes, in_channels=in_channels,
                          input_size=s.image_size, **opts)
    return build


def _named(name: str, plug: bool = False) -> Callable[[CSASMLSettings, int, int], nn.Module]:
    def build(s: CSASMLSettings, num_classes: int, in_channels: int) -> nn.Module:
        net = load_model(name, num_classes=num_classes, in_channels=in_channels)
        return plug_smm(net) if plug else net
    return build


class _Run(NamedTuple):
    what: str
    options: dict[str, Any]
    build: Callable[[CSASMLSettings, int, int], nn.Module]


RUNS: dict[str, _Run] = {
    "baseline": _Run("same macro, basic blocks + full MHSA", {}, _named("csasml_baseline")),
    "csasml_lite": _Run("SMM stages 1-2, CSA stage 3", {}, _lite()),
    "no_le": _Run("ablation: no local-enhancement branch", {"local": False}, _lite(local=False)),
    "single_scale": _Run("ablation: one pooled scale (the largest default)", {"scales": "largest"},
                         _lite(scales="largest")),
    "full_mhsa": _Run("ablation: full MHSA instead of CSA", {"attention": "mhsa"}, _lite(attention="mhsa")),
    "resnet20": _Run("plug-in reference", {}, _named("resnet20")),
    "resnet20_smm": _Run("plug-in: SMM replaces same-shape basic blocks", {"plug": "smm, all stages"},
                         _named("resnet20", plug=True)),
}
"""The runs of §2.5: name -> (description, options, builder(settings, num_classes, in_channels))."""


def build_run(run: str, settings: CSASMLSettings = CSASMLSettings(), num_classes: int = 10,
              in_channels: int = 1) -> nn.Module:
    """A fresh, untrained model for ``run`` (a key of :data:`RUNS`)."""
    if run not in RUNS:
        raise KeyError(f"unknown run {run!r}; runs: {', '.join(RUNS)}")
    return RUNS[run].build(settings, num_classes, in_channels)


# --- the experiment -------------------------------------------------------------------------------
def run_study(settings: CSASMLSettings = CSASMLSettings(), *, progress: bool = False,
              models: dict[tuple[str, int], nn.Module] | None = None) -> pd.DataFrame:
    """Train and measure every run × seed of ``settings``; one row each.

    Columns: ``run, seed, what, options, params, macs_analytic, macs_counted, test_acc,
    test_balanced, train_seconds, epochs``. Accuracies are fractions in [0, 1]. ``models``, if
    given, receives the trained models keyed ``(run, seed)`` (for the attention viewer).
    The settings are in ``df.attrs["settings"]``.
    """
    unknown = [r for r in settings.runs if r not in RUNS]
    if unknown:
        raise KeyError(f"unknown run(s) {unknown}; runs: {', '.join(RUNS)}")
    if not settings.seeds:
        raise ValueError("settings.seeds is empty; give at least one seed (three for a verdict)")
    rows = []
    for seed in settings.seeds:
        data = settings.load_data(seed)
        rows += [_run_row(settings, seed, run, data, models, progress) for run in settings.runs]
    df = pd.DataFrame(rows)
    df.attrs["settings"] = asdict(settings)
    return df


def _run_row(settings: CSASMLSettings, seed: int, run: str, data: LabData,
             models: dict[tuple[str, int], nn.Module] | None = None, progress: bool = False) -> dict[str, Any]:
    """Train and measure one run on one seed's data: the table row (seeded by ``seed`` alone)."""
    dev = resolve_device(settings.device)
    shape = tuple(data.input_shape)
    torch.manual_seed(seed)  # same init draw for the same seed
    net = build_run(run, settings, len(data.classes), shape[0])
    params = sum(p.numel() for p in net.parameters())
    macs_a, macs_c = analytic_macs(net, shape), counted_macs(net, shape)
    t0 = time.perf_counter()
    fit(net, data.train, FitConfig(epochs=settings.epochs, optimizer="adamw", lr=settings.lr,
                                   weight_decay=settings.weight_decay, schedule="cosine",
                                   batch_size=settings.batch_size, augment=RandomShift(settings.max_shift), seed=seed,
                                   device=dev, progress=progress))
    seconds = time.perf_counter() - t0
    rep = evaluate(net, data.test, n_boot=0)  # no bootstrap: the seeds give the spread
    if models is not None:
        models[(run, seed)] = net.cpu().eval()
    return {"run": run, "seed": seed, "what": RUNS[run].what, "options": json.dumps(RUNS[run].options, sort_keys=True),
            "params": params, "macs_analytic": macs_a, "macs_counted": macs_c,
            "test_acc": rep.overall, "test_balanced": rep.balanced,
            "train_seconds": round(seconds, 2), "epochs": settings.epochs, "n_test": len(data.test)}


def study_units(settings: CSASMLSettings) -> list[dict[str, Any]]:
    """The study's units (:mod:`labkit.studies._runner`): one per seed x run, in table order."""
    return [{"seed": int(seed), "run": run} for seed in settings.seeds for run in settings.runs]


def unit_rows(settings: CSASMLSettings, unit: dict[str, Any]) -> list[dict[str, Any]]:
    """One unit's rows: run ``unit["run"]`` on seed ``unit["seed"]`` (what Ray runs as a task)."""
    return [_run_row(settings, unit["seed"], unit["run"], settings.load_data(unit["seed"]))]


STUDY = Study("csasml", units=study_units, run=unit_rows, axes=("seeds", "runs"), volatile=("train_seconds",))
"""The study for :func:`labkit.studies._runner.run_units` (``--ray`` / ``--address`` on the CLI)."""


# --- claims ---------------------------------------------------------------------------------------
def _acc_claim(criterion: str, text: str, a: str, b: str, threshold: float = 0.0, rule: str = "beats") -> Claim:
    """A claim on ``acc(a) − acc(b)`` in points, paired by seed."""
    return Claim(criterion, text, metric=f"{a} − {b}", threshold=threshold, rule=rule,
                 summary="{metric}: {mean:+.2f} ± {sd:.2f} pt", missing=f"needs runs {a} and {b}")


CLAIMS: dict[str, Claim] = {c.criterion: c for c in (
    _acc_claim("lite accuracy", "acc(csasml_lite) − acc(baseline) beats −0.3 pt", "csasml_lite", "baseline", -0.3),
    _acc_claim("local branch", "acc(csasml_lite) beats acc(no_le)", "csasml_lite", "no_le"),
    _acc_claim("multi-scale pooling", "acc(csasml_lite) beats acc(single_scale)", "csasml_lite", "single_scale"),
    _acc_claim("plug-in", "SMM in resnet20 lowers MACs and acc(resnet20_smm) − acc(resnet20) beats −0.5 pt",
               "resnet20_smm", "resnet20", -0.5),
    _acc_claim("full MHSA ablation", "(no §2.5 rule) CSA vs full MHSA in the same backbone", "csasml_lite",
               "full_mhsa", rule="info"),
    Claim("CIFAR-100 +1.8%", "thesis: +1.8% on CIFAR-100 at 25% less computation", rule="fact"),
    Claim("lite MACs", "MACs(csasml_lite) <= 0.75 x MACs(baseline) (fixed architectures: a property, not a result)",
          metric="MACs(csasml_lite) / MACs(baseline)", threshold=0.75, rule="fact", kind="check"),
    Claim("stage-3 tokens", "stage 3 has >= 64 tokens, so cross-scale attention is exercised (issue 17)",
          rule="fact", kind="check"),
    Claim("MACs formulas", "analytic MACs == FlopCounterMode MACs (every run)", rule="fact", kind="check"),
)}
"""The §2.5 claims and checks (accuracy differences in points, paired by seed); claims come first in the table."""

V1_TEST_ITEMS = 300
"""Test items of the tables committed before issue 17 (30 per class; no ``n_test`` column)."""


def stated_claims() -> list[Claim]:
    """The study's claims and checks, for the rule tests."""
    return list(CLAIMS.values())


def _paired(df: pd.DataFrame, claim: Claim) -> np.ndarray:
    """Per-seed ``acc(a) − acc(b)`` in points for the claim's ``a − b``, over the seeds both runs have."""
    a, b = claim.metric.split(" − ")
    t = df.pivot_table(index="seed", columns="run", values="test_acc", aggfunc="first")
    return paired_diffs(t[a], t[b]) if a in t and b in t else np.array([])


def _macs(df: pd.DataFrame, run: str) -> float:
    v = df.loc[df["run"] == run, "macs_counted"]
    return float(v.iloc[0]) if len(v) else float("nan")


def verdict(df: pd.DataFrame) -> pd.DataFrame:
    """The §2.5 claims (:data:`CLAIMS`) checked as measured in ``df`` (from :func:`run_study`).

    Accuracy claims use docs/methods.md §0.1's paired rule on per-seed differences (same seed =
    same data split, noise, init and batch order); the plug-in must also lower the MACs. ``n/a``
    when the runs a claim needs are missing; ``INFO`` for what §2.5 measures without a pass rule.
    Columns: :data:`labkit.studies._verdict.COLUMNS`.
    """
    need = {"run", "seed", "test_acc", "macs_counted", "macs_analytic"}
    if not need <= set(df.columns):
        raise ValueError(f"verdict needs the table of run_study (columns {sorted(need)}); got {list(df.columns)}")
    c = CLAIMS
    base, lite = _macs(df, "baseline"), _macs(df, "csasml_lite")
    ratio = lite / base if base > 0 else np.nan
    r20, plug, fm = _macs(df, "resnet20"), _macs(df, "resnet20_smm"), _macs(df, "full_mhsa")
    agree = bool((df["macs_analytic"] == df["macs_counted"]).all())
    size = int(df.attrs.get("settings", {}).get("image_size", 16))
    tokens = (max(1, size // 4)) ** 2
    dense = df.loc[df["run"] == "baseline", "test_acc"]
    n_test = int(df["n_test"].iloc[0]) if "n_test" in df.columns and len(df) else V1_TEST_ITEMS
    checks: list[Check] = [
        c["lite MACs"].judge(f"{lite:,.0f} / {base:,.0f} = {ratio:.3f}x" if np.isfinite(ratio) else "needs runs",
                             bool(ratio <= 0.75) if np.isfinite(ratio) else None),
        c["stage-3 tokens"].judge(f"{size}x{size} input: stage 3 is {size // 4}x{size // 4} = {tokens} tokens"
                                  + (f"; CSA net / full-MHSA net MACs {lite / fm:.3f}x" if fm > 0 else ""), tokens >= 64),
        headroom(float(dense.mean()) if len(dense) else float("nan"), n_test, "dense baseline test accuracy"),
        *(c[k].check(_paired(df, c[k])) for k in ("lite accuracy", "local branch", "multi-scale pooling")),
        c["plug-in"].check(_paired(df, c["plug-in"]), detail=f"; MACs {plug / r20:.3f}x" if r20 > 0 else "",
                           require=bool(plug < r20)),
        c["full MHSA ablation"].check(_paired(df, c["full MHSA ablation"]),
                                      detail=f"; MACs {lite / fm:.3f}x" if fm > 0 else ""),
        c["MACs formulas"].judge("equal in every run" if agree else "differ: " + ", ".join(
            sorted(set(df.loc[df["macs_analytic"] != df["macs_counted"], "run"]))), agree),
        c["CIFAR-100 +1.8%"].judge("not checked on CPU digits; needs CIFAR-100 (a GPU machine)"),
    ]
    return verdict_table(checks)


# --- saved results --------------------------------------------------------------------------------
def write_results(df: pd.DataFrame, path: str | os.PathLike[str], command: str) -> Path:
    """Save ``df`` with its command, settings and versions (:func:`labkit.studies._results.write_table`)."""
    return write_table(df, path, command, "labkit CSASML study (docs/methods.md §2.5; [inferred] modules, "
                                          "see labkit/models/csasml.py)")


def read_results(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Load a table saved by :func:`write_results`; its ``#`` header lines go to ``df.attrs``."""
    return read_table(path)


COMMAND = StudyCommand(
    "labkit.studies.csasml", STUDY, CSASMLSettings, write=write_results, read=read_results, verdict=verdict,
    options=(Option("--epochs", help="override the epochs (default 30)"),
             Option("--runs", str, many=True, choices=list(RUNS))),
    presets=(Preset("--cifar100", CSASMLSettings.cifar100,
                    "CIFAR-100 at 32x32 (CSASMLSettings.cifar100(root=ROOT)); needs the data files"),))
"""The study's command line (:mod:`labkit.studies._cli`)."""


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m labkit.studies.csasml --out results.csv [--smoke | --cifar100 ROOT] [--epochs N] [--seeds ...]``."""
    study_main(COMMAND, argv)


if __name__ == "__main__":
    # Run the importable module, not __main__: Ray then pickles the unit function by reference.
    from labkit.studies.csasml import main as _main

    _main()
