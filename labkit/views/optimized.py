"""Views for method 3 (large weights + optimizer-chosen small ones, docs/methods.md §3.2).

Pure functions from arrays and tables to a ``matplotlib.figure.Figure``:

* :func:`weight_histogram`: the |w| histogram of a layer (or all layers) coloured kept-large /
  rescued-small / pruned, with the magnitude threshold (view 1);
* :func:`fitness_curve`: the GA's best and mean fitness (``-L_cal``) per generation (view 2);
* :func:`variant_accuracy`: accuracy vs sparsity for magnitude and each "magnitude + X"
  variant, one-shot and after fine-tuning (view 3);
* :func:`rescued_per_layer`: how many small weights the search rescued in each layer (view 4).

Example:
    >>> import numpy as np
    >>> w = np.random.default_rng(0).normal(size=1000)
    >>> large = np.abs(w) > 1.5; rescued = (~large) & (np.arange(1000) % 50 == 0)
    >>> fig = weight_histogram(w, large, rescued, threshold=1.5)
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ._style import CUT_COLOR, DENSE_COLOR, PRUNED_COLOR, label_ticks, new_figure, require_columns, short_layer, styled

__all__ = ["PART_COLORS", "VARIANT_COLORS", "weight_histogram", "fitness_curve", "variant_accuracy",
           "rescued_per_layer"]

PART_COLORS: dict[str, str] = {"kept large": PRUNED_COLOR, "rescued small": "#009E73", "pruned": "#BBBBBB"}
VARIANT_COLORS: dict[str, str] = {"magnitude": "#333333", "random": "#999999", "wanda": "#E69F00",
                                  "taylor": "#56B4E9", "ga": "#009E73", "sa": "#CC79A7", "ste": "#D55E00"}


def _np(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x).ravel()


@styled
def weight_histogram(weights: Any, large: Any, rescued: Any, threshold: float | None = None, *,
                     bins: int = 60, layer: str | None = None, log: bool = True) -> Figure:
    """Stacked histogram of |w|: kept large (blue), rescued small (green), pruned (grey).

    Args:
        weights: the layer's weights (any shape; flattened), or all layers concatenated.
        large, rescued: bool masks of the same size (disjoint); everything else is pruned.
        threshold: the magnitude cut (smallest |w| kept as large), drawn as a red line.
        log: log-scaled counts (the pruned bulk dwarfs the rescued few otherwise).
    """
    w, lg, rs = np.abs(_np(weights).astype(float)), _np(large).astype(bool), _np(rescued).astype(bool)
    if not (len(w) == len(lg) == len(rs)):
        raise ValueError(f"weights, large and rescued must have the same size, got {len(w)}, {len(lg)}, {len(rs)}")
    if (lg & rs).any():
        raise ValueError("large and rescued overlap; a weight is either kept large or rescued")
    edges = np.linspace(0, float(w.max()) if len(w) and w.max() > 0 else 1.0, bins + 1)
    fig, ax = new_figure(size="curve")
    parts = {"pruned": w[~lg & ~rs], "rescued small": w[rs], "kept large": w[lg]}
    ax.hist(list(parts.values()), bins=edges, stacked=True, color=[PART_COLORS[k] for k in parts],
            label=[f"{k} ({len(v):,})" for k, v in parts.items()], log=log)
    if threshold is not None and np.isfinite(threshold):
        ax.axvline(threshold, color=CUT_COLOR, lw=1.5, label=f"magnitude threshold {threshold:.3g}")
    ax.set_xlabel("|w|")
    ax.set_ylabel("weights" + (" (log)" if log else ""))
    ax.legend(loc="upper right")
    ax.set_title(f"Which weights are kept{f' · {short_layer(layer)}' if layer else ''}", loc="left")
    return fig


@styled
def fitness_curve(history: pd.DataFrame, magnitude_fitness: float | None = None, title: str | None = None) -> Figure:
    """Best and mean fitness (``-L_cal``, higher = better) per generation.

    Args:
        history: ``RescueResult.history`` (columns ``generation, best_fitness, mean_fitness``).
            With a ``seed`` column, one faint line per seed plus their mean.
        magnitude_fitness: ``-magnitude_loss``, drawn as a grey reference line.
    """
    require_columns(history, ["generation", "best_fitness", "mean_fitness"], "history")
    fig, ax = new_figure(size="curve")
    groups = list(history.groupby("seed")) if "seed" in history else [(None, history)]
    for _, h in groups:
        alpha = 0.35 if len(groups) > 1 else 1.0
        ax.plot(h["generation"], h["best_fitness"], color="#009E73", alpha=alpha, lw=1.5)
        ax.plot(h["generation"], h["mean_fitness"], color="#E69F00", alpha=alpha, lw=1)
    if len(groups) > 1:
        m = history.groupby("generation")[["best_fitness", "mean_fitness"]].mean()
        ax.plot(m.index, m["best_fitness"], color="#009E73", lw=2.5)
        ax.plot(m.index, m["mean_fitness"], color="#E69F00", lw=2)
    ax.plot([], [], color="#009E73", lw=2, label="best")
    ax.plot([], [], color="#E69F00", lw=2, label="population mean (SA/STE: current)")
    if magnitude_fitness is not None:
        ax.axhline(magnitude_fitness, color=DENSE_COLOR, ls="--", label="magnitude only")
    ax.set_xlabel("generation")
    ax.set_ylabel("fitness = −L_cal")
    ax.legend(loc="lower right")
    ax.set_title(title or "Search progress on the calibration set", loc="left")
    return fig


@styled
def variant_accuracy(df: pd.DataFrame, dense: float | None = None, title: str | None = None) -> Figure:
    """Accuracy vs sparsity per variant (mean ± std over seeds); panels: one-shot, fine-tuned.

    Args:
        df: rows ``variant, sparsity, seed, accuracy`` and optionally ``phase``
            (:func:`labkit.studies.optimized.run_study`); ``dense_accuracy`` gives the dense line.
    """
    require_columns(df, ["variant", "sparsity", "seed", "accuracy"], "df")
    phases = list(dict.fromkeys(df["phase"])) if "phase" in df else [None]
    fig, axes = new_figure(1, len(phases), size=(5.0 * len(phases), 3.8), sharey=True)
    axes = np.atleast_1d(axes)
    if dense is None and "dense_accuracy" in df:
        dense = float(df.groupby("seed")["dense_accuracy"].first().mean())
    for ax, ph in zip(axes.ravel(), phases):
        part = df if ph is None else df[df["phase"] == ph]
        for i, (v, g) in enumerate(part.groupby("variant", sort=False)):
            t = g.groupby("sparsity")["accuracy"].agg(["mean", "std"])
            c = VARIANT_COLORS.get(v, f"C{i % 10}")
            label = v if v == "magnitude" else f"magnitude + {v}"
            ax.errorbar(t.index, t["mean"], yerr=t["std"].fillna(0), color=c, marker="o", ms=4, capsize=2,
                        lw=2 if v == "ga" else 1.3, label=label)
        if dense is not None:
            ax.axhline(dense, color=DENSE_COLOR, ls="--", lw=1, label="dense")
        ax.set_xlabel("sparsity s (fraction of prunable weights removed)")
        ax.set_title(ph or "accuracy", loc="left")
    axes.ravel()[0].set_ylabel("test accuracy")
    axes.ravel()[-1].legend(loc="lower left")
    if title:
        fig.suptitle(title, x=0.01, ha="left", fontweight="bold", fontsize=11)
    return fig


@styled
def rescued_per_layer(table: pd.DataFrame, title: str | None = None) -> Figure:
    """Bars of rescued small weights per layer, labelled with their share of the layer's kept weights.

    Args:
        table: ``RescueResult.rescued_per_layer()`` (columns ``layer, rescued, kept``); with a
            ``variant`` column, one bar per variant side by side.
    """
    require_columns(table, ["layer", "rescued", "kept"], "table")
    layers = list(dict.fromkeys(table["layer"]))
    variants = list(dict.fromkeys(table["variant"])) if "variant" in table else [None]
    width = 0.8 / len(variants)
    fig, ax = new_figure(size="small")
    x = np.arange(len(layers))
    for i, v in enumerate(variants):
        part = (table if v is None else table[table["variant"] == v]).groupby("layer")[["rescued", "kept"]].mean()
        part = part.reindex(layers)
        xs = x - 0.4 + width * (i + 0.5)
        c = VARIANT_COLORS.get(v, "#009E73") if v is not None else "#009E73"
        ax.bar(xs, part["rescued"], width=width, color=c, label=v)
        for xi, r, k in zip(xs, part["rescued"], part["kept"]):
            ax.annotate(f"{r / k:.0%}" if k else "", (xi, r), ha="center", va="bottom", fontsize=7)
    if variants != [None]:
        ax.legend(loc="upper left")
    label_ticks(ax, [short_layer(n) for n in layers], rotation=0)
    ax.set_ylabel("rescued small weights")
    ax.set_title(title or "Rescued weights per layer (label: share of kept)", loc="left")
    return fig
