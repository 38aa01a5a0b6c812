"""Mask views: how much each layer lost, and how much two or K masks agree.

- :func:`sparsity_profile`: per-layer sparsity bars in forward order (docs/methods.md §1.6 view 3);
  a layered allocation (preserve deeper layers) shows up as a falling staircase.
- :func:`overlap_heatmap`: K x K mean Jaccard overlap between masks (§1.6 view 4), the static
  twin of :class:`labkit.ui.widgets.MaskOverlapWidget`.
- :func:`layer_overlap`: per-layer Jaccard between two masks (``lk.overlap(m_a, m_b)``).

Jaccard overlap of two kept-sets A, B is ``|A ∩ B| / |A ∪ B|``: 1 when both masks keep the
same weights, 0 when they keep disjoint ones.

Example:
    >>> from labkit.views import sparsity_profile
    >>> fig = sparsity_profile({"conv1.weight": 0.2, "conv2.weight": 0.5, "fc.weight": 0.8}, target=0.5)
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ._style import CUT_COLOR, PRUNED_COLOR, human, label_ticks, new_figure, require_columns, short_layer, styled

__all__ = ["sparsity_profile", "overlap_heatmap", "layer_overlap"]


def _profile_frame(profile: pd.DataFrame | Mapping[str, float]) -> pd.DataFrame:
    if isinstance(profile, Mapping):
        if not profile:
            raise ValueError("profile is empty; pass a dict layer -> sparsity with at least one layer")
        profile = pd.DataFrame({"layer": list(profile), "sparsity": [float(v) for v in profile.values()]})
    df = require_columns(profile, ("layer", "sparsity"), "profile")
    s = df["sparsity"].to_numpy(dtype=float)
    if np.isnan(s).any() or np.any((s < 0) | (s > 1)):
        bad = df.loc[np.isnan(s) | (s < 0) | (s > 1), "layer"].tolist()
        raise ValueError(f"sparsity must be a fraction in [0, 1] per layer; layer(s) {bad} are not")
    return df.reset_index(drop=True)


@styled
def sparsity_profile(profile: pd.DataFrame | Mapping[str, float], target: float | None = None, *,
                     title: str | None = None) -> Figure:
    """Per-layer sparsity bars, layers in the order given (forward order from labkit).

    Args:
        profile: a DataFrame with ``layer``, ``sparsity`` and optionally ``n_params`` (each bar
            is then annotated with the layer's size, and the title gives the parameter-weighted
            overall sparsity ``sum(s_l * n_l) / sum(n_l)``), or a dict ``layer -> sparsity``.
        target: the requested overall sparsity, drawn as a dashed red line.

    Example:
        >>> df = pd.DataFrame({"layer": ["conv1.weight", "fc.weight"], "sparsity": [0.3, 0.9],
        ...                    "n_params": [432, 640]})
        >>> fig = sparsity_profile(df, target=0.6)
    """
    df = _profile_frame(profile)
    if target is not None and not 0.0 <= float(target) <= 1.0:
        raise ValueError(f"target sparsity must be a fraction in [0, 1], got {target}")
    x = np.arange(len(df))
    s = df["sparsity"].to_numpy(dtype=float)
    fig, ax = new_figure(size="wide")
    ax.bar(x, np.ones_like(s), color="#EDEDED", width=0.8)  # the whole layer ...
    ax.bar(x, s, color=PRUNED_COLOR, width=0.8)              # ... and the part removed
    heading = title or "Sparsity per layer"
    if "n_params" in df.columns:
        n = df["n_params"].to_numpy(dtype=float)
        for i in range(len(df)):
            ax.annotate(human(n[i]), (x[i], 1.0), xytext=(0, 2), textcoords="offset points",
                        ha="center", va="bottom", fontsize=7, color="#555555")
        if title is None and n.sum() > 0:
            heading += f" (overall {float((s * n).sum() / n.sum()):.3f}; labels = parameters per layer)"
    handles = [Line2D([], [], color=PRUNED_COLOR, lw=6, label="pruned fraction")]
    if target is not None:
        ax.axhline(float(target), color=CUT_COLOR, ls="--", lw=1.2)
        handles.append(Line2D([], [], color=CUT_COLOR, ls="--", label=f"target {float(target):.2f}"))
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("sparsity")
    label_ticks(ax, [short_layer(str(v)) for v in df["layer"]], rotation=60 if len(df) > 6 else 0)
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles))
    ax.set_title(heading, loc="left")
    return fig


def _square(matrix: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(matrix, pd.DataFrame):
        raise TypeError(f"matrix must be a square pandas DataFrame indexed by mask names, got {type(matrix).__name__}")
    if matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
        raise ValueError(f"matrix must be square and non-empty (K x K mean Jaccard), got shape {matrix.shape}")
    if set(matrix.index) != set(matrix.columns):
        raise ValueError(f"matrix rows {list(matrix.index)} and columns {list(matrix.columns)} must name the same masks")
    m = matrix.loc[:, list(matrix.index)].astype(float)
    v = m.to_numpy()
    if np.any((v[~np.isnan(v)] < 0) | (v[~np.isnan(v)] > 1)):
        raise ValueError("Jaccard overlaps must lie in [0, 1]")
    return m


@styled
def overlap_heatmap(matrix: pd.DataFrame, *, title: str | None = None, annotate: bool | None = None) -> Figure:
    """Heatmap of the K x K Jaccard overlap between masks (1 on the diagonal).

    Each cell is whatever ``matrix`` holds; ``Lab.overlap_matrix`` gives the whole-network
    (pooled) Jaccard of all kept weights, which is not the mean of the per-layer values.

    Args:
        matrix: square DataFrame of overlaps in [0, 1], index and columns = mask names.
        annotate: print the value in each cell; default: when K <= 12.

    Example:
        >>> m = pd.DataFrame([[1, .4], [.4, 1]], index=["magnitude", "taylor"], columns=["magnitude", "taylor"])
        >>> fig = overlap_heatmap(m)
    """
    import seaborn as sns

    m = _square(matrix)
    k = len(m)
    annotate = k <= 12 if annotate is None else annotate
    side = min(9.0, 3.2 + 0.45 * k)
    fig, ax = new_figure(size=(side + 1.0, side))
    sns.heatmap(m, vmin=0.0, vmax=1.0, cmap="viridis", square=True, annot=annotate, fmt=".2f",
                annot_kws={"fontsize": 8}, linewidths=0.5, linecolor="white",
                cbar_kws={"label": "Jaccard overlap", "shrink": 0.8}, ax=ax)
    ax.grid(False)
    ax.tick_params(axis="y", labelrotation=0)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_title(title or "Mask overlap (Jaccard)", loc="left")
    return fig


@styled
def layer_overlap(df: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Per-layer Jaccard overlap bars between two masks, with the plain mean over layers as a dashed line.

    With ``df.attrs["total"]["jaccard"]`` (what ``lk.overlap`` returns) the legend also gives the
    whole-network (pooled) value, which weighs each layer by its size.

    ``df`` has columns ``layer`` and ``jaccard`` (``lk.overlap(m_a, m_b)``); with an extra
    ``pair`` column holding several mask pairs, the bars are grouped by pair.

    Example:
        >>> fig = layer_overlap(pd.DataFrame({"layer": ["conv1.weight", "fc.weight"], "jaccard": [0.8, 0.3]}))
    """
    import seaborn as sns

    d = require_columns(df, ("layer", "jaccard"), "df").copy()
    j = d["jaccard"].to_numpy(dtype=float)
    if np.any((j < 0) | (j > 1)):
        raise ValueError("jaccard must lie in [0, 1]")
    d["layer"] = [short_layer(str(v)) for v in d["layer"]]
    layers = list(dict.fromkeys(d["layer"]))
    fig, ax = new_figure(size="wide")
    if "pair" in d.columns and d["pair"].nunique() > 1:
        sns.barplot(data=d, x="layer", y="jaccard", hue="pair", order=layers, ax=ax)
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.0, 1.0), title=None)
    else:
        ax.bar(np.arange(len(d)), j, color=PRUNED_COLOR, width=0.8)
        ax.axhline(float(np.mean(j)), color="#333333", ls="--", lw=1)
        _pooled = (df.attrs.get("total") or {}).get("jaccard")
        _label = f"mean over layers {np.mean(j):.3f}" + (f" (whole network, pooled: {_pooled:.3f})"
                                                          if _pooled is not None else "")
        fig.legend(handles=[Line2D([], [], color="#333333", ls="--", label=_label)], loc="outside lower center")
    label_ticks(ax, layers, rotation=60 if len(layers) > 6 else 0)
    ax.set_xlabel("")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("Jaccard overlap")
    ax.set_title(title or "Per-layer mask overlap", loc="left")
    return fig
