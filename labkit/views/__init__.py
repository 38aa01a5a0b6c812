"""Views: pure functions from plain data to a matplotlib ``Figure`` (or a ``DataFrame``).

They are the same in marimo, JupyterLab and exported HTML (DESIGN.md §5): a view never calls
``show()``, never touches pyplot's global figure list, and takes tables and dicts rather than
labkit's engine objects, so a report can be rebuilt from saved numbers alone. seaborn is
imported inside the functions that use it.

Example:
    >>> from labkit import views
    >>> fig = views.group_accuracy({"many": 0.95, "medium": 0.9, "few": 0.6, "overall": 0.9})
"""
from __future__ import annotations

from ._style import GROUP_COLORS as GROUP_COLORS
from ._style import METRIC_COLORS as METRIC_COLORS
from ._style import new_figure as new_figure
from .accuracy import accuracy_vs_sparsity as accuracy_vs_sparsity
from .accuracy import group_accuracy as group_accuracy
from .accuracy import group_summary as group_summary
from .accuracy import per_class_accuracy as per_class_accuracy
from .activations import activation_grid as activation_grid
from .cost import cost_bars as cost_bars
from .cost import cost_table as cost_table
from .masks import layer_overlap as layer_overlap
from .masks import overlap_heatmap as overlap_heatmap
from .masks import sparsity_profile as sparsity_profile
from .scores import score_distributions as score_distributions

__all__ = [
    "GROUP_COLORS",
    "METRIC_COLORS",
    "new_figure",
    "per_class_accuracy",
    "group_accuracy",
    "group_summary",
    "accuracy_vs_sparsity",
    "sparsity_profile",
    "overlap_heatmap",
    "layer_overlap",
    "activation_grid",
    "cost_bars",
    "cost_table",
    "score_distributions",
]
