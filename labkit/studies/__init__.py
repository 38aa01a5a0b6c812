"""Studies: one end-to-end experiment per method of docs/methods.md, each returning a result table.

A study module (``labkit.studies.<name>``) keeps only its settings, its pipeline and its claims:

* ``<Name>Settings`` (``smoke()`` for CI), ``run_study(settings) -> DataFrame`` (one row per run ×
  seed) and ``STUDY``, its units for the runner (:mod:`labkit.studies._runner`, Ray in
  :mod:`labkit.studies._ray`);
* ``verdict(df) -> DataFrame``: its claims (:class:`~labkit.studies._verdict.Claim`) checked as
  measured, PASS / FAIL / INFO per criterion of its docs/methods.md section, one schema for all;
* ``main(argv)``: ``python -m labkit.studies.<name> --out results.csv [--smoke] [--seeds ...]``,
  the same command line for every study (:mod:`labkit.studies._cli`; also ``labkit study <name>``).

The notebooks read a committed run or rerun it with :func:`load_or_run`;
:func:`committed_verdicts` gives every method's verdict from the committed CSVs.

Example:
    >>> from labkit.studies import csasml
    >>> csasml.CSASMLSettings.smoke().epochs
    1
"""
from __future__ import annotations

import importlib
from types import ModuleType

from ._committed import METHOD_STUDIES, Loaded, committed_verdicts, load_or_run, verdict_markdown

__all__ = ["csasml", "dominos", "longtail", "optimized", "transfer", "METHOD_STUDIES", "committed_verdicts",
           "verdict_markdown", "load_or_run", "Loaded"]
_STUDIES = ("csasml", "dominos", "longtail", "optimized", "transfer")


def __getattr__(name: str) -> ModuleType:
    # Imported on first use: `python -m labkit.studies.longtail` then runs the module once, as
    # __main__, instead of importing it here first (runpy's "found in sys.modules" warning).
    if name in _STUDIES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
