"""The lab: a dense model, its data and the caches that keep sliders live.

- :mod:`labkit.lab.plan`: :class:`Plan` (what decides a pruning) and :class:`Trial` (one pruning);
- :mod:`labkit.lab.core`: :class:`Lab`, the facade the notebooks drive;
- :mod:`labkit.lab.methods`: the five methods' views on a lab, one call each.

Hosts (marimo, Jupyter's :func:`labkit.ui.lab_app`, reports) sit above this package; nothing here
imports them.
"""
from .core import Lab
from .methods import FilterChoice, Merging, RescueComparison
from .plan import ALLOCATION_MODES, Plan, Trial, make_plan

__all__ = ["ALLOCATION_MODES", "FilterChoice", "Lab", "Merging", "Plan", "RescueComparison", "Trial", "make_plan"]
