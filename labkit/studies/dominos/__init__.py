"""Method 5 study (docs/methods.md §5.7): DOMINOS channel-to-block pruning and its attention stage on a CPU.

The thesis (Ting-An Chen, NTU 2020) claims that scoring channels by feature representativeness
and Weibull-modelled domino influence, removing whole blocks where channels would mismatch, and
adding attention on the slimmed network cuts FLOPs and parameters with little accuracy loss. Its
body is not public: R, D, the selection rule and the SE stage here are **our [inferred] designs**
(:mod:`labkit.criteria.dominos`, :mod:`labkit.analysis.influence`, :mod:`labkit.pruning.blocks`,
:mod:`labkit.models.se`), and this study tests *those*, not the author's exact method.

Per seed (same seed = same split, noise, init and batch order for every run):

1. ResNet-20 on the embedded digits at 16×16, Gaussian noise σ = 0.5 on every split, half of the
   training pool; SGD 0.1, cosine, ``epochs`` epochs (the dense reference).
2. Scores on ``calib_items`` training images: L1 norm of the filter (Li et al. 2017), seeded random,
   R, D (exact ablation curves + Weibull fits; their time and R² are recorded) and I = R^α D̂^(1−α).
3. For each MACs target (−40%, −60%, −70%, −75%) and each run of :data:`RUNS`: global selection with the 20%
   floor, channel-to-block rule (or not), slimmed network (removed blocks replaced, channels
   compacted with Torch-Pruning), accuracy before and after ``finetune_epochs`` epochs of SGD.
4. For the runs in ``attention_runs``: SE gates + ``attention_epochs`` epochs vs the same number of
   plain extra epochs (the control), paired.

:mod:`.settings` holds the runs and settings, :mod:`.pipeline` the steps above (:func:`run_study`),
:mod:`.explore` what the notebook recomputes from stored scores, and :mod:`.claims` the §5.7
claims that :func:`verdict` checks with docs/methods.md §0.1's paired-seed rule; every ablation is
reported as INFO. Nothing is tuned to pass.

Run: ``python -m labkit.studies.dominos --out results.csv [--smoke] [--seeds 0 1 2] [--epochs N]``.

Example:
    >>> df = run_study(DominosSettings.smoke())          # doctest: +SKIP
    >>> verdict(df)[["criterion", "verdict"]]           # doctest: +SKIP
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .._cli import Option, Preset, StudyCommand, study_main
from .._results import read_table, write_table
from .claims import claims, stated_claims, verdict
from .explore import importance_frame, rescore, stage_summary
from .pipeline import STUDY, SeedArtifacts, check_settings, prepare_seed, run_study, scores_for_seed, study_units, unit_rows
from .settings import COLUMNS, RUNS, DominosSettings, Run

__all__ = ["DominosSettings", "RUNS", "Run", "SeedArtifacts", "COLUMNS", "scores_for_seed", "prepare_seed",
           "run_study", "check_settings", "study_units", "unit_rows", "STUDY", "rescore", "importance_frame",
           "stage_summary", "claims",
           "stated_claims", "verdict", "write_results", "read_results", "COMMAND", "main"]


def write_results(df: pd.DataFrame, path: str | os.PathLike[str], command: str) -> Path:
    """Save ``df`` with its command, settings and versions (:func:`labkit.studies._results.write_table`)."""
    return write_table(df, path, command, "labkit DOMINOS study (docs/methods.md §5.7; [inferred] scores, block rule "
                                          "and attention)")


def read_results(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Load a table saved by :func:`write_results`; its ``#`` header lines go to ``df.attrs``."""
    df = read_table(path)
    df["removed_blocks"] = df["removed_blocks"].fillna("")
    df["structure"] = df["structure"].fillna("")
    return df


COMMAND = StudyCommand(
    "labkit.studies.dominos", STUDY, DominosSettings, write=write_results, read=read_results, verdict=verdict,
    options=(Option("--epochs", help="dense epochs (default 30)"), Option("--finetune-epochs", help="default 15"),
             Option("--attention-epochs", help="default 10"), Option("--runs", str, many=True, choices=list(RUNS)),
             Option("--targets", float, many=True, help="MACs reductions (default 0.4 0.6 0.7 0.75)")),
    presets=(Preset("--cifar10", DominosSettings.cifar10,
                    "ResNet-56 on CIFAR-10 (DominosSettings.cifar10(root=ROOT)); needs the data files, meant for a GPU"),),
    check=check_settings)
"""The study's command line (:mod:`labkit.studies._cli`)."""


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m labkit.studies.dominos --out results.csv [--smoke] [--seeds 0 1 2] [--epochs N] ...``."""
    study_main(COMMAND, argv)
