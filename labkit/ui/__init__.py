"""Controls and interactive widgets for the lab notebooks.

- :mod:`labkit.ui.controls`: the control description (``Slider``, ``Dropdown``, ``Checkbox``,
  ``Button``, ``ControlSpec``); plain dataclasses, no UI library needed.
- :mod:`labkit.ui.marimo`: the spec as ``mo.ui`` elements (``controls``, ``layer_sliders``).
- :mod:`labkit.ui.jupyter`: the spec as ipywidgets (``controls``, ``values``, ``observe``).
- :mod:`labkit.ui.widgets`: anywidget views (``MaskOverlapWidget``), loaded on first use so
  that ``import labkit.ui`` needs neither marimo nor ipywidgets.

Example:
    >>> from labkit.ui import ControlSpec, Slider
    >>> from labkit.ui import marimo as mui          # in a marimo notebook
    >>> ui = mui.controls(ControlSpec([Slider("sparsity", "global sparsity", 0.0, 0.9, 0.05, 0.5)]))
"""
from __future__ import annotations

from typing import Any

from . import jupyter as jupyter
from . import marimo as marimo
from .controls import Button as Button
from .controls import Checkbox as Checkbox
from .controls import Control as Control
from .controls import ControlSpec as ControlSpec
from .controls import Dropdown as Dropdown
from .controls import Slider as Slider
from .controls import layer_spec as layer_spec

__all__ = [
    "Button",
    "Checkbox",
    "Control",
    "ControlSpec",
    "Dropdown",
    "Slider",
    "layer_spec",
    "marimo",
    "jupyter",
    "MaskOverlapWidget",
]


def __getattr__(name: str) -> Any:
    # anywidget pulls in ipywidgets; import it only when a widget is actually asked for.
    if name == "MaskOverlapWidget":
        from .widgets import MaskOverlapWidget

        return MaskOverlapWidget
    raise AttributeError(f"module 'labkit.ui' has no attribute {name!r}")
