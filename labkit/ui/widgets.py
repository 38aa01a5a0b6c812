"""anywidget views: interactive figures that run in JupyterLab and (wrapped) in marimo.

:class:`MaskOverlapWidget` draws the K x K mask-overlap matrix as a clickable heatmap
(``overlap.js``); clicking a cell sets the synced ``selected`` trait to the pair of mask
names, so the notebook can show that pair's per-layer overlap next to it. Its static twin,
for reports and exported HTML, is :func:`labkit.views.overlap_heatmap` (:meth:`figure`).

Build the widget once and push new numbers with :meth:`MaskOverlapWidget.update`; creating
a new widget per slider tick makes the browser unmount and remount it every time
(ecosystem notes §A3, dartbrains PR #111).

In marimo wrap it so that clicks re-run cells: ``w = mo.ui.anywidget(MaskOverlapWidget(df))``
and read ``w.value["selected"]``. In Jupyter display it and use
``w.observe(fn, names="selected")``.

This module imports anywidget (and so ipywidgets) at import time; ``labkit.ui`` loads it only
when ``MaskOverlapWidget`` is first used.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import anywidget
import pandas as pd
import traitlets
from matplotlib.figure import Figure

__all__ = ["MaskOverlapWidget"]


class MaskOverlapWidget(anywidget.AnyWidget):
    """Clickable heatmap of mean Jaccard overlap between K masks.

    Traits (synced with the browser):
        matrix: K x K list of lists of overlaps in [0, 1].
        names: the K mask names (rows and columns, same order).
        selected: ``[]`` or ``[row name, column name]`` of the last clicked cell.
        title: heading shown above the heatmap.

    Example:
        >>> m = pd.DataFrame([[1, .4], [.4, 1]], index=["magnitude", "taylor"], columns=["magnitude", "taylor"])
        >>> w = MaskOverlapWidget(m)
        >>> w.selected = ["magnitude", "taylor"]   # what a click in the browser does
        >>> w.selected_pair
        ('magnitude', 'taylor')
    """

    _esm = Path(__file__).with_name("overlap.js")

    matrix = traitlets.List(traitlets.List(traitlets.Float())).tag(sync=True)
    names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    selected = traitlets.List(traitlets.Unicode()).tag(sync=True)
    title = traitlets.Unicode("Mask overlap (mean Jaccard)").tag(sync=True)

    def __init__(self, frame: pd.DataFrame | None = None, **kwargs: Any) -> None:
        """Build from a square DataFrame ``frame`` (as ``overlap_heatmap`` takes), or from the
        traits themselves (``names=[...], matrix=[[...]]``)."""
        if frame is not None:
            names, rows = _from_frame(frame)
            kwargs.setdefault("names", names)
            kwargs.setdefault("matrix", rows)
        _check_consistent(kwargs.get("names", []), kwargs.get("matrix", []))
        super().__init__(**kwargs)

    @traitlets.validate("matrix")
    def _valid_matrix(self, proposal: dict[str, Any]) -> list[list[float]]:
        rows = proposal["value"]
        k = len(rows)
        for row in rows:
            if len(row) != k:
                raise traitlets.TraitError(f"matrix must be square, got a row of length {len(row)} in {k} rows")
            for v in row:
                if not (math.isfinite(v) and 0.0 <= v <= 1.0):
                    raise traitlets.TraitError(f"overlaps must be finite and in [0, 1], got {v}")
        return rows

    @traitlets.validate("selected")
    def _valid_selected(self, proposal: dict[str, Any]) -> list[str]:
        pair = proposal["value"]
        if len(pair) not in (0, 2):
            raise traitlets.TraitError(f"selected must be [] or [row name, column name], got {pair}")
        unknown = [p for p in pair if p not in self.names]
        if unknown:
            raise traitlets.TraitError(f"selected names {unknown} are not among the masks {self.names}")
        return pair

    def update(self, matrix: pd.DataFrame) -> None:
        """Show a new overlap matrix in place (one browser update, no new widget).

        The selection is kept when both of its masks still exist, and cleared otherwise.
        """
        names, rows = _from_frame(matrix)
        with self.hold_sync():
            keep = len(self.selected) == 2 and all(p in names for p in self.selected)
            if not keep:
                self.selected = []
            self.names = names
            self.matrix = rows

    @property
    def selected_pair(self) -> tuple[str, str] | None:
        """The clicked ``(row, column)`` pair of mask names, or None before any click."""
        return (self.selected[0], self.selected[1]) if len(self.selected) == 2 else None

    def to_frame(self) -> pd.DataFrame:
        """The current matrix as a square DataFrame indexed by mask names."""
        return pd.DataFrame(self.matrix, index=list(self.names), columns=list(self.names), dtype=float)

    def figure(self) -> Figure:
        """The static twin (:func:`labkit.views.overlap_heatmap`) of what the widget shows."""
        from ..views import overlap_heatmap

        return overlap_heatmap(self.to_frame(), title=self.title)


def _from_frame(matrix: pd.DataFrame) -> tuple[list[str], list[list[float]]]:
    from ..views.masks import _square  # the same validation as the static twin

    m = _square(matrix)
    if m.isna().to_numpy().any():
        raise ValueError("the overlap matrix holds NaN; fill it (overlap of a mask with itself is 1) first")
    return [str(n) for n in m.index], m.to_numpy(dtype=float).tolist()


def _check_consistent(names: list[str], matrix: list[list[float]]) -> None:
    if len(names) != len(matrix):
        raise ValueError(f"{len(names)} names for a {len(matrix)}-row matrix; give one name per row")
    if len(set(names)) != len(names):
        raise ValueError(f"mask names must be unique, got {names}")
