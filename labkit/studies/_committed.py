"""The committed full runs of the studies: read one, or run the study instead; every method's verdict.

A study's full run is committed as ``notebooks/studies/results/<name>.csv`` (its command in the
``#`` header). The study notebooks show that run and rerun it on request: :func:`load_or_run` is
that one decision, :func:`committed_verdicts` the PASS / FAIL tables of all five methods at once.

Example:
    >>> from labkit.studies import transfer
    >>> got = load_or_run(transfer, None, "notebooks/studies/results/transfer.csv", rerun=False)  # doctest: +SKIP
    >>> got.source                                                                          # doctest: +SKIP
    'committed run: `python -m labkit.studies.transfer run --threads 1 --seeds 0 1 2 3 4 --out ...`'
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

__all__ = ["StudyModule", "Loaded", "load_or_run", "committed_verdicts", "METHOD_STUDIES"]

# docs/methods.md section -> study module, in the order of the thesis methods.
METHOD_STUDIES = {"1 · long tail": "longtail", "2 · CSASML": "csasml", "3 · optimized small weights": "optimized",
                  "4 · transfer filters": "transfer", "5 · DOMINOS": "dominos"}


class StudyModule(Protocol):
    """What :func:`load_or_run` needs of a study module (``labkit.studies.<name>``)."""

    def run_study(self, settings: Any, **kw: Any) -> pd.DataFrame: ...

    def read_results(self, path: str | os.PathLike[str]) -> pd.DataFrame: ...


@dataclass(frozen=True)
class Loaded:
    """A study's table and where it came from: ``path`` (the committed CSV) or ``None`` (run here)."""

    table: pd.DataFrame
    path: Path | None

    @property
    def command(self) -> str:
        """The command that made the committed table (``""`` for a run in this process)."""
        return str(self.table.attrs.get("command", "")) if self.path is not None else ""

    @property
    def source(self) -> str:
        """One line for a notebook: ``this run`` or ``committed run: `<command>```."""
        return f"committed run: `{self.command}`" if self.path is not None else "this run"


def load_or_run(study: StudyModule, settings: Any, committed_path: str | os.PathLike[str], rerun: bool,
                **run: Any) -> Loaded | None:
    """The committed table at ``committed_path`` or, with ``rerun``, ``study.run_study(settings, **run)``.

    Returns ``None`` when nothing is committed there and ``rerun`` is false (say how to make it);
    the committed CSV is never written here.
    """
    if rerun:
        return Loaded(study.run_study(settings, **run), None)
    path = Path(committed_path)
    if not path.exists():
        return None
    return Loaded(study.read_results(path), path)


def committed_verdicts(folder: str | os.PathLike[str]) -> pd.DataFrame:
    """Every method's PASS / FAIL table, recomputed from the committed full-run CSVs in ``folder``.

    Columns ``method, kind, criterion, claim, measured, verdict``: ``kind`` is ``claim`` (an
    empirical claim stated in advance) or ``check`` (a structural check or the proxy's headroom;
    :func:`~labkit.studies._verdict.split_verdict`). Every table is judged by today's rule
    (:func:`~labkit.studies._verdict.beats`), whatever its header format (1: the runs before
    issue 17; 2: with wall time and git commit): claims whose runs a format-1 table lacks are
    ``n/a``. A study whose CSV is missing is skipped (its study notebook makes it).

    Example:
        >>> v = committed_verdicts("notebooks/studies/results")   # doctest: +SKIP
        >>> v.groupby("method")["verdict"].value_counts()         # doctest: +SKIP
    """
    parts = []
    for method, name in METHOD_STUDIES.items():
        study = importlib.import_module(f"labkit.studies.{name}")
        got = load_or_run(study, None, Path(folder) / f"{name}.csv", rerun=False)
        if got is not None:
            v = study.verdict(got.table)
            parts.append(v[["kind", "criterion", "claim", "measured", "verdict"]].assign(method=method))
    if not parts:
        raise FileNotFoundError(f"no study results (*.csv) in {folder}; run a study notebook or its CLI first")
    return pd.concat(parts, ignore_index=True)[["method", "kind", "criterion", "claim", "measured", "verdict"]]
