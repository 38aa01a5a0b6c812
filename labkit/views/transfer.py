"""Views for method 4 (filter pruning for transfer learning, docs/methods.md §4.4).

Pure functions from tables to a ``matplotlib.figure.Figure`` (no pyplot state):

* :func:`kept_filters_bars`: filters kept per layer, one bar colour per criterion (view 1);
* per-layer score distributions with the cut: use :func:`labkit.views.score_distributions`
  with :func:`cut_thresholds` (view 2);
* :func:`transfer_curves`: accuracy vs pruning ratio per criterion, one panel per ranking
  (global / per-layer), solid = inherit, dashed = Scratch-E, dotted = Scratch-B (view 3);
* :func:`class_activation_heatmap`: which filters fire for which class, source images above
  target images, filters sorted by the target class they prefer (view 4, the thesis's
  "sensitive filters").

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"criterion": ["none", "apoz"], "ranking": ["none", "global"],
    ...                    "arm": ["inherit", "inherit"], "ratio": [0.0, 0.4], "seed": [0, 0],
    ...                    "accuracy": [0.9, 0.88]})
    >>> fig = transfer_curves(df)
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ._style import CUT_COLOR, DENSE_COLOR, label_ticks, new_figure, require_columns, short_layer, styled

__all__ = ["CRITERION_COLORS", "ARM_STYLES", "kept_filters_bars", "cut_thresholds", "transfer_curves",
           "class_activation_heatmap"]

CRITERION_COLORS: dict[str, str] = {
    "mean_activation": "#0072B2", "apoz": "#009E73", "taylor": "#56B4E9",
    "min_weight": "#E69F00", "avg_weight": "#D55E00", "magnitude": "#CC79A7", "magnitude_l2": "#F0E442",
    "random": "#777777",
}
ARM_STYLES: dict[str, str] = {"inherit": "-", "scratch-e": "--", "scratch-b": ":"}


def _color(name: str, i: int) -> str:
    return CRITERION_COLORS.get(name, f"C{i % 10}")


@styled
def kept_filters_bars(table: pd.DataFrame, title: str | None = None) -> Figure:
    """Grouped bars: filters kept per layer, one colour per criterion (one panel per ranking).

    Args:
        table: rows ``criterion, layer, kept, total`` (and optionally ``ranking``), e.g.
            ``pd.concat(labkit.studies.transfer.kept_filters(masks, criterion=c, ranking=r) ...)``.
    """
    require_columns(table, ["criterion", "layer", "kept", "total"], "table")
    rankings = list(dict.fromkeys(table["ranking"])) if "ranking" in table else [None]
    fig, axes = new_figure(len(rankings), 1, size=(9.0, 3.0 * len(rankings)), sharex=True)
    axes = np.atleast_1d(axes)
    layers = list(dict.fromkeys(table["layer"]))
    crits = list(dict.fromkeys(table["criterion"]))
    width = 0.8 / max(len(crits), 1)
    x = np.arange(len(layers))
    for ax, rk in zip(axes, rankings):
        part = table if rk is None else table[table["ranking"] == rk]
        totals = part.groupby("layer")["total"].first().reindex(layers)
        ax.bar(x, totals.to_numpy(dtype=float), width=0.86, color="none", edgecolor=DENSE_COLOR, lw=1,
               label="filters in layer")
        for i, c in enumerate(crits):
            kept = part[part["criterion"] == c].groupby("layer")["kept"].mean().reindex(layers)
            ax.bar(x - 0.4 + width * (i + 0.5), kept.to_numpy(dtype=float), width=width, color=_color(c, i), label=c)
        ax.set_ylabel("filters kept")
        ax.set_title(title or f"Filters kept per layer{'' if rk is None else f' · {rk} ranking'}", loc="left")
    axes[0].legend(loc="upper left", ncols=min(len(crits) + 1, 4))
    label_ticks(axes[-1], [short_layer(n) for n in layers], rotation=30)
    return fig


def cut_thresholds(scores: Mapping[str, Any], masks: Mapping[str, Any]) -> dict[str, float]:
    """Per layer, the lowest *kept* score: the cut line for :func:`labkit.views.score_distributions`.

    Layers where every filter is kept get no line.
    """
    out = {}
    for n, m in masks.items():
        s = np.asarray(scores[n].detach().cpu() if hasattr(scores[n], "detach") else scores[n], dtype=float).ravel()
        keep = np.asarray(m.cpu() if hasattr(m, "cpu") else m, dtype=bool).ravel()
        if (~keep).any() and keep.any():
            out[n] = float(s[keep].min())
    return out


@styled
def transfer_curves(df: pd.DataFrame, metric: str = "accuracy", title: str | None = None) -> Figure:
    """Accuracy vs pruning ratio: one panel per ranking, a colour per criterion, a line style per arm.

    Args:
        df: rows ``criterion, ranking, arm, ratio, seed, accuracy`` (:func:`labkit.studies.transfer.run_transfer`).
            Rows with ratio 0 (criterion ``"none"``) are the unpruned transfer: every curve of the
            same arm starts there. Points are means over seeds; bands are ± one std.
    """
    require_columns(df, ["criterion", "ranking", "arm", "ratio", "seed", metric], "df")
    base = df[df["ratio"] == 0]
    pruned = df[df["ratio"] > 0]
    rankings = list(dict.fromkeys(pruned["ranking"])) or ["none"]
    crits = list(dict.fromkeys(pruned["criterion"]))
    arms = [a for a in ARM_STYLES if a in set(df["arm"])] + sorted(set(df["arm"]) - set(ARM_STYLES))
    fig, axes = new_figure(1, len(rankings), size=(4.8 * len(rankings), 3.8), sharey=True)
    axes = np.atleast_1d(axes).ravel()
    for ax, rk in zip(axes, rankings):
        for arm in arms:
            b = base[base["arm"] == arm].groupby("ratio")[metric].agg(["mean", "std"])
            for i, c in enumerate(crits):
                part = pruned[(pruned["ranking"] == rk) & (pruned["criterion"] == c) & (pruned["arm"] == arm)]
                if part.empty:
                    continue
                t = pd.concat([b, part.groupby("ratio")[metric].agg(["mean", "std"])]).sort_index()
                r, m, s = t.index.to_numpy(float), t["mean"].to_numpy(float), t["std"].fillna(0).to_numpy(float)
                ax.plot(r, m, ARM_STYLES.get(arm, "-."), marker="o", ms=3, color=_color(c, i))
                if arm == "inherit":
                    ax.fill_between(r, m - s, m + s, color=_color(c, i), alpha=0.12, lw=0)
            if not b.empty:
                ax.plot(b.index, b["mean"], "s", color=DENSE_COLOR, ms=6, zorder=5)
        ax.set_xlabel("pruning ratio r (fraction of filters removed)")
        ax.set_title(f"{rk} ranking", loc="left")
    axes[0].set_ylabel(f"test {metric}")
    handles = [Line2D([], [], color=_color(c, i), lw=2, label=c) for i, c in enumerate(crits)]
    handles += [Line2D([], [], color="#333333", ls=ARM_STYLES.get(a, "-."), label=a) for a in arms]
    handles.append(Line2D([], [], color=DENSE_COLOR, marker="s", ls="", label="unpruned"))
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 6))
    fig.suptitle(title or "Transfer accuracy vs pruning ratio (mean ± std over seeds)", x=0.01, ha="left",
                 fontweight="bold", fontsize=11)
    return fig


@styled
def class_activation_heatmap(source: pd.DataFrame, target: pd.DataFrame, kept: Any | None = None, *,
                             layer: str | None = None, cmap: str = "magma") -> Figure:
    """Mean activation per (class, filter) for source images (top) and target images (bottom).

    Args:
        source, target: rows = classes, columns = the filters of one layer (same columns), e.g.
            :func:`labkit.studies.transfer.class_activations` on source and target images.
        kept: optional bool per filter (False = pruned): pruned filters get a red tick under
            the bottom panel.
        layer: the layer name for the title.

    Each filter (column) is scaled by its largest value over *both* panels, so a column shows
    which classes excite that filter most. Filters are ordered by the target class they fire
    for most, then by strength: blocks of "sensitive filters" per target class.
    """
    for name, t in (("source", source), ("target", target)):
        if not isinstance(t, pd.DataFrame) or t.empty:
            raise ValueError(f"{name} must be a non-empty DataFrame classes x filters (class_activations(...))")
    if source.shape[1] != target.shape[1]:
        raise ValueError(f"source has {source.shape[1]} filters but target {target.shape[1]}; use the same layer")
    s, t = source.to_numpy(float), target.to_numpy(float)
    top = np.maximum(s.max(axis=0), t.max(axis=0))
    top[top <= 0] = 1.0
    s, t = s / top, t / top
    pref = t.argmax(axis=0)
    order = np.lexsort((-t.max(axis=0), pref))
    fig, axes = new_figure(2, 1, size=(9.0, 1.2 + 0.35 * (len(source) + len(target))), sharex=True,
                           height_ratios=[len(source), len(target)])
    for ax, m, frame, label in ((axes[0], s, source, "source images"), (axes[1], t, target, "target images")):
        im = ax.imshow(m[:, order], aspect="auto", cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        ax.set_yticks(range(len(frame)))
        ax.set_yticklabels([str(i) for i in frame.index])
        ax.set_ylabel(label)
        ax.grid(False)
    if kept is not None:
        k = np.asarray(kept.cpu() if hasattr(kept, "cpu") else kept, dtype=bool).ravel()[order]
        for x in np.flatnonzero(~k):
            axes[1].plot(x, len(target) - 0.5 + 0.3, marker="^", color=CUT_COLOR, ms=4, clip_on=False)
    axes[1].set_xlabel("filter (sorted by preferred target class)" + (" · red ▲ = pruned" if kept is not None else ""))
    fig.colorbar(im, ax=axes, shrink=0.8, label="activation / filter max")
    axes[0].set_title(f"Which filters fire for which class{f' · {short_layer(layer)}' if layer else ''}", loc="left")
    return fig
