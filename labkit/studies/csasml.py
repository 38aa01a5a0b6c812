"""Method 2 study (docs/methods.md §2.5): is CSASML-lite cheaper than its baseline at no accuracy cost?

The thesis (Liao Po-Yu, NCU 2024) claims 25% less computation and +1.8% accuracy on CIFAR-100
for a backbone built from a Split-and-Mixed module and a Cross-Scale Attention module. Its body
is not public, so the modules here are **our [inferred] designs** (see
:mod:`labkit.models.csasml`), and this study tests *those designs*, not the author's exact
method. The CPU experiment:

* data: the embedded digits at 16×16, Gaussian noise σ = 0.2 (all splits, for headroom),
  random ±1-pixel shifts while training, 50% of the training pool; the split and the noise
  follow the seed;
* runs (:data:`RUNS`): ``baseline`` (basic blocks + full MHSA), ``csasml_lite``, its ablations
  ``no_le`` (no local branch), ``single_scale`` (one pooled scale: the largest default one,
  the analogue of §2.5's P = {4} on the 4×4 stage-3 map of a 16×16 input) and ``full_mhsa``,
  and the plug-in test ``resnet20`` vs ``resnet20_smm``;
* each run × seed: AdamW, cosine schedule, same seed = same data, order and augmentation;
* measured: parameters, MACs analytic (:func:`analytic_macs`, from the formulas) and counted
  (``lk.cost``: ``torch.utils.flop_counter`` FLOPs / 2), test accuracy.

:func:`verdict` turns the table into PASS / FAIL per §2.5 criterion, with docs/methods.md §0.1's rule
for paired differences. Nothing in it is tuned to pass.

Example:
    >>> df = run_study(CSASMLSettings.smoke())          # doctest: +SKIP
    >>> verdict(df)[["criterion", "verdict"]]          # doctest: +SKIP
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from ..analysis.cost import cost
from ..analysis.evaluate import evaluate
from ..data import LabData, load_dataset
from ..models import load_model
from ..models.csasml import (CrossScaleAttention, CSABlock, FullSelfAttention, SplitMixed,
                             default_scales)
from ..models.csasml_plugin import plug_smm
from ..models.resnet_cifar import BasicBlock
from ..runtime import resolve_device
from ..training import FitConfig, fit
from ._results import read_table, write_table
from ._runner import Study, add_cluster_flags, run_cli
from ._verdict import paired_pass

__all__ = ["CSASMLSettings", "RUNS", "RandomShift", "analytic_macs", "counted_macs", "cost_breakdown",
           "build_run", "study_units", "unit_rows", "STUDY", "run_study", "verdict", "paired_pass", "AttentionSample",
           "attention_sample", "write_results", "read_results", "main"]


@dataclass(frozen=True)
class CSASMLSettings:
    """Settings of the §2.5 experiment (defaults = docs/methods.md §2.5; smoke: :meth:`smoke`)."""

    runs: tuple[str, ...] = ("baseline", "csasml_lite", "no_le", "single_scale", "full_mhsa",
                             "resnet20", "resnet20_smm")
    seeds: tuple[int, ...] = (0, 1, 2)        # >= 3 seeds for a verdict (docs/methods.md §0.1)
    epochs: int = 30
    lr: float = 2e-3                          # AdamW, cosine schedule to 0
    weight_decay: float = 0.05                # [inferred]: §2.5 names AdamW but not its decay
    batch_size: int = 64
    image_size: int = 16                      # digits upsampled 8 -> 16
    noise: float = 0.2                        # Gaussian pixel noise std ...
    noise_splits: tuple[str, ...] = ("train", "val", "test")  # ... on every split (headroom)
    train_fraction: float = 0.5               # half of the training pool
    max_shift: int = 1                        # random ±1-pixel shifts while training
    device: str | None = None                 # None: cuda, then mps, then cpu
    dataset: str = "digits"                   # "digits" (the §2.5 CPU experiment) or a registered dataset
    dataset_options: tuple[tuple[str, Any], ...] = ()  # keyword arguments of load_dataset (non-digits)

    @classmethod
    def smoke(cls) -> "CSASMLSettings":
        """A tiny run for CI: every run and seed, 1 epoch on 10% of the pool (< 1 min on a CPU)."""
        return cls(epochs=1, train_fraction=0.1, batch_size=32)

    @classmethod
    def cifar100(cls, root: str | None = None, **overrides: Any) -> "CSASMLSettings":
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
                                noise_splits=self.noise_splits, train_fraction=self.train_fraction)
        data = load_dataset(self.dataset, seed=seed, **dict(self.dataset_options))
        if tuple(data.input_shape[1:]) != (self.image_size, self.image_size):
            raise ValueError(f"{self.dataset} images are {tuple(data.input_shape[1:])}, but image_size is "
                             f"{self.image_size}; set image_size to match (csasml_lite is built for it)")
        return data


class RandomShift:
    """Training augmentation: shift each image by up to ``max_shift`` pixels (zero fill).

    Used as ``FitConfig(..., augment=RandomShift(1))``; draws from torch's global generator, which
    ``fit`` re-seeds every epoch, so runs are reproducible.

    Example:
        >>> x = torch.zeros(4, 1, 5, 5); x[:, :, 2, 2] = 1
        >>> RandomShift(1)(x).sum().item()  # each bright pixel moved at most one step, none lost
        4.0
    """

    def __init__(self, max_shift: int = 1) -> None:
        if max_shift < 0:
            raise ValueError(f"max_shift must be >= 0, got {max_shift}")
        self.max_shift = max_shift

    def __call__(self, x: Tensor) -> Tensor:
        s = self.max_shift
        if s == 0:
            return x
        h, w = x.shape[-2:]
        padded = nn.functional.pad(x, (s, s, s, s))
        dy, dx = torch.randint(0, 2 * s + 1, (2, x.shape[0]))
        out = torch.empty_like(x)
        for oy in range(2 * s + 1):
            for ox in range(2 * s + 1):
                sel = ((dy == oy) & (dx == ox)).nonzero().flatten().to(x.device)
                if len(sel):
                    out[sel] = padded[sel, :, oy:oy + h, ox:ox + w]
        return out


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


# --- cost -----------------------------------------------------------------------------------------
_FORMULA = (SplitMixed, CrossScaleAttention, FullSelfAttention)


def _kind(model: nn.Module, name: str) -> str:
    """What a layer belongs to, from its nearest known ancestor (for the cost breakdown)."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        m = model.get_submodule(".".join(parts[:i]))
        for cls, label in ((SplitMixed, "SMM"), (CrossScaleAttention, "CSA"), (FullSelfAttention, "MHSA"),
                           (BasicBlock, "basic block"), (CSABlock, "MLP")):
            if isinstance(m, cls):
                return label
    return "conv" if isinstance(model.get_submodule(name), nn.Conv2d) else "linear"


def cost_breakdown(model: nn.Module, input_shape: Sequence[int]) -> pd.DataFrame:
    """One row per costed unit: ``module, stage, kind, macs, params`` (analytic MACs).

    Units are the modules with a formula (SMM, CSA, MHSA: their ``.macs``) and every other
    ``Conv2d`` / ``Linear`` (``H_out·W_out·C_out·C_in/groups·k²`` and ``tokens·C_in·C_out``).
    Normalisation layers hold parameters but no counted MACs: they appear as ``kind="norm"``.
    One forward pass at batch 1 in eval mode records the shapes.
    """
    rows: list[dict[str, Any]] = []
    hooks = []
    units = {n: m for n, m in model.named_modules() if isinstance(m, _FORMULA)}

    def inside(n: str) -> bool:
        return any(n.startswith(u + ".") for u in units)

    def hook_for(name: str, m: nn.Module) -> Callable:
        def hook(mod: nn.Module, args: tuple, out: Tensor) -> None:
            if isinstance(mod, SplitMixed):
                macs = mod.macs(*args[0].shape[-2:])
            elif isinstance(mod, (CrossScaleAttention, FullSelfAttention)):
                macs = mod.macs(*args[1])
            elif isinstance(mod, nn.Conv2d):
                k = mod.kernel_size[0] * mod.kernel_size[1]
                macs = out.shape[-2] * out.shape[-1] * mod.out_channels * (mod.in_channels // mod.groups) * k
            else:
                macs = (args[0].numel() // mod.in_features) * mod.in_features * mod.out_features
            rows.append({"module": name, "macs": int(macs), "params": sum(p.numel() for p in mod.parameters())})
        return hook

    for name, m in model.named_modules():
        if name in units or (isinstance(m, (nn.Conv2d, nn.Linear)) and not inside(name)):
            hooks.append(m.register_forward_hook(hook_for(name, m)))
    was = model.training
    model.eval()
    try:
        dev = next(model.parameters()).device
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, device=dev))
    finally:
        model.train(was)
        for h in hooks:
            h.remove()
    counted = {r["module"] for r in rows}
    for name, m in model.named_modules():
        if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.LayerNorm)) and not inside(name) and name not in counted:
            rows.append({"module": name, "macs": 0, "params": sum(p.numel() for p in m.parameters())})
    df = pd.DataFrame(rows)
    df["stage"] = df["module"].str.split(".").str[0]
    df["kind"] = [("norm" if r.macs == 0 and not isinstance(model.get_submodule(r.module), (nn.Conv2d, nn.Linear))
                   else _kind(model, r.module)) for r in df.itertuples()]
    return df[["module", "stage", "kind", "macs", "params"]]


def analytic_macs(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Total analytic MACs of ``model`` on one input of ``input_shape`` (C, H, W)."""
    return int(cost_breakdown(model, input_shape)["macs"].sum())


def counted_macs(model: nn.Module, input_shape: Sequence[int]) -> int:
    """MACs per image as ``lk.cost`` counts them (``FlopCounterMode`` FLOPs / 2, eval mode)."""
    return int(cost(model, input_shape, latency=False)["MACs"])


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
            "train_seconds": round(seconds, 2), "epochs": settings.epochs}


def study_units(settings: CSASMLSettings) -> list[dict[str, Any]]:
    """The study's units (:mod:`labkit.studies._runner`): one per seed x run, in table order."""
    return [{"seed": int(seed), "run": run} for seed in settings.seeds for run in settings.runs]


def unit_rows(settings: CSASMLSettings, unit: dict[str, Any]) -> list[dict[str, Any]]:
    """One unit's rows: run ``unit["run"]`` on seed ``unit["seed"]`` (what Ray runs as a task)."""
    return [_run_row(settings, unit["seed"], unit["run"], settings.load_data(unit["seed"]))]


STUDY = Study("csasml", units=study_units, run=unit_rows, axes=("seeds", "runs"), volatile=("train_seconds",))
"""The study for :func:`labkit.studies._runner.run_units` (``--ray`` / ``--address`` on the CLI)."""


# --- verdict --------------------------------------------------------------------------------------
def _paired(df: pd.DataFrame, a: str, b: str) -> np.ndarray:
    """Per-seed ``acc(a) − acc(b)`` in points, over the seeds both runs have."""
    t = df.pivot_table(index="seed", columns="run", values="test_acc", aggfunc="first")
    if a not in t or b not in t:
        return np.array([])
    return ((t[a] - t[b]).dropna() * 100).to_numpy()


def _macs(df: pd.DataFrame, run: str) -> float:
    v = df.loc[df["run"] == run, "macs_counted"]
    return float(v.iloc[0]) if len(v) else float("nan")


def verdict(df: pd.DataFrame) -> pd.DataFrame:
    """PASS / FAIL per §2.5 criterion, as measured in ``df`` (from :func:`run_study`).

    Columns: ``criterion, claim, measured, mean_diff_pt, std_diff_pt, per_seed_pt, n_seeds,
    verdict``. Accuracy criteria use :func:`paired_pass` on per-seed differences (same seed =
    same data split, noise, init and batch order). ``n/a`` when the runs a criterion needs are
    missing; ``INFO`` for rows that §2.5 measures without a pass rule.
    """
    need = {"run", "seed", "test_acc", "macs_counted", "macs_analytic"}
    if not need <= set(df.columns):
        raise ValueError(f"verdict needs the table of run_study (columns {sorted(need)}); got {list(df.columns)}")
    rows = []

    def acc_row(criterion: str, claim: str, a: str, b: str, threshold: float, extra: str = "",
                extra_ok: bool = True, info: bool = False) -> None:
        d = _paired(df, a, b)
        if len(d) == 0:
            rows.append({"criterion": criterion, "claim": claim, "measured": f"needs runs {a} and {b}",
                         "mean_diff_pt": np.nan, "std_diff_pt": np.nan, "per_seed_pt": "", "n_seeds": 0,
                         "verdict": "n/a"})
            return
        sd = float(d.std(ddof=1)) if len(d) > 1 else np.nan
        ok = extra_ok and paired_pass(d, threshold)
        rows.append({"criterion": criterion, "claim": claim,
                     "measured": f"{a} − {b}: {d.mean():+.2f} ± {sd:.2f} pt{extra}",
                     "mean_diff_pt": float(d.mean()), "std_diff_pt": sd,
                     "per_seed_pt": ", ".join(f"{v:+.2f}" for v in d), "n_seeds": len(d),
                     "verdict": "INFO" if info else ("PASS" if ok else "FAIL")})

    base, lite = _macs(df, "baseline"), _macs(df, "csasml_lite")
    ratio = lite / base if base > 0 else np.nan
    rows.append({"criterion": "lite MACs", "claim": "MACs(csasml_lite) <= 0.75 x MACs(baseline)",
                 "measured": f"{lite:,.0f} / {base:,.0f} = {ratio:.3f}x" if np.isfinite(ratio) else "needs runs",
                 "mean_diff_pt": np.nan, "std_diff_pt": np.nan, "per_seed_pt": "", "n_seeds": 0,
                 "verdict": ("PASS" if ratio <= 0.75 else "FAIL") if np.isfinite(ratio) else "n/a"})
    acc_row("lite accuracy", "mean acc(csasml_lite) >= acc(baseline) − 0.3 pt", "csasml_lite", "baseline", -0.3)
    acc_row("local branch", "acc(csasml_lite) − acc(no_le) >= 0 pt", "csasml_lite", "no_le", 0.0)
    acc_row("multi-scale pooling", "acc(csasml_lite) − acc(single_scale) >= 0 pt", "csasml_lite", "single_scale", 0.0)
    r20, plug = _macs(df, "resnet20"), _macs(df, "resnet20_smm")
    lowers = bool(plug < r20)
    acc_row("plug-in", "SMM in resnet20 lowers MACs and loses <= 0.5 pt", "resnet20_smm", "resnet20", -0.5,
            extra=f"; MACs {plug / r20:.3f}x" if r20 > 0 else "", extra_ok=lowers)
    fm = _macs(df, "full_mhsa")
    acc_row("full MHSA ablation", "(no §2.5 rule) CSA vs full MHSA in the same backbone", "csasml_lite", "full_mhsa",
            0.0, extra=f"; MACs {lite / fm:.3f}x" if fm > 0 else "", info=True)
    agree = bool((df["macs_analytic"] == df["macs_counted"]).all())
    rows.append({"criterion": "MACs formulas", "claim": "analytic MACs == FlopCounterMode MACs (every run)",
                 "measured": "equal in every run" if agree else
                 "differ: " + ", ".join(sorted(set(df.loc[df["macs_analytic"] != df["macs_counted"], "run"]))),
                 "mean_diff_pt": np.nan, "std_diff_pt": np.nan, "per_seed_pt": "", "n_seeds": 0,
                 "verdict": "PASS" if agree else "FAIL"})
    rows.append({"criterion": "CIFAR-100 +1.8%", "claim": "thesis: +1.8% on CIFAR-100 at 25% less computation",
                 "measured": "not checked on CPU digits; needs CIFAR-100 (a GPU machine)", "mean_diff_pt": np.nan,
                 "std_diff_pt": np.nan, "per_seed_pt": "", "n_seeds": 0, "verdict": "n/a"})
    return pd.DataFrame(rows)


# --- attention viewer data ------------------------------------------------------------------------
class AttentionSample(NamedTuple):
    """Attention of one block on one image: ``weights`` (heads, N, M), ``scales``, map ``size``."""

    weights: np.ndarray
    scales: tuple[int, ...]
    size: tuple[int, int]
    image: np.ndarray


def attention_sample(model: nn.Module, image: Tensor, block: str | None = None) -> AttentionSample:
    """Run ``image`` (C, H, W) through ``model`` and return a CSA block's attention weights.

    ``block`` names a :class:`~labkit.models.csasml.CrossScaleAttention` (or the module holding
    it as ``.attn``); default: the first one. The weights come from the block's own
    :meth:`~labkit.models.csasml.CrossScaleAttention.attention` on the tokens it received.
    """
    if block is None:
        found = [n for n, m in model.named_modules() if isinstance(m, CrossScaleAttention)]
        if not found:
            raise ValueError("the model has no CrossScaleAttention block; use csasml_lite or plug_csa")
        block = found[0]
    attn = model.get_submodule(block)
    attn = getattr(attn, "attn", attn)
    if not isinstance(attn, CrossScaleAttention):
        raise ValueError(f"{block!r} is a {type(attn).__name__}, not a CrossScaleAttention")
    seen: dict[str, Any] = {}
    h = attn.register_forward_hook(lambda m, args, out: seen.update(x=args[0], size=args[1]))
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            dev = next(model.parameters()).device
            model(image.unsqueeze(0).to(dev))
            w = attn.attention(seen["x"], seen["size"])[0]
    finally:
        h.remove()
        model.train(was)
    return AttentionSample(w.cpu().numpy(), attn.scales, tuple(seen["size"]), image.cpu().numpy())


# --- saved results --------------------------------------------------------------------------------
def write_results(df: pd.DataFrame, path: str | os.PathLike[str], command: str) -> Path:
    """Save ``df`` with its command, settings and versions (:func:`labkit.studies._results.write_table`)."""
    return write_table(df, path, command, "labkit CSASML study (docs/methods.md §2.5; [inferred] modules, "
                                          "see labkit/models/csasml.py)")


def read_results(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Load a table saved by :func:`write_results`; its ``#`` header lines go to ``df.attrs``."""
    return read_table(path)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m labkit.studies.csasml [--smoke] [--epochs N] [--seeds 0 1 2] --out results.csv``."""
    import argparse
    import shlex
    import sys

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="tiny settings (CSASMLSettings.smoke())")
    ap.add_argument("--epochs", type=int, default=None, help="override the epochs (default 30)")
    ap.add_argument("--seeds", type=int, nargs="+", default=None)
    ap.add_argument("--runs", nargs="+", default=None, choices=list(RUNS))
    ap.add_argument("--cifar100", metavar="ROOT", default=None,
                    help="CIFAR-100 at 32x32 (CSASMLSettings.cifar100(root=ROOT)); needs the data files")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (1 is fastest on shared cores)")
    ap.add_argument("--out", required=True, help="CSV to write (atomically, after every unit; a rerun resumes)")
    add_cluster_flags(ap)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.smoke and args.cifar100:
        raise SystemExit("--smoke and --cifar100 exclude each other")
    s = (CSASMLSettings.smoke() if args.smoke else
         CSASMLSettings.cifar100(root=args.cifar100) if args.cifar100 else CSASMLSettings())
    s = replace(s, **{k: (tuple(v) if isinstance(v, list) else v) for k, v in
                      (("epochs", args.epochs), ("seeds", args.seeds), ("runs", args.runs)) if v is not None})
    cmd = " ".join(shlex.quote(a) for a in ["python", "-m", "labkit.studies.csasml",
                                            *(sys.argv[1:] if argv is None else argv)])
    df = run_cli(STUDY, s, args, prog="labkit.studies.csasml", write=lambda d: write_results(d, args.out, cmd),
                 read=read_results)
    with pd.option_context("display.width", 200, "display.max_colwidth", 90):
        print(verdict(df)[["criterion", "measured", "verdict"]].to_string(index=False))


if __name__ == "__main__":
    # Run the importable module, not __main__: Ray then pickles the unit function by reference.
    from labkit.studies.csasml import main as _main

    _main()
