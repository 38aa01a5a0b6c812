"""The lab's controls, described once for both hosts (marimo and JupyterLab).

``lab_controls(lab)`` lists what the main lab notebook lets a user change: criterion,
granularity, allocation mode, the global sparsity slider and the options of the global and
layered allocations. :func:`labkit.ui.marimo.controls` renders it as ``mo.ui`` elements,
:func:`labkit.ui.jupyter.controls` as ipywidgets; both return the same ``dict`` that
``lab.prune(**values)`` accepts.

Example:
    >>> spec = lab_controls(criteria=["magnitude", "random"])
    >>> spec.defaults()["sparsity"], spec["sparsity"].label
    (0.5, 'global sparsity')
"""
from __future__ import annotations

from typing import Sequence

from ..lab import ALLOCATION_MODES
from .controls import ControlSpec, Dropdown, Slider

__all__ = ["lab_controls", "merge_controls"]

# Criteria that score from weights alone, or from a forward pass on the validation split:
# fast enough to switch live. Attribution criteria (captum) are listed after them.
_FAST_FIRST = ("magnitude", "magnitude_l2", "min_weight", "avg_weight", "random",
               "mean_activation", "apoz", "taylor")


def lab_controls(criteria: Sequence[str] | None = None, sparsity: float = 0.5) -> ControlSpec:
    """The main lab's control spec (the browser test finds the slider by its label "global sparsity")."""
    if criteria is None:
        from ..criteria import list_criteria

        criteria = list_criteria()
    ordered = [c for c in _FAST_FIRST if c in criteria] + [c for c in criteria if c not in _FAST_FIRST]
    return ControlSpec([
        Dropdown("criterion", "criterion", tuple(ordered), "magnitude" if "magnitude" in ordered else ordered[0]),
        Dropdown("granularity", "granularity", ("weight", "filter"), "weight"),
        Dropdown("mode", "allocation", ALLOCATION_MODES, "global"),
        Slider("sparsity", "global sparsity", 0.0, 0.95, 0.05, sparsity, debounce=True),
        Dropdown("normalize", "per-layer normalisation (global)", ("none", "l2", "minmax", "mean"), "none"),
        Slider("depth_bias", "depth bias δ (layered)", -0.5, 0.9, 0.1, 0.5, debounce=True),
    ])


def merge_controls(candidates: Sequence[str]) -> ControlSpec:
    """One merge-weight slider per candidate criterion plus the merge mode."""
    from ..pruning import list_merge_modes

    modes = tuple(list_merge_modes())
    return ControlSpec(
        [Slider(f"w_{c}", f"weight of {c}", 0.0, 1.0, 0.1, 0.5, debounce=True) for c in candidates]
        + [Dropdown("merge_mode", "merge mode", modes, "weighted" if "weighted" in modes else modes[0])])
