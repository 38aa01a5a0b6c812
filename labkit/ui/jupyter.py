"""Render a :class:`~labkit.ui.controls.ControlSpec` as ipywidgets for JupyterLab.

Jupyter has no reactive cells, so the wiring is a callback: build the box once, display it,
and let :func:`linked_output` redraw a view whenever a value changes:

    box = labkit.ui.jupyter.controls(spec)
    out = labkit.ui.jupyter.linked_output(
        box, lambda v: views.per_class_accuracy(lab.prune(**v).report.per_class))
    display(box, out)

For the whole lab as one widget use :meth:`labkit.Lab.app` (:mod:`labkit.ui.jupyter_app`).

Sliders with ``debounce=True`` get ``continuous_update=False``: the callback runs when the
drag ends rather than on every pixel (ipywidgets docs, "Using Interact"). Build widgets once
and update them; re-creating widgets on each change is slow in every frontend.
ipywidgets is imported inside the functions: ``import labkit`` must work without it.
"""
from __future__ import annotations

import base64
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .controls import Button, Checkbox, Control, ControlSpec, Dropdown, Slider, layer_spec

__all__ = ["widget", "controls", "layer_sliders", "values", "observe", "linked_output"]


def _decimals(step: float) -> int:
    """Digits needed to show every value of a slider with this step: 0.05 -> 2, 0.1 -> 1, 1 -> 0."""
    for d in range(10):
        if abs(round(step, d) - step) < 1e-12:
            return d
    return 10


def widget(control: Control) -> Any:
    """One control as an ipywidget (IntSlider/FloatSlider, Dropdown, Checkbox, Button).

    Example:
        >>> w = widget(Slider("sparsity", "global sparsity", 0.0, 0.9, 0.05, 0.5))
        >>> (w.min, w.max, w.step, w.value, w.continuous_update)
        (0.0, 0.9, 0.05, 0.5, False)
    """
    import ipywidgets as W

    style = {"description_width": "initial"}
    if isinstance(control, Slider):
        cls = W.IntSlider if control.integer else W.FloatSlider
        kw: dict[str, Any] = {} if control.integer else {"readout_format": f".{_decimals(control.step)}f"}
        return cls(value=control.value, min=control.start, max=control.stop, step=control.step,
                   description=control.label, continuous_update=not control.debounce, style=style, **kw)
    if isinstance(control, Dropdown):
        return W.Dropdown(options=list(control.options), value=control.value, description=control.label,
                          style=style)
    if isinstance(control, Checkbox):
        return W.Checkbox(value=control.value, description=control.label, indent=False)
    if isinstance(control, Button):
        return W.Button(description=control.label)
    raise TypeError(f"cannot render {type(control).__name__}; use Slider, Dropdown, Checkbox or Button")


@functools.cache
def _control_box_class() -> type:
    import ipywidgets as W

    class ControlBox(W.VBox):
        """A ``VBox`` that remembers its spec and which child widget renders which control."""

        def __init__(self, spec: ControlSpec, controls: dict[str, Any], **kwargs: Any) -> None:
            super().__init__(children=list(controls.values()), **kwargs)
            self.spec = spec
            self.controls = controls

    return ControlBox


def controls(spec: ControlSpec | Sequence[Control]) -> Any:
    """The whole spec as an ipywidgets ``VBox`` (children in spec order).

    The box carries ``.spec`` and ``.controls`` (name -> widget); read the values with
    :func:`values` and react to changes with :func:`observe`.

    Example:
        >>> box = controls(ControlSpec([Checkbox("dense_fc", "keep classifier dense", True)]))
        >>> values(box)
        {'dense_fc': True}
    """
    spec = spec if isinstance(spec, ControlSpec) else ControlSpec(spec)
    return _control_box_class()(spec, {c.name: widget(c) for c in spec})


def layer_sliders(layers: Sequence[str], value: float | Mapping[str, float] = 0.5, *,
                  start: float = 0.0, stop: float = 0.95, step: float = 0.05, debounce: bool = True) -> Any:
    """One sparsity slider per prunable layer, as a box; ``values(box)`` is ``{parameter: sparsity}``.

    See :func:`labkit.ui.controls.layer_spec` for the arguments.
    """
    return controls(layer_spec(layers, value, start=start, stop=stop, step=step, debounce=debounce))


def _check_box(box: Any) -> None:
    if not (hasattr(box, "spec") and hasattr(box, "controls") and isinstance(box.spec, ControlSpec)):
        raise TypeError(f"expected a box made by labkit.ui.jupyter.controls(spec), got {type(box).__name__}")


def values(box: Any) -> dict[str, Any]:
    """Current values of a control box as ``{name: value}`` in spec order (buttons: ``False``).

    The dict equals what ``labkit.ui.marimo.controls(spec).value`` gives for the same state.
    """
    _check_box(box)
    return {c.name: False if isinstance(c, Button) else box.controls[c.name].value for c in box.spec}


def observe(box: Any, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
    """Call ``callback(values)`` whenever a control changes or a button is clicked.

    On a click the clicked button's entry is ``True`` in that one call, as with marimo's
    ``run_button``. Returns a function that detaches the callback again.

    Example:
        >>> from labkit.ui.controls import Checkbox
        >>> box = controls(ControlSpec([Checkbox("dense_fc", "keep classifier dense", True)]))
        >>> seen = []
        >>> detach = observe(box, seen.append)
        >>> box.controls["dense_fc"].value = False
        >>> seen[-1]["dense_fc"]
        False
        >>> detach()
    """
    _check_box(box)

    def on_value(_change: dict[str, Any]) -> None:
        callback(values(box))

    detachers: list[Callable[[], None]] = []
    for control in box.spec:
        w = box.controls[control.name]
        if isinstance(control, Button):
            def on_click(_button: Any, name: str = control.name) -> None:
                v = values(box)
                v[name] = True
                callback(v)

            w.on_click(on_click)
            detachers.append(functools.partial(w.on_click, on_click, remove=True))
        else:
            w.observe(on_value, names="value")
            detachers.append(functools.partial(w.unobserve, on_value, names="value"))

    def detach() -> None:
        for d in detachers:
            d()

    return detach


def _display_data(item: Any) -> dict[str, Any]:
    """``item``'s display_data output with binary formats (PNG, JPEG) base64-encoded, as the notebook
    format stores them. ``Output.append_display_data`` sends the raw bytes instead, which JupyterLab
    renders as ``<img src="data:image/png;base64,[object Object]">`` (jupyter-widgets/ipywidgets#3003).

    Example:
        >>> from labkit.views import group_accuracy
        >>> _display_data(group_accuracy({"overall": 0.9}))["data"]["image/png"][:8]
        'iVBORw0K'
    """
    from IPython.core.formatters import format_display_data

    data, metadata = format_display_data(item)
    data = {k: base64.b64encode(v).decode("ascii") if isinstance(v, (bytes, bytearray)) else v
            for k, v in data.items()}
    return {"output_type": "display_data", "data": data, "metadata": metadata}


def linked_output(box: Any, render: Callable[[dict[str, Any]], Any], *, also: Sequence[Any] = ()) -> Any:
    """An ``ipywidgets.Output`` showing ``render(values(box))``, redrawn on every change.

    ``also``: more control boxes whose changes redraw the output too (``render`` reads their
    values itself, e.g. the merge view follows both the pruning and the merge controls).

    ``render`` returns anything IPython can display (a view's ``Figure``, a DataFrame, text),
    a tuple of such things (shown in order) or None. The output is replaced, not appended to, so a
    slider drag leaves one figure; images are stored base64-encoded (see :func:`_display_data`). If
    ``render`` raises, the error message is shown in the output instead of vanishing into
    the widget log.

    Example:
        >>> from labkit import views
        >>> box = controls(ControlSpec([Slider("s", "sparsity", 0.0, 0.9, 0.1, 0.5)]))
        >>> out = linked_output(box, lambda v: views.group_accuracy({"overall": 1 - v["s"]}))
        >>> box.controls["s"].value = 0.8   # the figure in `out` is replaced
        >>> len(out.outputs)
        1
    """
    import ipywidgets as W

    _check_box(box)
    for b in also:
        _check_box(b)
    out = W.Output()

    def redraw(current: dict[str, Any]) -> None:
        try:
            result = render(current)
        except Exception as err:  # shown to the student rather than swallowed by the comm
            out.outputs = ()
            out.append_stderr(f"{type(err).__name__}: {err}\n")
            return
        out.outputs = tuple(_display_data(item) for item in (result if isinstance(result, tuple) else (result,))
                            if item is not None)

    redraw(values(box))
    observe(box, redraw)
    for b in also:
        observe(b, lambda _v: redraw(values(box)))
    return out
