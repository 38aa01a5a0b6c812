"""Score views: what a pruning criterion thinks of each layer, and where the cut falls.

docs/methods.md §4.4 view 2: one violin per layer of the importance scores (higher = more
important, docs/design.md §1), with the threshold below which the layer's weights or filters are
removed drawn as a red bar and the removed fraction printed next to it. A global threshold
on normalised scores (docs/design.md §1, allocation ``global``) cuts some layers much deeper than
others; this view makes that visible.

Example:
    >>> import torch
    >>> from labkit.views import score_distributions
    >>> scores = {"conv1.weight": torch.rand(16, 3, 3, 3), "conv2.weight": torch.rand(32, 16, 3, 3) * 0.5}
    >>> fig = score_distributions(scores, thresholds={"conv1.weight": 0.3, "conv2.weight": 0.1})
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ._style import CUT_COLOR, PRUNED_COLOR, label_ticks, new_figure, short_layer, styled

__all__ = ["score_distributions"]


def _to_numpy(x: Any, name: str) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch.Tensor, possibly on the GPU
        x = x.detach().float().cpu().numpy()
    a = np.asarray(x, dtype=float).ravel()
    if a.size == 0:
        raise ValueError(f"scores[{name!r}] is empty")
    if not np.isfinite(a).all():
        raise ValueError(f"scores[{name!r}] holds NaN or inf; check the criterion's inputs (NaN weights?)")
    return a


@styled
def score_distributions(scores: Mapping[str, Any], thresholds: Mapping[str, float] | None = None, *,
                        normalize: bool = False, max_points: int = 4000, title: str | None = None) -> Figure:
    """Per-layer violins of importance scores, with each layer's cut.

    Args:
        scores: parameter name -> score tensor (any shape: weight scores have the weight's
            shape, filter scores shape ``(out_channels,)``), in forward order.
        thresholds: parameter name -> score threshold; scores strictly below it are pruned.
            The bar label is the fraction of *all* the layer's scores below it.
        normalize: divide each layer's scores (and its threshold) by the layer's largest
            absolute score, so layers with very different scales share one axis.
        max_points: violins of large layers are drawn from a fixed random subsample of this
            many scores (seed 0, so the figure is reproducible); the cut fraction uses all.

    Example:
        >>> import torch
        >>> fig = score_distributions({"fc.weight": torch.randn(10, 64).abs()}, {"fc.weight": 0.5})
    """
    if not isinstance(scores, Mapping) or not scores:
        raise ValueError("scores must be a non-empty dict parameter name -> score tensor (lk.score(...))")
    thresholds = dict(thresholds or {})
    unknown = sorted(set(thresholds) - set(scores))
    if unknown:
        raise KeyError(f"thresholds name layer(s) {unknown} that have no scores; known: {list(scores)}")

    names = list(scores)
    rng = np.random.default_rng(0)
    full, drawn, scale = [], [], []
    for name in names:
        a = _to_numpy(scores[name], name)
        m = float(np.abs(a).max()) if normalize else 1.0
        m = m if m > 0 else 1.0
        full.append(a)
        scale.append(m)
        shown = a if a.size <= max_points else rng.choice(a, size=max_points, replace=False)
        drawn.append(shown / m)

    x = np.arange(len(names))
    fig, ax = new_figure(size="wide")
    varied = [i for i, d in enumerate(drawn) if np.ptp(d) > 0]  # a KDE of a constant is undefined
    if varied:
        parts = ax.violinplot([drawn[i] for i in varied], positions=x[varied], widths=0.8,
                              showextrema=False, showmedians=True)
        for body in parts["bodies"]:
            body.set_facecolor(PRUNED_COLOR)
            body.set_edgecolor(PRUNED_COLOR)
            body.set_alpha(0.45)
        parts["cmedians"].set_color("#333333")
    for i in sorted(set(range(len(names))) - set(varied)):
        ax.hlines(drawn[i][0], x[i] - 0.3, x[i] + 0.3, color=PRUNED_COLOR, lw=3)

    for i, name in enumerate(names):
        if name not in thresholds:
            continue
        t = float(thresholds[name])
        frac = float((full[i] < t).mean())
        y = t / scale[i]
        ax.hlines(y, x[i] - 0.42, x[i] + 0.42, color=CUT_COLOR, lw=2, zorder=4)
        ax.annotate(f"{frac:.0%}", (x[i] + 0.42, y), xytext=(2, 0), textcoords="offset points",
                    va="center", fontsize=7, color=CUT_COLOR)

    handles = [Line2D([], [], color=PRUNED_COLOR, lw=6, alpha=0.45, label="scores")]
    if thresholds:
        handles.append(Line2D([], [], color=CUT_COLOR, lw=2, label="cut (label: fraction pruned)"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles))
    label_ticks(ax, [short_layer(n) for n in names], rotation=60 if len(names) > 6 else 0)
    ax.set_ylabel("score / layer max" if normalize else "importance score")
    ax.set_title(title or "Importance scores per layer", loc="left")
    return fig
