"""Views for method 2 (CSASML, docs/methods.md §2.4): cost per module, accuracy vs MACs, attention maps.

Pure functions from tables / arrays to a ``matplotlib.figure.Figure`` (no pyplot state):

* :func:`cost_stack`: MACs and parameters of each model as stacked bars, one segment per
  module kind (SMM, CSA, MHSA, basic block, MLP, conv, linear) or per stage; the input is
  :func:`labkit.analysis.breakdown.cost_breakdown` rows with a ``model`` column.
* :func:`accuracy_vs_macs`: mean ± std test accuracy over seeds against MACs for every run,
  with the Pareto front (no other run is both cheaper and more accurate) drawn as a step line.
* :func:`attention_map`: for one query position, its attention weights over the multi-scale
  key tokens, one ``p × p`` panel per pooled scale, next to the input with the query marked.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"run": ["a", "a", "b", "b"], "seed": [0, 1, 0, 1],
    ...                    "macs_counted": [1e6, 1e6, 4e6, 4e6], "test_acc": [0.8, 0.82, 0.85, 0.86]})
    >>> fig = accuracy_vs_macs(df)
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ._style import human, new_figure, require_columns, styled

__all__ = ["KIND_COLORS", "cost_stack", "accuracy_vs_macs", "pareto_front", "attention_map"]

# Okabe-Ito colours, one per module kind, stable across figures.
KIND_COLORS: dict[str, str] = {
    "SMM": "#009E73", "CSA": "#0072B2", "MHSA": "#D55E00", "basic block": "#E69F00",
    "MLP": "#56B4E9", "conv": "#999999", "linear": "#CC79A7", "norm": "#F0E442",
}


@styled
def cost_stack(breakdown: pd.DataFrame, by: str = "kind") -> Figure:
    """Stacked bars of MACs (left) and parameters (right) per model, split by ``by``.

    Args:
        breakdown: rows ``model, module, stage, kind, macs, params`` (one
            ``cost_breakdown`` table per model, concatenated with a ``model`` column).
        by: ``"kind"`` (SMM / CSA / basic block ...) or ``"stage"`` (stem, layer1 ...).
    """
    if by not in ("kind", "stage"):
        raise ValueError(f"by must be 'kind' or 'stage', got {by!r}")
    require_columns(breakdown, ["model", by, "macs", "params"], "breakdown")
    models = list(dict.fromkeys(breakdown["model"]))
    fig, axes = new_figure(1, 2, size="tall" if len(models) > 4 else "wide")
    for ax, col, label in zip(axes, ("macs", "params"), ("MACs (multiply-accumulates)", "parameters")):
        table = breakdown.pivot_table(index="model", columns=by, values=col, aggfunc="sum", fill_value=0)
        table = table.loc[models]
        bottom = np.zeros(len(models))
        for i, part in enumerate(table.columns):
            vals = table[part].to_numpy(dtype=float)
            if not vals.any():
                continue
            color = KIND_COLORS.get(part) if by == "kind" else None
            ax.bar(range(len(models)), vals, bottom=bottom, label=str(part),
                   color=color or f"C{i % 10}")
            bottom += vals
        for x, total in enumerate(bottom):
            ax.annotate(human(total), (x, total), ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(len(models)))
        ax.set_xticklabels(models, rotation=30, ha="right", rotation_mode="anchor")
        ax.set_ylabel(label)
        ax.set_title(f"{'MACs' if col == 'macs' else 'Parameters'} by {by}")
    axes[1].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def pareto_front(points: pd.DataFrame, cost: str = "macs", score: str = "accuracy") -> pd.DataFrame:
    """Rows of ``points`` that no other row beats on both ``cost`` (lower) and ``score`` (higher).

    Example:
        >>> p = pd.DataFrame({"macs": [1, 2, 3], "accuracy": [0.5, 0.4, 0.9]})
        >>> pareto_front(p).index.tolist()
        [0, 2]
    """
    pts = points.sort_values([cost, score], ascending=[True, False])
    keep, best = [], -np.inf
    for idx, row in pts.iterrows():
        if row[score] > best:
            keep.append(idx)
            best = row[score]
    return points.loc[keep]


@styled
def accuracy_vs_macs(results: pd.DataFrame, macs: str = "macs_counted", accuracy: str = "test_acc") -> Figure:
    """Mean ± std accuracy over seeds against MACs, one point per ``run``, Pareto front stepped.

    Points on the front have a black edge; runs are named in the legend.

    Args:
        results: one row per run × seed (``labkit.studies.csasml.run_study``): ``run``,
            ``macs``-column and ``accuracy``-column (accuracy as a fraction, shown in %).
    """
    require_columns(results, ["run", macs, accuracy], "results")
    g = results.groupby("run", sort=False).agg(macs=(macs, "first"), accuracy=(accuracy, "mean"),
                                               std=(accuracy, "std"), n=(accuracy, "size"))
    g["std"] = g["std"].fillna(0.0)
    fig, ax = new_figure(size="curve")
    front = pareto_front(g)
    ax.step(front["macs"], front["accuracy"] * 100, where="post", color="#BBBBBB", lw=1.5,
            zorder=1, label="Pareto front")
    for i, (run, row) in enumerate(g.iterrows()):
        ax.errorbar(row["macs"], row["accuracy"] * 100, yerr=row["std"] * 100, fmt="o", capsize=3,
                    color=f"C{i % 10}", zorder=2, label=str(run),
                    mec="black" if run in front.index else f"C{i % 10}")
    ax.set_xscale("log")
    ax.set_xlabel("MACs per image (log scale)")
    ax.set_ylabel(f"test accuracy (%), mean ± std over {int(g['n'].max())} seed(s)")
    ax.set_title("Accuracy vs MACs")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))  # runs with close MACs would overlap as labels
    return fig


@styled
def attention_map(weights: np.ndarray, scales: Sequence[int], size: tuple[int, int], query: int | tuple[int, int],
                  image: np.ndarray | None = None, head: int | None = None) -> Figure:
    """Where one query position looks: its weights over each pooled scale's ``p × p`` tokens.

    Args:
        weights: ``(heads, N, M)`` attention of one image (``attention_sample(...).weights``).
        scales: the pooled grid sizes, in token order (``M = Σ p²``).
        size: the attention map's ``(H, W)``, ``N = H·W``.
        query: the query position, a token index or ``(row, col)`` on the ``H × W`` map.
        image: optional input image ``(C, H_in, W_in)`` or ``(H_in, W_in)`` shown first, with
            the query's receptive region outlined.
        head: one head, or ``None`` for the mean over heads.
    """
    w = np.asarray(weights, dtype=float)
    if w.ndim != 3:
        raise ValueError(f"weights must be (heads, N, M), got shape {w.shape}")
    h, wd = size
    scales = [int(p) for p in scales]
    if w.shape[1] != h * wd or w.shape[2] != sum(p * p for p in scales):
        raise ValueError(f"weights {w.shape} do not match size={size} (N={h * wd}) and scales={scales} "
                         f"(M={sum(p * p for p in scales)})")
    q = query if isinstance(query, (int, np.integer)) else query[0] * wd + query[1]
    if not 0 <= q < h * wd:
        raise ValueError(f"query {query!r} is outside the {h}x{wd} map")
    if head is not None and not 0 <= head < w.shape[0]:
        raise ValueError(f"head {head} out of range; the block has {w.shape[0]} heads")
    row = w[head, q] if head is not None else w[:, q].mean(0)
    n_img = image is not None
    fig, axes = new_figure(1, len(scales) + n_img, size=(2.4 * (len(scales) + n_img), 2.8))
    axes = np.atleast_1d(axes)
    if n_img:
        img = np.asarray(image, dtype=float)
        img = img.mean(0) if img.ndim == 3 else img
        axes[0].imshow(img, cmap="gray")
        sy, sx = img.shape[0] / h, img.shape[1] / wd
        r, c = divmod(q, wd)
        from matplotlib.patches import Rectangle

        axes[0].add_patch(Rectangle((c * sx - 0.5, r * sy - 0.5), sx, sy, fill=False, ec="#D55E00", lw=2))
        axes[0].set_title(f"query ({r}, {c})")
    vmax = float(row.max()) if row.size else 1.0
    start = 0
    for ax, p in zip(axes[n_img:], scales):
        grid = row[start:start + p * p].reshape(p, p)
        start += p * p
        im = ax.imshow(grid, cmap="viridis", vmin=0.0, vmax=vmax)
        ax.set_title(f"scale {p}×{p} (Σ = {grid.sum():.2f})")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    fig.colorbar(im, ax=list(axes[n_img:]), shrink=0.8, label="attention weight")
    who = f"head {head}" if head is not None else "mean over heads"
    fig.suptitle(f"Attention of one query over the multi-scale tokens ({who})", fontsize=10)
    return fig
