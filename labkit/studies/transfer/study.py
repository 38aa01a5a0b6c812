"""The offline §4.5 experiment of method 4 (docs/methods.md §4.5), its claims and its command line.

``vgg_small`` pretrained on digits 0-4 (the shipped checkpoint; :func:`pretrain_source` remakes
it), target digits 5-9 with 15 training images per class, the rest of 5-9 as test; one unit per
seed (its own 15-shot sample) runs :func:`~labkit.studies.transfer.protocol.run_transfer`.

Example:
    >>> [u["seed"] for u in study_units(TransferSettings.smoke())]
    [0, 1, 2]
"""
from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ...analysis.evaluate import evaluate
from ...data import LabData, load_dataset
from ...models import ASSETS_DIR, load_model, save_checkpoint, update_manifest
from ...pruning import Masks
from ...training import FitConfig, fit
from .._cli import Option, StudyCommand, StudyParser, add_study_flags, run_parsed
from .._results import read_table, write_table
from .._runner import Study
from .._verdict import Claim, headroom, paired_diffs, verdict_table
from .protocol import run_transfer
from .settings import ARMS, SOURCE, TransferSettings

__all__ = ["source_data", "target_data", "pretrain_source", "load_source", "run_study", "study_units", "unit_rows",
           "STUDY", "claims", "stated_claims", "verdict", "write_results", "read_results", "COMMAND",
           "main"]


# --- the offline §4.5 experiment -------------------------------------------------------------------
def source_data(seed: int = 0) -> LabData:
    """Digits 0-4 at 32x32: the source task of §4.5."""
    return load_dataset("digits", seed=seed, **SOURCE["dataset_kwargs"])


def target_data(settings: TransferSettings, seed: int) -> LabData:
    """Digits 5-9, ``shots`` training images per class (resampled by ``seed``), the rest as test
    (or its first ``settings.test_per_class`` images per class, for quick runs), every split with
    Gaussian pixel noise of std ``settings.noise``."""
    data = load_dataset("digits", seed=seed, classes=list(settings.target_classes), shots=settings.shots,
                        test_per_class=None, size=settings.image_size, noise=settings.noise,
                        noise_splits=("train", "val", "test"))
    if settings.test_per_class is not None:
        y = data.test.targets.numpy()
        idx = np.concatenate([np.flatnonzero(y == c)[:settings.test_per_class] for c in np.unique(y)])
        data = replace(data, test=data.test.subset(np.sort(idx)))
    return data


def pretrain_source(out: str | os.PathLike[str] | None = None, *, epochs: int = 20, seed: int = 0,
                    lr: float = 1e-3, batch_size: int = 64, ship: bool = True) -> Path:
    """Train ``vgg_small`` on digits 0-4 (§4.5 "source pretraining") and save the checkpoint.

    The shipped file is ``labkit/models/assets/vgg_small__digits-0-4.safetensors``, remade by
    ``python -m labkit.studies.transfer pretrain``; ``ship`` records its sha256 in the manifest.
    """
    path = Path(out) if out is not None else ASSETS_DIR / f"{SOURCE['model']}__{SOURCE['dataset']}.safetensors"
    data = source_data(seed)
    torch.manual_seed(seed)
    net = load_model(SOURCE["model"], num_classes=data.num_classes, in_channels=data.input_shape[0])
    hist = fit(net, data.train, FitConfig(epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, progress=False),
               val=data.val)
    test = evaluate(net, data.test, n_boot=0)
    meta = {"model": SOURCE["model"], "dataset": SOURCE["dataset"], "dataset_kwargs": SOURCE["dataset_kwargs"],
            "training": hist.config, "seed": seed,
            "metrics": {"test_accuracy": round(float(test.overall), 4),
                        "val_accuracy": round(float(hist.val_accuracy[-1]), 4)},
            "made_by": "python -m labkit.studies.transfer pretrain (docs/methods.md §4.5)"}
    save_checkpoint(net.cpu(), path, meta)
    if ship:
        update_manifest(path)
    return path


def load_source() -> nn.Module:
    """The shipped source model (sha256-checked): ``vgg_small`` trained on digits 0-4."""
    return load_model(SOURCE["model"], dataset=SOURCE["dataset"], pretrained=True)


def run_study(settings: TransferSettings, *, source: nn.Module | None = None, progress: bool = True,
              keep: dict[tuple, Masks] | None = None) -> pd.DataFrame:
    """The offline §4.5 experiment: :func:`run_transfer` for every seed (its own 15-shot sample)."""
    src = source if source is not None else load_source()
    seeds = list(settings.seeds)
    it: Any = seeds
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(seeds, desc="§4.5 seeds")
    df = pd.concat([run_transfer(src, target_data(settings, seed), settings, seed, keep=keep, progress=progress)
                    for seed in it], ignore_index=True)
    df.attrs["settings"] = asdict(settings)
    return df


def study_units(settings: TransferSettings) -> list[dict[str, Any]]:
    """The study's units (:mod:`labkit.studies._runner`): one per seed (its own 15-shot sample)."""
    return [{"seed": int(seed)} for seed in settings.seeds]


def unit_rows(settings: TransferSettings, unit: dict[str, Any]) -> list[dict[str, Any]]:
    """One unit's rows: :func:`run_transfer` of the shipped source on the seed's target (a Ray task)."""
    seed = unit["seed"]
    return run_transfer(load_source(), target_data(settings, seed), settings, seed).to_dict("records")


STUDY = Study("transfer", units=study_units, run=unit_rows, axes=("seeds",))
"""The study for :func:`labkit.studies._runner.run_units` (``--ray`` / ``--address`` on the CLI)."""


# --- claims ----------------------------------------------------------------------------------------
V1_TEST_ITEMS = 771
"""Test items of the table committed before issue 17 (every unused 5-9 image; no ``n_test`` column)."""


def claims(ratio: float = 0.4) -> dict[str, Claim]:
    """The §4.5 claims at pruning ratio ``ratio``, then the checks (differences in points, paired by seed)."""
    return {c.criterion: c for c in (
        Claim(f"best data-driven at r={ratio:g}", "acc(best of mean_activation / APoZ, chosen on validation) − "
              "acc(unpruned) beats −2 pt on test (thesis: < 2 % loss)",
              metric="acc(best data-driven) − acc(unpruned)", threshold=-2.0,
              missing="needs data-driven criteria, r=0 and validation accuracy (the v1 table has none)"),
        Claim("data beats weight", "mean acc(data criteria) beats mean acc(weight criteria), inherit, r > 0",
              metric="acc(data) − acc(weight)"),
        Claim("weight beats random", "mean acc(weight criteria) beats mean acc(random), inherit, r > 0",
              metric="acc(weight) − acc(random)"),
        Claim("global vs per-layer", "(report) mean acc(global) − acc(per-layer), inherit, r > 0",
              metric="acc(global) − acc(per-layer)", rule="info"),
        *(Claim(f"{arm} vs inherit", f"(report) mean acc({arm}) − acc(inherit), r > 0; §4.5 expects << 0",
                metric=f"acc({arm}) − acc(inherit)", rule="info") for arm in ("scratch-e", "scratch-b")),
        Claim("source transfers", "unpruned: acc(inherit) beats acc(scratch-e), so the source is worth pruning "
              "(precondition, issue 17)", metric="acc(inherit, r=0) − acc(scratch-e, r=0)", kind="check"),
    )}


def stated_claims() -> list[Claim]:
    """The claims and checks of the default settings, for the rule tests."""
    return list(claims().values())


def _per_seed(df: pd.DataFrame, mask: pd.Series, col: str = "accuracy") -> pd.Series:
    return df[mask].groupby("seed")[col].mean()


def verdict(df: pd.DataFrame, ratio: float = 0.4) -> pd.DataFrame:
    """The §4.5 claims (:func:`claims`) checked as measured (paired by seed, :func:`~.._verdict.beats`).

    * ``best data-driven at r``: the best of mean activation / APoZ (x ranking) **by mean
      validation accuracy** at ``ratio``, judged on test: its accuracy minus unpruned transfer,
      per seed, must beat −2 pt. A table without ``val_accuracy`` (format 1) cannot choose
      honestly: n/a, with the best-on-test figure as a note.
    * ``data beats weight`` and ``weight beats random``: family means over every pruned ratio and
      ranking, inherit arm, paired by seed.
    * ``INFO``: global minus per-layer; Scratch-E and Scratch-B minus inherit.
    * checks: the source transfers (unpruned inherit beats unpruned Scratch-E) and the headroom.

    Fewer than 3 seeds cannot pass (§0.1).
    """
    need = {"criterion", "family", "ranking", "arm", "ratio", "seed", "accuracy"}
    if not need <= set(df.columns):
        raise ValueError(f"verdict needs the table of run_transfer (columns {sorted(need)}); got {list(df.columns)}")
    c = claims(ratio)
    enough = df["seed"].nunique() >= 3
    inh = df[df["arm"] == "inherit"]
    dense = inh[inh["ratio"] == 0].groupby("seed")["accuracy"].mean()
    at = inh[np.isclose(inh["ratio"], ratio) & (inh["family"] == "data")]
    best = c[f"best data-driven at r={ratio:g}"]
    has_val = "val_accuracy" in df.columns and bool(df["val_accuracy"].notna().any())
    if len(at) and len(dense) and has_val:
        crit, rk = at.groupby(["criterion", "ranking"])["val_accuracy"].mean().idxmax()
        acc = at[(at["criterion"] == crit) & (at["ranking"] == rk)].set_index("seed")["accuracy"]
        checks = [best.check(paired_diffs(acc, dense), detail=f" ({crit}, {rk}, chosen on validation)",
                             require=enough)]
    elif len(at) and len(dense):
        crit, rk = at.groupby(["criterion", "ranking"])["accuracy"].mean().idxmax()
        acc = at[(at["criterion"] == crit) & (at["ranking"] == rk)].set_index("seed")["accuracy"]
        d = paired_diffs(acc, dense)
        checks = [best.judge(f"no validation accuracy to choose on; best on test ({crit}, {rk}, biased): "
                             f"{d.mean():+.2f} pt")]
    else:
        checks = [best.check([])]
    pruned = inh[inh["ratio"] > 0]
    fam = {f: _per_seed(pruned, pruned["family"] == f) for f in ("data", "weight", "random")}
    checks += [c[f"{a} beats {b}"].check(paired_diffs(fam[a], fam[b]), require=enough)
               for a, b in (("data", "weight"), ("weight", "random"))]
    checks.append(c["global vs per-layer"].check(paired_diffs(_per_seed(pruned, pruned["ranking"] == "global"),
                                                              _per_seed(pruned, pruned["ranking"] == "per-layer"))))
    allp = df[df["ratio"] > 0]
    inherit = _per_seed(allp, allp["arm"] == "inherit")
    checks += [c[f"{arm} vs inherit"].check(paired_diffs(_per_seed(allp, allp["arm"] == arm), inherit))
               for arm in ("scratch-e", "scratch-b")]
    r0 = df[df["ratio"] == 0]
    checks.append(c["source transfers"].check(paired_diffs(_per_seed(r0, r0["arm"] == "inherit"),
                                                           _per_seed(r0, r0["arm"] == "scratch-e"))))
    n_test = int(df["n_test"].iloc[0]) if "n_test" in df.columns and len(df) else V1_TEST_ITEMS
    checks.append(headroom(float(dense.mean()) if len(dense) else float("nan"), n_test,
                           "unpruned transfer test accuracy"))
    return verdict_table(checks)


# --- saved results ---------------------------------------------------------------------------------
def write_results(df: pd.DataFrame, path: str | os.PathLike[str], command: str) -> Path:
    """Save ``df`` with its command, settings and versions (:func:`labkit.studies._results.write_table`)."""
    return write_table(df, path, command, "labkit method 4 study (docs/methods.md §4.5)")


def read_results(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Load a table saved by :func:`write_results`; its header lines go to ``df.attrs``."""
    return read_table(path)


COMMAND = StudyCommand(
    "labkit.studies.transfer", STUDY, TransferSettings, write=write_results, read=read_results, verdict=verdict,
    options=(Option("--epochs", help="fine-tune epochs (default 30)"), Option("--ratios", float, many=True),
             Option("--criteria", str, many=True), Option("--arms", str, many=True, choices=ARMS)))
"""The ``run`` command line (:mod:`labkit.studies._cli`)."""


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m labkit.studies.transfer pretrain`` | ``run --out CSV [--smoke] [--seeds ..] [--epochs N]``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = StudyParser(prog="python -m labkit.studies.transfer", description=COMMAND.description)
    sub = ap.add_subparsers(dest="cmd", required=True)
    pre = sub.add_parser("pretrain", help="train the source vgg_small on digits 0-4 and ship it")
    pre.add_argument("--epochs", type=int, default=20)
    pre.add_argument("--seed", type=int, default=0)
    pre.add_argument("--out", default=None)
    pre.add_argument("--threads", type=int, help="torch.set_num_threads (1 is fastest on busy shared cores)")
    add_study_flags(COMMAND, sub.add_parser("run", help="the §4.5 experiment"))
    args = ap.parse_args(argv)
    if args.cmd == "run":
        run_parsed(COMMAND, args, argv)
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"wrote {pretrain_source(args.out, epochs=args.epochs, seed=args.seed)}")
