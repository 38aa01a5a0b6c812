"""Render a :class:`~labkit.ui.controls.ControlSpec` as marimo UI elements.

In marimo a UI element assigned to a global re-runs every cell that reads it, so a notebook
builds its controls once in one cell and reads ``controls.value`` (a plain dict) in the next:

    spec = ControlSpec([Slider("sparsity", "global sparsity", 0.0, 0.9, 0.05, 0.5)])
    ui = labkit.ui.marimo.controls(spec)      # cell 1: build once, display
    ui                                        #
    trial = lab.prune(**ui.value)             # cell 2: re-runs when a control moves

``mo.ui.dictionary`` holds *clones* of the elements it is given (marimo docs, "arrays and
dictionaries"), so read values from the dictionary, never from the elements passed in.
marimo is imported inside the functions: ``import labkit`` must work without it.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .controls import Button, Checkbox, Control, ControlSpec, Dropdown, Slider, layer_spec

__all__ = ["element", "controls", "layer_sliders"]


def element(control: Control) -> Any:
    """One control as a marimo UI element.

    Slider -> ``mo.ui.slider(debounce=...)`` with its value shown; Dropdown ->
    ``mo.ui.dropdown``; Checkbox -> ``mo.ui.checkbox``; Button -> ``mo.ui.run_button`` (value
    True only in the run its click triggers).

    Example:
        >>> el = element(Slider("sparsity", "global sparsity", 0.0, 0.9, 0.05, 0.5))
        >>> el.value
        0.5
    """
    import marimo as mo

    if isinstance(control, Slider):
        return mo.ui.slider(control.start, control.stop, control.step, value=control.value,
                            debounce=control.debounce, show_value=True, label=control.label)
    if isinstance(control, Dropdown):
        return mo.ui.dropdown(list(control.options), value=control.value, label=control.label)
    if isinstance(control, Checkbox):
        return mo.ui.checkbox(value=control.value, label=control.label)
    if isinstance(control, Button):
        return mo.ui.run_button(label=control.label)
    raise TypeError(f"cannot render {type(control).__name__}; use Slider, Dropdown, Checkbox or Button")


def controls(spec: ControlSpec | Sequence[Control], *, label: str = "") -> Any:
    """The whole spec as one ``mo.ui.dictionary``; ``.value`` is ``{name: value}`` in spec order.

    Example:
        >>> ui = controls(ControlSpec([Checkbox("dense_fc", "keep classifier dense", True)]))
        >>> ui.value
        {'dense_fc': True}
    """
    import marimo as mo

    spec = spec if isinstance(spec, ControlSpec) else ControlSpec(spec)
    return mo.ui.dictionary({c.name: element(c) for c in spec}, label=label)


def layer_sliders(layers: Sequence[str], value: float | Mapping[str, float] = 0.5, *,
                  start: float = 0.0, stop: float = 0.95, step: float = 0.05, debounce: bool = True,
                  label: str = "sparsity per layer") -> Any:
    """One debounced sparsity slider per prunable layer, as a ``mo.ui.dictionary``.

    ``.value`` is ``{parameter name: sparsity}``, ready for ``lk.make_masks(scores, ui.value)``.
    See :func:`labkit.ui.controls.layer_spec` for the arguments.

    Example:
        >>> ui = layer_sliders(["conv1.weight", "fc.weight"], 0.3)
        >>> ui.value
        {'conv1.weight': 0.3, 'fc.weight': 0.3}
    """
    spec = layer_spec(layers, value, start=start, stop=stop, step=step, debounce=debounce)
    return controls(spec, label=label)
