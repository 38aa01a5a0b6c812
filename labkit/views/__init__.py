"""Views: pure functions from plain data to a matplotlib ``Figure`` (or a ``DataFrame``).

They are the same in marimo, JupyterLab and exported HTML (docs/design.md §5): a view never calls
``show()``, never touches pyplot's global figure list, and takes tables and dicts rather than
labkit's engine objects, so a report can be rebuilt from saved numbers alone. seaborn is
imported inside the functions that use it.

Example:
    >>> from labkit import views
    >>> fig = views.group_accuracy({"many": 0.95, "medium": 0.9, "few": 0.6, "overall": 0.9})
"""
from __future__ import annotations

from . import charts as charts  # Altair charts for the live lab (altair imported on first use)
from . import classes as classes  # many-class views: sortable table, worst classes named, spread
from ._style import GROUP_COLORS as GROUP_COLORS
from ._style import METRIC_COLORS as METRIC_COLORS
from ._style import group_line as group_line
from ._style import new_figure as new_figure
from .accuracy import accuracy_vs_sparsity as accuracy_vs_sparsity
from .accuracy import group_accuracy as group_accuracy
from .accuracy import group_summary as group_summary
from .accuracy import per_class_accuracy as per_class_accuracy
from .activations import activation_grid as activation_grid
from .cost import cost_bars as cost_bars
from .cost import cost_table as cost_table
from .csasml import accuracy_vs_macs as accuracy_vs_macs
from .csasml import attention_map as attention_map

# the methods' views (docs/methods.md §1-§5), one module per method
from .csasml import cost_stack as cost_stack
from .csasml import pareto_front as pareto_front
from .dominos import block_diagram as block_diagram
from .dominos import decay_curves as decay_curves
from .dominos import importance_scatter as importance_scatter
from .dominos import stage_bars as stage_bars
from .dominos import weibull_scatter as weibull_scatter
from .longtail import longtail_tradeoff as longtail_tradeoff
from .longtail import overlap_alpha as overlap_alpha
from .longtail import pie_rate as pie_rate
from .masks import layer_overlap as layer_overlap
from .masks import overlap_heatmap as overlap_heatmap
from .masks import sparsity_profile as sparsity_profile
from .optimized import fitness_curve as fitness_curve
from .optimized import rescued_per_layer as rescued_per_layer
from .optimized import variant_accuracy as variant_accuracy
from .optimized import weight_histogram as weight_histogram
from .samples import image_strip as image_strip
from .scores import score_distributions as score_distributions
from .transfer import class_activation_heatmap as class_activation_heatmap
from .transfer import cut_thresholds as cut_thresholds
from .transfer import kept_filters_bars as kept_filters_bars
from .transfer import transfer_curves as transfer_curves

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
    "cost_stack",
    "pareto_front",
    "accuracy_vs_macs",
    "attention_map",
    "decay_curves",
    "weibull_scatter",
    "importance_scatter",
    "block_diagram",
    "stage_bars",
    "longtail_tradeoff",
    "overlap_alpha",
    "pie_rate",
    "weight_histogram",
    "fitness_curve",
    "variant_accuracy",
    "rescued_per_layer",
    "kept_filters_bars",
    "cut_thresholds",
    "transfer_curves",
    "class_activation_heatmap",
    "image_strip",
    "charts",
]
