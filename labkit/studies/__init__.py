"""Studies: one end-to-end experiment per method of METHODS.md, each returning a result table.

A study module exposes ``run_study(settings) -> DataFrame`` (one row per run × seed) and
``verdict(df) -> DataFrame`` (PASS / FAIL per criterion of its METHODS section, as measured).

Example:
    >>> from labkit.studies import csasml
    >>> csasml.CSASMLSettings.smoke().epochs
    1
"""
from __future__ import annotations

from . import csasml as csasml
from . import dominos as dominos
from . import longtail as longtail
from . import optimized as optimized
from . import transfer as transfer

__all__ = ["csasml", "dominos", "longtail", "optimized", "transfer"]
