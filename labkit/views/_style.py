"""One look for every labkit figure: colours, sizes, and a leak-free figure factory.

Every view builds its figure with :func:`new_figure`, which creates a
``matplotlib.figure.Figure`` directly instead of going through ``pyplot``. pyplot keeps
every figure it creates alive in a global registry until ``plt.close`` is called, so a
notebook cell that redraws on every slider tick would leak one figure per tick (and
matplotlib warns after 20). A bare ``Figure`` is garbage-collected like any other object,
and marimo, JupyterLab (once ``matplotlib`` is imported in the kernel) and the HTML report
all render it.

Colours follow the Okabe-Ito palette, which stays distinguishable for the common forms of
colour blindness. The three long-tail groups keep the same colour in every view, so a
reader who learned "orange = medium" in one plot can read the next one at a glance.

Example:
    >>> from labkit.views._style import new_figure, GROUP_COLORS
    >>> fig, ax = new_figure(size="wide")
    >>> _ = ax.bar([0, 1, 2], [0.9, 0.7, 0.4], color=[GROUP_COLORS[g] for g in GROUPS])
"""
from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = [
    "GROUPS",
    "GROUP_COLORS",
    "METRICS",
    "METRIC_COLORS",
    "DENSE_COLOR",
    "PRUNED_COLOR",
    "CUT_COLOR",
    "FIGSIZES",
    "RC",
    "LabFigure",
    "new_figure",
    "styled",
    "require_columns",
    "short_layer",
    "human",
    "group_line",
    "label_ticks",
]

GROUPS: tuple[str, ...] = ("many", "medium", "few")
"""Long-tail class groups, head to tail (Liu et al. 2019: >100, 20-100, <20 training images)."""

GROUP_COLORS: dict[str, str] = {"many": "#0072B2", "medium": "#E69F00", "few": "#D55E00"}

METRICS: tuple[str, ...] = ("overall", "balanced", "many", "medium", "few")
"""Accuracy summaries in the order views list them."""

METRIC_COLORS: dict[str, str] = {"overall": "#333333", "balanced": "#009E73", **GROUP_COLORS}

DENSE_COLOR = "#9A9A9A"   # the reference model is always grey ...
PRUNED_COLOR = "#0072B2"  # ... and the pruned one takes the accent colour
CUT_COLOR = "#CC0000"     # thresholds, pruned filters: "this is removed"

FIGSIZES: dict[str, tuple[float, float]] = {
    "wide": (9.0, 3.6),     # per-class bars, per-layer profiles
    "tall": (9.0, 5.4),     # two stacked panels (bars + deltas)
    "square": (5.2, 4.4),   # heatmaps
    "small": (5.2, 3.4),    # a handful of bars
    "curve": (6.4, 4.0),    # accuracy vs sparsity
}

RC: dict[str, Any] = {
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "axes.axisbelow": True,
    "grid.color": "#E5E5E5",
    "grid.linewidth": 0.8,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "xtick.labelsize": 8,
    "ytick.labelsize": 9,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "figure.dpi": 100,
    "savefig.dpi": 120,
    "savefig.bbox": "tight",
}
"""rcParams applied while a view builds its figure (see :func:`styled`)."""

F = TypeVar("F", bound=Callable[..., Any])


class LabFigure(Figure):
    """A ``Figure`` that also displays itself where pyplot was never imported.

    IPython shows a bare ``Figure`` as an image only once the inline backend has registered
    its formatter, which happens when ``matplotlib.pyplot`` is imported; otherwise a Jupyter
    cell ending in a view prints ``<Figure size ...>``. ``_repr_png_`` closes that gap.
    marimo and pyplot's own formatters still handle it as the ``Figure`` it is.
    """

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=RC["savefig.dpi"], bbox_inches="tight")
        return buf.getvalue()


def styled(fn: F) -> F:
    """Decorator: run a view inside ``matplotlib.rc_context(RC)``.

    The context restores the global rcParams afterwards, so a view never changes how the
    user's own plots look; the artists it created keep the style they were built with.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with matplotlib.rc_context(RC):  # type: ignore[arg-type]  # RC keys are valid rcParams
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def new_figure(
    nrows: int = 1,
    ncols: int = 1,
    *,
    size: str | tuple[float, float] = "wide",
    **subplots_kw: Any,
) -> tuple[Figure, Any]:
    """A fresh :class:`LabFigure` with a grid of axes, outside pyplot's global figure registry.

    Args:
        nrows, ncols: the axes grid, as in ``Figure.subplots``.
        size: a name from :data:`FIGSIZES` or an explicit ``(width, height)`` in inches.
        **subplots_kw: passed to ``Figure.subplots`` (``sharex``, ``height_ratios``, ...).

    Returns:
        ``(fig, axes)`` where ``axes`` is one ``Axes`` for a 1x1 grid, else an array.
    """
    if isinstance(size, str):
        if size not in FIGSIZES:
            raise KeyError(f"unknown figure size {size!r}; use one of {sorted(FIGSIZES)} or (w, h)")
        figsize = FIGSIZES[size]
    else:
        figsize = (float(size[0]), float(size[1]))
    fig = LabFigure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=True, **subplots_kw)
    return fig, axes


def require_columns(df: Any, columns: Iterable[str], what: str) -> pd.DataFrame:
    """Check that ``df`` is a DataFrame holding ``columns``; raise a ``ValueError`` naming the fix."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{what} is missing column(s) {missing}; it has {list(df.columns)}. "
            f"Pass the DataFrame produced by labkit (e.g. ClassReport.per_class) or add them."
        )
    if len(df) == 0:
        raise ValueError(f"{what} is empty; there is nothing to plot")
    return df


def short_layer(name: str) -> str:
    """``"layer1.0.conv1.weight"`` -> ``"layer1.0.conv1"``: parameter suffixes add no information."""
    for suffix in (".weight", ".bias"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def group_line(by_group: Mapping[str, float], digits: int = 3) -> str:
    """``"many 0.911 · medium 0.850 · few 0.744"``; a group with no class (NaN) reads "no class".

    A long-tailed dataset with few images per class can have no *many* class at all; its
    accuracy is undefined, and "nan" in a readout looks like a bug.

    Example:
        >>> group_line({"many": float("nan"), "few": 0.25})
        'many: no class · few 0.250'
    """
    return " · ".join(f"{g}: no class" if v is None or v != v else f"{g} {v:.{digits}f}" for g, v in by_group.items())


def human(x: float) -> str:
    """Compact number for annotations: ``1234 -> "1.2k"``, ``3.4e6 -> "3.4M"``, ``0.5 -> "0.5"``."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    ax = abs(float(x))
    for scale, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if ax >= scale:
            return f"{x / scale:.3g}{unit}"
    if ax == int(ax):
        return str(int(x))
    return f"{x:.3g}"


def label_ticks(ax: Axes, labels: list[str], *, max_labels: int = 40, rotation: float = 60) -> None:
    """Put ``labels`` under bar positions 0..n-1, thinning them when there are too many to read."""
    n = len(labels)
    every = max(1, math.ceil(n / max_labels))
    pos = np.arange(0, n, every)
    ax.set_xticks(pos)
    ax.set_xticklabels([labels[i] for i in pos], rotation=rotation, ha="right" if rotation else "center",
                       rotation_mode="anchor")
    ax.set_xlim(-0.6, n - 0.4)
