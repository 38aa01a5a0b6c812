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

from collections.abc import Mapping, Sequence
from typing import Any

from ..lab import ALLOCATION_MODES
from .controls import ControlSpec, Dropdown, Slider

__all__ = ["lab_controls", "merge_controls", "merge_request", "WEIGHT_SOURCES", "influence_controls",
           "rescue_controls", "transfer_controls", "criteria_for", "resolve_granularity", "NORMALIZE_HELP"]

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
        Dropdown("normalize", "per-layer normalisation (global)", ("auto", "none", "l2", "minmax", "mean"), "auto"),
        Slider("depth_bias", "depth bias δ (layered)", -0.5, 0.9, 0.1, 0.5, debounce=True),
    ])


NORMALIZE_HELP = ("`auto` ranks weights by their raw score and filters by their score divided by the layer's "
                  "L2 norm: filter norms differ by orders of magnitude between layers, so one raw global "
                  "threshold would empty the early layers and leave the model at chance.")


def criteria_for(granularity: str, criteria: Sequence[str] | None = None) -> list[str]:
    """The criteria that can score at ``granularity`` (``"weight"`` or ``"filter"``), fast ones first.

    Example:
        >>> "apoz" in criteria_for("weight"), "apoz" in criteria_for("filter")
        (False, True)
    """
    from ..criteria import list_criteria

    ok = set(list_criteria(granularity=granularity))
    names = [c for c in (criteria if criteria is not None else list_criteria()) if c in ok]
    return [c for c in _FAST_FIRST if c in names] + [c for c in names if c not in _FAST_FIRST]


def resolve_granularity(criterion: str, granularity: str) -> tuple[str, str | None]:
    """The granularity a criterion can actually score at, and a note when it differs from the one asked.

    A UI that offers every criterion lets the granularity follow the criterion instead of failing:
    APoZ only scores whole filters, so ``("apoz", "weight")`` resolves to ``"filter"`` with a note.

    Example:
        >>> resolve_granularity("apoz", "weight")[0], resolve_granularity("magnitude", "weight")
        ('filter', ('weight', None))
    """
    from ..criteria import get_criterion

    supported = get_criterion(criterion).granularities
    if granularity in supported:
        return granularity, None
    return supported[0], (f"`{criterion}` scores {' / '.join(supported)}s only, so the granularity is "
                          f"`{supported[0]}` here (you asked for `{granularity}`).")


WEIGHT_SOURCES = ("sliders", "softmax(τ · val accuracy)")


def merge_controls(candidates: Sequence[str]) -> ControlSpec:
    """One merge-weight slider per candidate, the merge mode, and where the weights come from.

    ``weights = "softmax(τ · val accuracy)"`` is method 1's rule (docs/methods.md §1.4,
    :meth:`labkit.Lab.merge_weights`); the sliders then stand aside and ``tau`` sets how sharply
    the best candidate wins.
    """
    from ..pruning import list_merge_modes

    modes = tuple(list_merge_modes())
    return ControlSpec(
        [Slider(f"w_{c}", f"weight of {c}", 0.0, 1.0, 0.1, 0.5, debounce=True) for c in candidates]
        + [Dropdown("merge_mode", "merge mode", modes, "weighted" if "weighted" in modes else modes[0]),
           Dropdown("weights", "merge weights from", WEIGHT_SOURCES, WEIGHT_SOURCES[0]),
           Slider("tau", "temperature τ", 0, 60, 5, 20, debounce=True)])


def merge_request(candidates: Sequence[str], values: Mapping[str, Any]) -> dict[str, Any]:
    """The merge controls' ``values`` as keywords of :meth:`labkit.Lab.merging`.

    ``weights`` is ``None`` when the weights come from validation accuracy (method 1's softmax
    with temperature ``tau``), else the hand-set slider weights (the lab normalises them).

    Example:
        >>> merge_request(["a", "b"], {"w_a": 0.2, "w_b": 0.6, "merge_mode": "weighted",
        ...                            "weights": WEIGHT_SOURCES[0], "tau": 20})
        {'weights': {'a': 0.2, 'b': 0.6}, 'tau': 20.0, 'merge_mode': 'weighted'}
    """
    softmax = values.get("weights") == WEIGHT_SOURCES[1]
    return {"weights": None if softmax else {c: float(values[f"w_{c}"]) for c in candidates},
            "tau": float(values["tau"]), "merge_mode": values["merge_mode"]}


def influence_controls(conv_layers: Sequence[str]) -> ControlSpec:
    """Method 5 (DOMINOS): the conv layer whose channels' domino influence curves are shown."""
    if not conv_layers:
        raise ValueError("the model has no prunable conv layer to measure domino influence on")
    layers = tuple(conv_layers)
    return ControlSpec([Dropdown("layer", "layer", layers, layers[len(layers) // 3])])


def rescue_controls() -> ControlSpec:
    """Method 3: sparsity, rescue budget ρ, the search (GA or binary PSO) and its iterations.

    The values go to :meth:`labkit.Lab.rescue` as ``sparsity, rho, method, generations``. SA and
    the learned mask are left to the study notebook: their defaults take thousands of steps.
    """
    return ControlSpec([
        Slider("sparsity", "sparsity s", 0.3, 0.95, 0.05, 0.5, debounce=True),
        Slider("rho", "rescue budget ρ", 0.05, 0.5, 0.05, 0.2, debounce=True),
        Dropdown("method", "search", ("ga", "pso"), "ga"),
        Slider("generations", "generations (iterations)", 2, 40, 2, 8, debounce=True),
    ])


def transfer_controls() -> ControlSpec:
    """Method 4: the filter pruning ratio r of :meth:`labkit.Lab.kept_filters`."""
    return ControlSpec([Slider("ratio", "filter pruning ratio r", 0.1, 0.8, 0.1, 0.4, debounce=True)])
