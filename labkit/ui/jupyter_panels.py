"""Panels for the JupyterLab lab: a view that is an ipywidget, updated in place.

Why not ``Output.append_display_data(fig)``? It sends raw PNG bytes where the frontend expects
base64 text, and JupyterLab shows ``<img src="data:image/png;base64,[object Object]">``: a
broken image (jupyter-widgets/ipywidgets#3003). A :class:`Panel` instead renders a view's
matplotlib ``Figure`` to PNG bytes once and puts them into an ``ipywidgets.Image``
(``format="png"``). The widget is built once; a slider move only sends the new bytes, and
the browser swaps the picture without remounting anything.

A panel never goes blank: while it computes it says so (:meth:`Panel.busy`), and when the
code behind it raises it shows the error and the fix in place (:func:`error_html`) instead of
losing it in the widget log.

Example:
    >>> from labkit import views
    >>> p = Panel("group accuracy")
    >>> p.run(lambda: views.group_accuracy({"overall": 0.9, "few": 0.6}))
    True
    >>> bytes(p.images[0].value[:4])
    b'\\x89PNG'
    >>> p.run(lambda: 1 / 0)
    False
    >>> "ZeroDivisionError" in p.note.value
    True
"""
from __future__ import annotations

import html
import io
import numbers
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as W
from matplotlib.figure import Figure

__all__ = ["View", "Panel", "png", "error_html", "busy_html", "note_html", "warnings_html", "table_html", "DPI"]

DPI = 72
"""Resolution of live figures: a 9 x 3.6 inch view becomes 648 x 259 px, sharp on screen
and about three times cheaper to encode than the 120 dpi of saved reports."""


def png(fig: Figure, dpi: int = DPI) -> bytes:
    """``fig`` as PNG bytes; the figure is cleared afterwards to free memory.

    Views lay themselves out with matplotlib's constrained layout, so no ``bbox_inches="tight"``
    here: it would draw every figure twice.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    fig.clear()
    return buf.getvalue()


_HINTS: tuple[tuple[type[BaseException], str], ...] = (
    (ImportError, "Install the lab extras: <code>pip install 'labkit[lab]'</code>, then restart the kernel."),
    (MemoryError, "Lower the sparsity sweep or use a smaller model / <code>Lab(..., preview=500)</code>."),
)


def error_html(err: BaseException, where: str = "") -> str:
    """An in-place error box: what failed, the message (labkit's messages name the fix) and a hint.

    Example:
        >>> "pip install" in error_html(ImportError("No module named 'captum'"), "scores")
        True
    """
    hint = next((h for t, h in _HINTS if isinstance(err, t)),
                "Change the control back, or pick another setting; the message above says what this one needs.")
    head = f"{html.escape(where)} failed: " if where else ""
    return (f'<div class="labkit-error" style="border-left:4px solid #CC0000;background:#FFF3F3;'
            f'padding:6px 10px;margin:4px 0">'
            f"<b>{head}{html.escape(type(err).__name__)}</b>: {html.escape(str(err))}"
            f'<br><span style="color:#555">{hint}</span></div>')


def busy_html(message: str) -> str:
    """A "working on it" note (the kernel sends it before the slow work starts)."""
    return (f'<div class="labkit-busy" style="color:#555;padding:4px 0">&#9203; '
            f"{html.escape(message)}</div>")


def warnings_html(caught: Sequence[warnings.WarningMessage]) -> str:
    """Warnings raised while a view was computed, as a note (empty string when there were none)."""
    seen = dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught)  # once each, in order
    return "".join(f'<div class="labkit-warning" style="color:#8a5a00;padding:2px 0">&#9888; {html.escape(m)}</div>'
                   for m in seen)


def note_html(message: str) -> str:
    """A quiet explanatory note (e.g. why a setting was changed for you)."""
    return f'<div class="labkit-note" style="color:#555;padding:2px 0">{message}</div>'


_TABLE_CSS = ("<style>.labkit-table{border-collapse:collapse;margin:4px 0}.labkit-table th,.labkit-table td"
              "{padding:2px 10px;text-align:right;border-bottom:1px solid #E5E5E5}.labkit-table th"
              "{font-weight:600}.labkit-table td:first-child,.labkit-table th:first-child{text-align:left}</style>")


def table_html(df: Any, digits: int = 3) -> str:
    """A DataFrame as a small readable HTML table (floats to ``digits`` places, integers with commas).

    Widgets do not get the notebook's table style, so the table carries its own.

    Example:
        >>> import pandas as pd
        >>> "0.500" in table_html(pd.DataFrame({"mask": ["a"], "balanced": [0.5]}))
        True
    """
    def fmt(x: Any) -> str:
        if isinstance(x, numbers.Integral) and not isinstance(x, bool):
            return f"{int(x):,}"
        if isinstance(x, numbers.Real):
            return "–" if x != x else f"{float(x):.{digits}f}"
        return html.escape(str(x))

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = "".join("<tr>" + "".join(f"<td>{fmt(v)}</td>" for v in row) + "</tr>"
                   for row in df.itertuples(index=False, name=None))
    return f"{_TABLE_CSS}<table class='labkit-table'><tr>{head}</tr>{rows}</table>"


@dataclass
class View:
    """What a panel shows: optional HTML text above, then figures side by side."""

    text: str = ""
    figures: Sequence[Figure] = field(default_factory=tuple)


class Panel:
    """A titled view: ``text`` (HTML), then one ``ipywidgets.Image`` per figure, plus a note line.

    ``run(fn)`` calls ``fn()``, which returns a ``Figure``, a tuple of figures, a ``str``
    (HTML) or a :class:`View`; the images are updated in place (an ``Image`` is created only
    for a figure slot seen for the first time, so no image ever exists without a picture).

    Attributes:
        box: the widget to place in a layout.
        text: ``HTML`` widget above the figures.
        note: ``HTML`` widget for busy / error messages (empty when all is well).
        images: the ``Image`` widgets, one per figure slot.
    """

    def __init__(self, title: str = "", *, dpi: int = DPI, width: Sequence[str] | None = None,
                 heading: bool = True) -> None:
        self.title = title  # names the view in error messages; shown above it when ``heading``
        self.dpi = dpi
        self._width = list(width or [])
        self.heading = W.HTML(f"<h4 style='margin:6px 0 2px'>{html.escape(title)}</h4>" if title and heading else "")
        self.text = W.HTML("")
        self.note = W.HTML("")
        self.images: list[Any] = []
        self.row = W.HBox([], layout=W.Layout(flex_flow="row wrap", align_items="flex-start"))
        self.box = W.VBox([self.heading, self.note, self.text, self.row])
        self.ok = False
        self._key: Any = None

    def busy(self, message: str) -> None:
        """Say that work is under way (shown at once: the comm message leaves before the work starts)."""
        self.note.value = busy_html(message)

    def fail(self, err: BaseException) -> None:
        """Show ``err`` in place and hide the figures (they would belong to another setting)."""
        self.note.value = error_html(err, self.title)
        self.row.layout.display = "none"
        self.ok = False

    def stale(self, why: str) -> None:
        """Hide the figures with a note saying why this view is not shown now."""
        self.note.value = note_html(why)
        self.row.layout.display = "none"
        self.text.value = ""
        self.ok = False
        self._key = None

    def show(self, result: Any) -> None:
        """Display a ``Figure``, tuple of figures, HTML ``str`` or :class:`View` (in place)."""
        if isinstance(result, View):
            text, figures = result.text, list(result.figures)
        elif isinstance(result, str):
            text, figures = result, []
        elif isinstance(result, Figure):
            text, figures = "", [result]
        elif isinstance(result, (tuple, list)):
            text = "".join(r for r in result if isinstance(r, str))
            figures = [r for r in result if isinstance(r, Figure)]
        else:
            raise TypeError(f"a panel shows a Figure, a tuple of figures, HTML text or a View, "
                            f"got {type(result).__name__}")
        blobs = [png(f, self.dpi) for f in figures]
        while len(self.images) < len(blobs):
            i = len(self.images)
            layout = W.Layout(width=self._width[i]) if i < len(self._width) else W.Layout(max_width="100%")
            self.images.append(W.Image(format="png", layout=layout))
        for img, blob in zip(self.images, blobs):
            img.value = blob  # one comm message per image; the <img> stays mounted
        self.row.children = tuple(self.images[: len(blobs)])
        self.row.layout.display = "flex" if blobs else "none"
        self.text.value = text
        self.note.value = ""
        self.ok = True

    def run(self, fn: Callable[[], Any], busy: str | None = None, key: Any = None) -> bool:
        """``show(fn())``, or show the error in place; True when it worked.

        ``key``: what the view depends on; when it equals the last shown key the view is left as
        it is (no render, no bytes sent).
        """
        if key is not None and self.ok and key == self._key:
            return True
        if busy:
            self.busy(busy)
        try:
            with warnings.catch_warnings(record=True) as caught:  # said here, not in a log nobody opens
                warnings.simplefilter("always")
                self.show(fn())
        except Exception as err:  # shown to the user in place, never swallowed by the comm
            self.fail(err)
            self._key = None
            return False
        self.note.value = warnings_html(caught)
        self._key = key
        return True
