"""Views of the long-tail pruning study (docs/methods.md §1.6): trade-off, mask agreement, PIEs.

- :func:`longtail_tradeoff`: accuracy vs sparsity for many / medium / few / overall from the
  study table, with the dense baseline A (dashed) and the dense control B (dotted); built on
  :func:`labkit.views.accuracy_vs_sparsity`.
- :func:`overlap_alpha`: the K × K Jaccard overlap of the candidate masks (and the merged one)
  beside the merge weights ``α_k``: do the trainers agree, and whose vote counts?
- :func:`pie_rate`: PIE rate per class against its training count ``n_i`` (Hooker et al. 2019):
  pruning-identified exemplars pile up in the rare classes.

The per-class bars (:func:`labkit.views.per_class_accuracy`) and the per-layer sparsity
profile (:func:`labkit.views.sparsity_profile`) are the generic views, used as they are.

Example:
    >>> import pandas as pd
    >>> pc = pd.DataFrame({"class": [0, 1], "name": ["0", "1"], "n_train": [134, 6],
    ...                    "group": ["many", "few"], "n_test": [30, 30], "pies": [0, 6], "pie_rate": [0.0, 0.2]})
    >>> fig = pie_rate(pc)
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from ._style import GROUP_COLORS, GROUPS, METRIC_COLORS, human, new_figure, require_columns, styled
from .accuracy import NO_GROUP_COLOR, accuracy_vs_sparsity
from .masks import _square

__all__ = ["longtail_tradeoff", "overlap_alpha", "pie_rate"]

_METRICS = ("overall", "many", "medium", "few")


def _check_metrics(table: pd.DataFrame, metrics: Sequence[str]) -> None:
    unknown = [m for m in metrics if m not in table.columns]
    if unknown:
        raise ValueError(f"metrics {unknown} are not columns of the table; it has {list(table.columns)}")


@styled
def longtail_tradeoff(table: pd.DataFrame, runs: Sequence[str] = ("E",), *,
                      metrics: Sequence[str] = _METRICS, baseline: str = "A", control: str | None = "B",
                      title: str | None = None) -> Figure:
    """Accuracy vs sparsity of the pruned runs, with the dense models as horizontal lines.

    Args:
        table: the study table (``labkit.studies.longtail.run_study``): columns ``run,
            sparsity`` and one column per metric; repeated seeds / permutations give the mean
            line and a ± 1 std band.
        runs: pruned runs to draw (``"C"``, ``"D"``, ``"E"``); several get one line style each.
        metrics: accuracy columns to draw (default overall, many, medium, few).
        baseline: the dense run drawn dashed (A, the full baseline of the thesis claim).
        control: the dense run drawn dotted (B, the dense control with the same loss), or None.

    Example:
        >>> fig = longtail_tradeoff(df, runs=("C", "E"))   # doctest: +SKIP
    """
    df = require_columns(table, ("run", "sparsity"), "table")
    _check_metrics(df, metrics)
    pruned = df[df["run"].isin(list(runs)) & (df["sparsity"] > 0)]
    if pruned.empty:
        raise ValueError(f"the table has no rows of run(s) {list(runs)} with sparsity > 0; runs present: "
                         f"{sorted(df['run'].unique())}")
    curves = pruned.melt(id_vars=["run", "sparsity"], value_vars=list(metrics), var_name="metric", value_name="value")
    curves = curves.rename(columns={"run": "criterion"})
    base = df[df["run"] == baseline]
    baselines = {m: float(base[m].mean()) for m in metrics} if len(base) else None
    heading = title or (f"Accuracy vs sparsity: run{'s' if len(runs) > 1 else ''} {', '.join(runs)}"
                        + (f"; dense {baseline} dashed" if baselines else "")
                        + (f", control {control} dotted" if control and (df["run"] == control).any() else ""))
    fig = accuracy_vs_sparsity(curves, baselines=baselines, title=heading)
    ax = fig.axes[0]
    leg = ax.get_legend()
    handles: list[Artist] = [h for h in leg.legend_handles if h is not None] if leg is not None else []
    labels = ["run" if t.get_text() == "criterion" else t.get_text() for t in leg.get_texts()] if leg is not None else []
    ctrl = df[df["run"] == control] if control else df.iloc[:0]
    if len(ctrl):
        for m in metrics:
            ax.axhline(float(ctrl[m].mean()), color=METRIC_COLORS.get(m, "#333333"), ls=":", lw=1.2, alpha=0.8)
        handles.append(Line2D([], [], color="#333333", ls=":", lw=1.2))
        labels.append(f"dense control {control}")
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


@styled
def overlap_alpha(matrix: pd.DataFrame, alpha: Mapping[str, float], accuracy: Mapping[str, float] | None = None, *,
                  title: str | None = None) -> Figure:
    """K × K Jaccard overlap heatmap of candidate masks, with the merge weights ``α_k`` as bars.

    Args:
        matrix: square overlap DataFrame (``labkit.pruning.overlap_matrix``); rows
            without a weight (e.g. ``"merged"``) get no bar.
        alpha: trainer -> merge weight (they sum to 1 over the candidates).
        accuracy: optional trainer -> the accuracy ``a_k`` the weight came from (annotated).

    Example:
        >>> m = pd.DataFrame([[1, .9], [.9, 1]], index=["ce", "ldam_drw"], columns=["ce", "ldam_drw"])
        >>> fig = overlap_alpha(m, {"ce": 0.4, "ldam_drw": 0.6})
    """
    import seaborn as sns

    m = _square(matrix)
    unknown = [k for k in alpha if k not in m.index]
    if unknown:
        raise ValueError(f"alpha names {unknown}, which are not rows of the overlap matrix {list(m.index)}")
    a = np.array([float(alpha.get(k, np.nan)) for k in m.index])
    if np.any(a[~np.isnan(a)] < 0):
        raise ValueError("merge weights must be non-negative")
    k = len(m)
    side = min(9.0, 3.2 + 0.45 * k)
    fig, (ax, bars) = new_figure(1, 2, size=(side + 3.2, side), width_ratios=[side, 2.4])
    sns.heatmap(m, vmin=max(0.0, float(np.nanmin(m.to_numpy())) - 0.02) if k > 1 else 0.0, vmax=1.0, cmap="viridis",
                square=True, annot=k <= 12, fmt=".3f", annot_kws={"fontsize": 7}, linewidths=0.5, linecolor="white",
                cbar_kws={"label": "Jaccard overlap (all layers)", "shrink": 0.7}, ax=ax)
    ax.grid(False)
    ax.tick_params(axis="y", labelrotation=0)
    ax.set_xlabel("")
    ax.set_ylabel("")
    y = np.arange(k) + 0.5
    shown = ~np.isnan(a)
    bars.barh(y[shown], a[shown], height=0.6, color=METRIC_COLORS["balanced"])
    for yi, ai, name in zip(y, a, m.index):
        if np.isnan(ai):
            continue
        text = f"{ai:.2f}" + (f"  (a={accuracy[name]:.3f})" if accuracy and name in accuracy else "")
        bars.annotate(text, (ai, yi), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7)
    bars.set_ylim(k, 0)
    bars.set_yticks([])
    bars.set_xlim(0, max(1.0, float(np.nanmax(a)) * 1.6) if shown.any() else 1.0)
    bars.set_xlabel("merge weight α")
    bars.grid(axis="x")
    fig.suptitle(title or "Candidate masks: overlap and merge weights", x=0.02, ha="left", fontweight="bold",
                 fontsize=11)
    return fig


@styled
def pie_rate(per_class: pd.DataFrame, *, title: str | None = None) -> Figure:
    """PIE rate of each class against its training count, coloured by long-tail group.

    Args:
        per_class: ``PIEReport.per_class``: columns ``class, name, n_train, group, pie_rate``
            (``n_test``, ``pies`` optional: the title then gives the pooled rate).

    Example:
        >>> fig = pie_rate(report.per_class)   # doctest: +SKIP
    """
    df = require_columns(per_class, ("name", "n_train", "group", "pie_rate"), "per_class")
    r = df["pie_rate"].to_numpy(dtype=float)
    if np.any(r[~np.isnan(r)] < 0) or np.any(r[~np.isnan(r)] > 1):
        raise ValueError("pie_rate must be a fraction in [0, 1] per class")
    unknown = sorted(str(g) for g in set(df["group"].dropna()) - set(GROUPS))
    if unknown:
        raise ValueError(f"per_class has unknown group(s) {unknown}; groups are {list(GROUPS)} (or None)")
    n = df["n_train"].to_numpy(dtype=float)
    colors = [GROUP_COLORS.get(g, NO_GROUP_COLOR) for g in df["group"]]
    fig, ax = new_figure(size="curve")
    ax.scatter(n, r, s=42, c=colors, edgecolor="black", linewidth=0.5, zorder=3)
    for xi, yi, name in zip(n, r, df["name"]):
        if np.isfinite(yi):
            ax.annotate(str(name), (xi, yi), xytext=(4, 3), textcoords="offset points", fontsize=7)
    if n.min() > 0 and n.max() / n.min() > 10:
        ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: human(v)))
    ax.set_ylim(0, max(0.05, float(np.nanmax(r)) * 1.2) if np.isfinite(r).any() else 1.0)
    ax.set_xlabel("training images of the class (n_i)")
    ax.set_ylabel("PIE rate (fraction of the class's test images)")
    ax.grid(axis="x")
    heading = title or "PIEs per class vs training count"
    if title is None and {"pies", "n_test"} <= set(df.columns) and df["n_test"].sum() > 0:
        heading += f" (overall {df['pies'].sum() / df['n_test'].sum():.3f})"
    handles = [Patch(color=GROUP_COLORS[g], label=g) for g in GROUPS if g in set(df["group"])]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles))
    ax.set_title(heading, loc="left")
    return fig
