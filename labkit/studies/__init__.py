"""Studies: one end-to-end experiment per method of docs/methods.md, each returning a result table.

A study module exposes ``run_study(settings) -> DataFrame`` (one row per run × seed) and
``verdict(df) -> DataFrame`` (PASS / FAIL per criterion of its docs/methods.md section, as measured).

Example:
    >>> from labkit.studies import csasml
    >>> csasml.CSASMLSettings.smoke().epochs
    1
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

import pandas as pd

__all__ = ["csasml", "dominos", "longtail", "optimized", "transfer", "METHOD_STUDIES", "committed_verdicts"]

# docs/methods.md section -> study module, in the order of the thesis methods.
METHOD_STUDIES = {"1 · long tail": "longtail", "2 · CSASML": "csasml", "3 · optimized small weights": "optimized",
                  "4 · transfer filters": "transfer", "5 · DOMINOS": "dominos"}


def __getattr__(name: str) -> ModuleType:
    # Imported on first use: `python -m labkit.studies.longtail` then runs the module once, as
    # __main__, instead of importing it here first (runpy's "found in sys.modules" warning).
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def committed_verdicts(folder: str | os.PathLike[str]) -> pd.DataFrame:
    """Every method's PASS / FAIL table, recomputed from the committed full-run CSVs in ``folder``.

    Columns ``method, criterion, claim, measured, verdict``; a study whose CSV is missing is
    skipped (its study notebook makes it).

    Example:
        >>> v = committed_verdicts("notebooks/studies/results")   # doctest: +SKIP
        >>> v.groupby("method")["verdict"].value_counts()         # doctest: +SKIP
    """
    parts = []
    for method, name in METHOD_STUDIES.items():
        path = Path(folder) / f"{name}.csv"
        if path.exists():
            study = importlib.import_module(f"{__name__}.{name}")
            v = study.verdict(study.read_results(path))
            parts.append(v[["criterion", "claim", "measured", "verdict"]].assign(method=method))
    if not parts:
        raise FileNotFoundError(f"no study results (*.csv) in {folder}; run a study notebook or its CLI first")
    return pd.concat(parts, ignore_index=True)[["method", "criterion", "claim", "measured", "verdict"]]
