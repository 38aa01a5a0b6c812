"""Views for method 5 (DOMINOS, docs/methods.md §5.6): decay curves, Weibull parameters, R vs D̂, blocks, stages.

Pure functions from arrays / tables to a ``matplotlib.figure.Figure`` (no pyplot state):

* :func:`decay_curves`: the survival ``S_i(t) = Δ_{t+1}/Δ_1`` of a few channels of one layer
  (dots) and their Weibull fits ``exp(−(t/λ)^k)`` (lines).
* :func:`weibull_scatter`: ``(k, λ)`` of every fitted channel, coloured by layer depth.
* :func:`importance_scatter`: R against D̂ for the channels of a layer, kept vs removed, with the
  cut drawn as the iso-line ``R^α D̂^(1−α) = cut``.
* :func:`block_diagram`: channels kept in each block's ``conv1`` / ``conv2``; removed blocks greyed.
* :func:`stage_bars`: accuracy (mean ± std over seeds) and MACs for
  *dense → pruned → fine-tuned → + extra epochs / + SE*.

The inputs are what :mod:`labkit.analysis.influence`, :mod:`labkit.pruning.blocks` and
:mod:`labkit.studies.dominos` return (``influence_table``, ``BlockPlan.kept()``,
``stage_summary``), or the same columns from a saved CSV.

Example:
    >>> import numpy as np
    >>> t = np.arange(6.0)
    >>> S = np.exp(-(t / np.array([[2.0], [4.0]])) ** 1.5)
    >>> fig = decay_curves(S, k=[1.5, 1.5], lam=[2.0, 4.0])
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ._style import CUT_COLOR, DENSE_COLOR, PRUNED_COLOR, human, new_figure, require_columns, short_layer, styled

__all__ = ["decay_curves", "weibull_scatter", "importance_scatter", "block_diagram", "stage_bars"]

_SE_COLOR = "#009E73"
_EXTRA_COLOR = "#E69F00"


def _array(x: Any, name: str, ndim: int) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    a = np.asarray(x, dtype=float)
    if a.ndim == ndim - 1 and ndim == 2:
        a = a[None]
    if a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {a.shape}")
    return a


@styled
def decay_curves(survival: Any, k: npt.ArrayLike, lam: npt.ArrayLike, *, channels: Sequence[int] | None = None,
                 t: Sequence[float] | None = None, layer: str = "", max_channels: int = 8) -> Figure:
    """Survival of the domino influence for some channels of one layer, with their Weibull fits.

    Args:
        survival: ``(C, T)`` values ``S_i(t)`` (:meth:`InfluenceCurves.survival`).
        k, lam: the fitted Weibull parameters per channel (NaN: dead channel, not drawn).
        channels: which rows to draw; default up to ``max_channels`` evenly spread live ones.
        t: the depths of the columns (default ``0..T−1``).
        layer: the layer's name, for the title.
    """
    S = _array(survival, "survival", 2)
    k, lam = np.asarray(k, float).reshape(-1), np.asarray(lam, float).reshape(-1)
    if len(k) != len(S) or len(lam) != len(S):
        raise ValueError(f"k and lam need one value per channel ({len(S)}), got {len(k)} and {len(lam)}")
    tt = np.arange(S.shape[1], dtype=float) if t is None else np.asarray(t, float)
    live = [i for i in range(len(S)) if np.isfinite(k[i]) and np.isfinite(lam[i])]
    if channels is None:
        channels = [live[int(j)] for j in np.linspace(0, len(live) - 1, min(max_channels, len(live)))] if live else []
    bad = [c for c in channels if not 0 <= int(c) < len(S)]
    if bad:
        raise IndexError(f"channels {bad} out of range: the layer has {len(S)} channels")
    fig, ax = new_figure(size="curve")
    fine = np.linspace(0, tt.max() if len(tt) else 1.0, 200)
    for j, c in enumerate(channels):
        color = f"C{j % 10}"
        ax.plot(tt, S[c], "o", color=color, ms=4, label=f"ch {c}")
        if np.isfinite(k[c]) and np.isfinite(lam[c]):
            ax.plot(fine, np.exp(-(fine / lam[c]) ** k[c]), "-", color=color, lw=1.2, alpha=0.8)
    ax.set_xlabel("downstream depth t = d − 1")
    ax.set_ylabel("survival S(t) = Δ_{t+1} / Δ_1")
    ax.set_title(f"Domino decay{': ' + short_layer(layer) if layer else ''} (dots: measured, lines: Weibull)",
                 loc="left")
    if channels:
        ax.legend(ncols=2, loc="best")
    return fig


@styled
def weibull_scatter(table: pd.DataFrame, *, kinds: Sequence[str] = ("fit",)) -> Figure:
    """``(k, λ)`` of every channel whose fit ``kind`` is in ``kinds``, coloured by layer (depth order).

    Args:
        table: rows with ``layer, k, lam, kind`` (:func:`labkit.analysis.influence.influence_table`).
    """
    require_columns(table, ["layer", "k", "lam", "kind"], "table")
    layers = list(dict.fromkeys(table["layer"]))
    shown = table[table["kind"].isin(kinds) & np.isfinite(table["k"]) & np.isfinite(table["lam"])]
    fig, ax = new_figure(size="curve")
    if len(shown):
        depth = shown["layer"].map({n: i for i, n in enumerate(layers)}).to_numpy()
        sc = ax.scatter(shown["k"], shown["lam"], c=depth, cmap="viridis", s=12, alpha=0.75,
                        vmin=0, vmax=max(len(layers) - 1, 1))
        cb = fig.colorbar(sc, ax=ax, label="layer (forward order)")
        ticks = np.unique(np.linspace(0, len(layers) - 1, min(6, len(layers))).round().astype(int))
        cb.set_ticks(ticks.tolist())
        cb.set_ticklabels([short_layer(layers[i]) for i in ticks])
        ax.set_xscale("log")
        ax.set_yscale("log")
    counts = table["kind"].value_counts()
    ax.set_xlabel("shape k (k < 1: fast early decay, k > 1: delayed decay)")
    ax.set_ylabel("scale λ (depths)")
    ax.set_title(f"Weibull fits: {len(shown)} of {len(table)} channels "
                 f"({', '.join(f'{n} {c}' for n, c in counts.items())})", loc="left")
    return fig


@styled
def importance_scatter(frame: pd.DataFrame, *, alpha: float = 0.5, cut: float | None = None,
                       layer: str = "") -> Figure:
    """R (representativeness) against D̂ (normalised domino influence), kept vs removed channels.

    Args:
        frame: rows with ``R, D_hat, kept`` (bool), e.g. one layer's channels.
        alpha: the exponent of ``I = R^α D̂^(1−α)``, for the iso-line.
        cut: the layer's cut in I units: channels with ``I <= cut`` are below it; drawn as the
            curve ``R^α D̂^(1−α) = cut``.
    """
    require_columns(frame, ["R", "D_hat", "kept"], "frame")
    fig, ax = new_figure(size="square")
    kept = frame["kept"].astype(bool)
    ax.scatter(frame.loc[kept, "R"], frame.loc[kept, "D_hat"], s=18, color=PRUNED_COLOR, label="kept")
    ax.scatter(frame.loc[~kept, "R"], frame.loc[~kept, "D_hat"], s=18, color=CUT_COLOR, marker="x", label="removed")
    if cut is not None and np.isfinite(cut) and cut > 0:
        r = np.linspace(max(cut, 1e-3), 1.0, 200)
        if alpha < 1:
            d = (cut / r ** alpha) ** (1.0 / (1.0 - alpha))
            ok = d <= 1.05
            ax.plot(r[ok], d[ok], "--", color=CUT_COLOR, lw=1.2, label=f"cut: R^{alpha:g}·D̂^{1 - alpha:g} = {cut:.3g}")
        else:
            ax.axvline(cut, ls="--", color=CUT_COLOR, lw=1.2, label=f"cut: R = {cut:.3g}")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.05)
    ax.set_xlabel("representativeness R (1 − max |ρ|)")
    ax.set_ylabel("domino influence D̂ = D / max D")
    ax.set_title(f"R vs D̂{': ' + short_layer(layer) if layer else ''}", loc="left")
    ax.legend(loc="best")
    return fig


@styled
def block_diagram(kept: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Channels kept per block: ``conv1`` (internal) and ``conv2`` (residual) bars; removed blocks greyed.

    Args:
        kept: rows ``layer, channels, kept, block, role, removed_block`` (``BlockPlan.kept()``);
            rows without a block (stem, shortcuts) are left out.
    """
    require_columns(kept, ["layer", "channels", "kept", "block", "role", "removed_block"], "kept")
    rows = kept[kept["block"].astype(str) != ""]
    if not len(rows):
        raise ValueError("kept has no block rows; pass BlockPlan.kept() of a residual network")
    blocks = list(dict.fromkeys(rows["block"]))
    fig, ax = new_figure(size="wide")
    width = 0.38
    for i, b in enumerate(blocks):
        g = rows[rows["block"] == b].set_index("role")
        removed = bool(g["removed_block"].iloc[0])
        for off, role in ((-width / 2, "internal"), (width / 2, "residual")):
            if role not in g.index:
                continue
            total, k = int(g.loc[role, "channels"]), int(g.loc[role, "kept"])
            ax.bar(i + off, total, width, color="none", edgecolor="#BBBBBB", lw=0.8)
            color = DENSE_COLOR if removed else (PRUNED_COLOR if role == "internal" else "#56B4E9")
            ax.bar(i + off, total if removed else k, width, color=color, alpha=0.35 if removed else 1.0,
                   hatch="//" if removed else None, edgecolor="white" if not removed else DENSE_COLOR)
            if not removed:
                ax.annotate(str(k), (i + off, k), ha="center", va="bottom", fontsize=7)
        if removed:
            ax.annotate("removed", (i, float(g["channels"].max())), ha="center", va="bottom", fontsize=8,
                        color=CUT_COLOR)
    ax.set_xticks(range(len(blocks)))
    ax.set_xticklabels(blocks, rotation=0)
    ax.set_ylabel("output channels")
    handles = [Patch(color=PRUNED_COLOR, label="conv1 kept (internal)"),
               Patch(color="#56B4E9", label="conv2 kept (residual stream)"),
               Patch(facecolor=DENSE_COLOR, alpha=0.35, hatch="//", label="removed block"),
               Patch(facecolor="none", edgecolor="#BBBBBB", label="dense width")]
    ax.legend(handles=handles, loc="upper left", ncols=2)
    ax.set_title(title or "Channels kept per block", loc="left")
    return fig


@styled
def stage_bars(summary: pd.DataFrame) -> Figure:
    """Accuracy (left, mean ± std over seeds) and MACs (right) per stage and MACs target.

    Args:
        summary: rows ``target, stage, accuracy, accuracy_std, macs``
            (:func:`labkit.studies.dominos.stage_summary`); ``target = 0`` is the dense model.
    """
    require_columns(summary, ["target", "stage", "accuracy", "macs"], "summary")
    labels = [("dense" if t == 0 else f"−{t:.0%}\n{s}") for t, s in zip(summary["target"], summary["stage"])]
    colors = [DENSE_COLOR if s == "dense" else _SE_COLOR if s == "+ SE" else _EXTRA_COLOR if s == "+ extra epochs"
              else PRUNED_COLOR for s in summary["stage"]]
    std = summary["accuracy_std"].fillna(0).to_numpy() if "accuracy_std" in summary else None
    fig, (a1, a2) = new_figure(1, 2, size="tall")
    x = np.arange(len(summary))
    a1.bar(x, summary["accuracy"], yerr=std, color=colors, capsize=2)
    lo = float(np.nanmin(summary["accuracy"])) if summary["accuracy"].notna().any() else 0.0
    a1.set_ylim(max(0.0, lo - 0.1), 1.0)
    a1.set_ylabel("test accuracy")
    a1.set_title("Accuracy", loc="left")
    a2.bar(x, summary["macs"], color=colors)
    for xi, m in zip(x, summary["macs"]):
        a2.annotate(human(m), (xi, m), ha="center", va="bottom", fontsize=7)
    a2.set_ylabel("MACs per item")
    a2.set_title("MACs", loc="left")
    for ax in (a1, a2):
        ax.set_xticks(x)
        ax.set_xticklabels(labels, fontsize=7, rotation=45, ha="right", rotation_mode="anchor")
    fig.legend(handles=[Line2D([], [], color=c, lw=6, label=l) for c, l in
                        ((DENSE_COLOR, "dense"), (PRUNED_COLOR, "pruned / fine-tuned"),
                         (_EXTRA_COLOR, "+ extra epochs"), (_SE_COLOR, "+ SE"))],
               loc="outside lower center", ncols=4)
    return fig
