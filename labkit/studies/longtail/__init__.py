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
    M*  = weighted merge of M_k, α = softmax(τ a_k)    merge_trainers -> labkit.pruning.merge_candidates
    k*  = argmax α_k
    θ*  = finetune(θ_{k*} ⊙ M*, trainer k*, E_ft)       run E: the full method

and the controls of §1.7: **B** the dense control (θ_{k*} fine-tuned ``E_ft`` more epochs with
trainer k*, no mask: the same training budget as E, so a gain of the long-tail loss is not
credited to pruning; ``control="theta_k"`` uses θ_{k*} as is), **C** uniform magnitude pruning
of θ0 fine-tuned with CE, **D** the single mask M_{k*} with the same layered budgets and the
same fine-tune as E (so E − D isolates merging). C, D, E run at every sparsity of the sweep;
k* (and hence B) is chosen per sparsity, as §1.5 defines it.

:func:`run_study` repeats the unit over seeds × class permutations and returns one tidy row
per (run, sparsity, seed, permutation) (:mod:`.pipeline`, settings in :mod:`.settings`);
:func:`verdict` checks the §1.7 claims (:mod:`.claims`) with docs/methods.md §0.1's paired rule;
:func:`pie_study` counts PIEs (Hooker et al.) over K training seeds of one split.

Run: ``python -m labkit.studies.longtail --out results.csv [--smoke | --cifar100-lt ROOT] [--pie-k 5]``;
beside the CSV it writes a ``.md`` with the command, the settings, the verdict and the PIEs.

Example:
    >>> df = run_study(LongTailSettings.smoke())                 # doctest: +SKIP
    >>> verdict(df)[["criterion", "measured", "verdict"]]        # doctest: +SKIP

CIFAR-100-LT with ResNet-32 (needs the data and, in practice, a GPU):
    >>> run_study(LongTailSettings.cifar100_lt(root="~/data"))  # doctest: +SKIP
"""
from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ...io import atomic_write
from .._cli import Option, Preset, StudyCommand, study_main
from .._report import study_markdown
from .._results import read_table, write_table
from .claims import Pair, claims, stated_claims, verdict
from .pipeline import (
    STUDY,
    TrainerMerge,
    UnitResult,
    merge_trainers,
    pie_study,
    run_study,
    run_unit,
    study_units,
    unit_rows,
)
from .settings import COLUMNS, RUNS, LongTailSettings, load_unit_data

__all__ = ["LongTailSettings", "RUNS", "COLUMNS", "load_unit_data", "TrainerMerge", "merge_trainers", "UnitResult",
           "run_unit", "run_study", "study_units", "unit_rows", "STUDY", "pie_study", "Pair", "claims", "stated_claims",
           "verdict", "write_results", "read_results", "COMMAND", "main"]


def write_results(df: pd.DataFrame, path: str | os.PathLike[str], command: str) -> Path:
    """Save ``df`` with its command, settings and versions (:func:`labkit.studies._results.write_table`)."""
    return write_table(df, path, command, "labkit long-tail pruning study (docs/methods.md §1.7; trainers, layering "
                                          "and merging are [inferred])")


def read_results(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Load a table saved by :func:`write_results`; its ``#`` header lines go to ``df.attrs``."""
    df = read_table(path, dtype={"alpha": str, "trainer": str, "run": str})
    df["alpha"] = df["alpha"].fillna("")
    return df


def _report(args: argparse.Namespace, s: LongTailSettings, df: pd.DataFrame, command: str, started: float) -> None:
    """The ``.md`` beside the CSV (:func:`labkit.studies._report.study_markdown`), plus the PIEs with ``--pie-k``."""
    out = Path(args.out)
    md = study_markdown("longtail", read_results(out), csv=out)
    if args.pie_k:
        rep = pie_study(s, k=args.pie_k)
        md += (f"\n## PIEs (K = {args.pie_k}, B vs E at s = {s.verdict_sparsity:g}, seed {s.seeds[0]}, "
               f"permutation {(s.permutations or [-1])[0]})\n\nOverall PIE rate {rep.rate:.3f}; by group "
               f"{ {g: round(r, 3) for g, r in rep.by_group().items()} }.\n\n```\n"
               + rep.per_class.sort_values("n_train", ascending=False).to_string(index=False) + "\n```\n")
    atomic_write(out.with_suffix(".md"), md)


def _pie_flag(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--pie-k", type=int, default=0, help="also count PIEs over K training seeds (0 = skip)")


COMMAND = StudyCommand(
    "labkit.studies.longtail", STUDY, LongTailSettings, write=write_results, read=read_results, verdict=verdict,
    options=(Option("--permutations", many=True), Option("--sparsities", float, many=True),
             Option("--trainers", str, many=True), Option("--e0"), Option("--e-aux"), Option("--e-ft"),
             Option("--criterion", str, choices=("magnitude", "taylor")),
             Option("--start", str, choices=("best", "theta0", "soup"),
                    help="what D and E fine-tune from: θ_k* (default), θ0, or the α-weighted soup of the θ_k")),
    presets=(Preset("--cifar100-lt", LongTailSettings.cifar100_lt,
                    "CIFAR-100-LT + ResNet-32 (LongTailSettings.cifar100_lt(root=ROOT)); needs the data files"),),
    flags=_pie_flag, after=_report)
"""The study's command line (:mod:`labkit.studies._cli`); the ``.md`` report is written after the table."""


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m labkit.studies.longtail --out results.csv [--smoke | --cifar100-lt ROOT] [--seeds 0 1 2] ...``.

    Writes the table (CSV), and beside it a ``.md`` with the command, the settings, the
    verdict and (with ``--pie-k``) the PIE table.
    """
    study_main(COMMAND, argv)
