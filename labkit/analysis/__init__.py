"""Analysis: per-class evaluation; later modules add overlap, influence, cost, sensitivity, ...

To add a module, append its re-exports below and its names to ``__all__`` (one per line).

Example:
    >>> from labkit.analysis import evaluate, ClassReport
"""
from __future__ import annotations

from .evaluate import ClassReport as ClassReport
from .evaluate import evaluate as evaluate
from .evaluate import evaluate_predictions as evaluate_predictions
from .evaluate import wilson_interval as wilson_interval

__all__ = [
    "ClassReport",
    "evaluate",
    "evaluate_predictions",
    "wilson_interval",
]
