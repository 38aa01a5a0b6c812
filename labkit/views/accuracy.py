"""Accuracy views: per class, per long-tail group, and along a sparsity sweep.

These are the long-tail views of docs/methods.md §1.6: pruning removes accuracy from the tail
classes first, and an overall number hides it. All three functions take plain data
(``ClassReport.per_class``-shaped DataFrames, dicts, long tables) and return a new
``matplotlib.figure.Figure``; nothing is shown or closed.

Example:
    >>> import pandas as pd
    >>> from labkit.views import per_class_accuracy
    >>> df = pd.DataFrame({"class": [0, 1, 2], "name": ["0", "1", "2"], "n_train": [500, 60, 8],
    ...                    "accuracy": [0.97, 0.90, 0.55], "group": ["many", "medium", "few"]})
    >>> fig = per_class_accuracy(df)
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from ._style import (
    DENSE_COLOR,
    GROUP_COLORS,
    GROUPS,
    METRIC_COLORS,
    METRICS,
    human,
    label_ticks,
    new_figure,
    require_columns,
    styled,
)

__all__ = ["per_class_accuracy", "group_summary", "group_accuracy", "accuracy_vs_sparsity"]

_PER_CLASS_COLUMNS = ("class", "name", "n_train", "accuracy", "group")


def _check_fraction(values: pd.Series, what: str) -> None:
    v = values.to_numpy(dtype=float)
    if np.any((v < 0) | (v > 1)):
        raise ValueError(f"{what} must be fractions in [0, 1], got a range [{np.nanmin(v):g}, {np.nanmax(v):g}]; "
                         f"divide percentages by 100")


NO_GROUP_COLOR = "#BBBBBB"  # classes that belong to no long-tail group (group None)


def _check_groups(df: pd.DataFrame, what: str) -> None:
    unknown = sorted(str(g) for g in set(df["group"].dropna()) - set(GROUPS))
    if unknown:
        raise ValueError(f"{what} has unknown group(s) {unknown}; groups are {list(GROUPS)} (or None for no group)")


@styled
def per_class_accuracy(per_class: pd.DataFrame, dense: pd.DataFrame | None = None, *,
                       title: str | None = None) -> Figure:
    """Bars of per-class accuracy, head classes left, tail classes right.

    Classes are sorted by training count (``n_train``, descending), bars are coloured by
    long-tail group, error bars span the ``ci_low``..``ci_high`` interval when those columns
    are present, and a grey step line on the right axis shows the training count itself.
    With ``dense``, black ticks mark the dense model's accuracy and a second panel shows the
    per-class change ``pruned - dense`` (the tail usually loses most: Hooker et al. 2019,
    "What do compressed deep neural networks forget?").

    Args:
        per_class: one row per class with columns ``class, name, n_train, accuracy, group``
            (optionally ``ci_low, ci_high``): ``ClassReport.per_class``.
        dense: the same table for the dense model, matched on ``class``.
        title: overrides the default title.

    Example:
        >>> pruned = pd.DataFrame({"class": [0, 1, 2], "name": ["0", "1", "2"], "n_train": [500, 60, 8],
        ...                        "accuracy": [0.97, 0.90, 0.55], "group": ["many", "medium", "few"]})
        >>> fig = per_class_accuracy(pruned, dense=pruned.assign(accuracy=[0.98, 0.92, 0.80]))
        >>> len(fig.axes)  # accuracy, training counts (twin axis), pruned - dense
        3
    """
    if isinstance(per_class, pd.DataFrame) and "n_train" not in per_class.columns:
        raise ValueError("per_class has no n_train column, so classes cannot be sorted by frequency; "
                         "evaluate with class counts (lk.evaluate(..., class_counts=data.class_counts)) "
                         "or add it: per_class.assign(n_train=...)")
    df = require_columns(per_class, _PER_CLASS_COLUMNS, "per_class")
    _check_fraction(df["accuracy"], "per_class['accuracy']")
    _check_groups(df, "per_class")
    df = df.sort_values(["n_train", "class"], ascending=[False, True], kind="stable").reset_index(drop=True)
    x = np.arange(len(df))
    acc = df["accuracy"].to_numpy(dtype=float)
    colors = [GROUP_COLORS.get(g, NO_GROUP_COLOR) for g in df["group"]]

    if dense is None:
        fig, ax = new_figure(size="wide")
        bottom = ax
    else:
        fig, (ax, bottom) = new_figure(2, 1, size="tall", sharex=True, height_ratios=[2, 1])

    yerr = None
    if {"ci_low", "ci_high"} <= set(df.columns) and df[["ci_low", "ci_high"]].notna().any().all():
        lo = np.clip(acc - df["ci_low"].to_numpy(dtype=float), 0, None)
        hi = np.clip(df["ci_high"].to_numpy(dtype=float) - acc, 0, None)
        yerr = np.nan_to_num(np.vstack([lo, hi]))
    ax.bar(x, acc, color=colors, width=0.8, yerr=yerr,
           error_kw={"ecolor": "#444444", "elinewidth": 0.8, "capsize": 2 if len(df) <= 30 else 0})
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy")

    # Training counts on a twin axis: the x order only makes sense next to the counts.
    counts = ax.twinx()
    n_train = df["n_train"].to_numpy(dtype=float)
    counts.plot(x, n_train, color="#777777", lw=1.2, drawstyle="steps-mid")
    if n_train.min() > 0 and n_train.max() / n_train.min() > 10:
        counts.set_yscale("log")
        counts.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        counts.yaxis.set_minor_formatter(NullFormatter())
    counts.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: human(v)))
    counts.set_ylabel("training images", color="#777777")
    counts.spines["right"].set_visible(True)
    counts.grid(False)

    handles: list = [Patch(color=GROUP_COLORS[g], label=g) for g in GROUPS if g in set(df["group"])]
    if df["group"].isna().any():
        handles.append(Patch(color=NO_GROUP_COLOR, label="no group"))
    handles.append(Line2D([], [], color="#777777", lw=1.2, label="n_train"))
    heading = title or "Per-class accuracy (classes sorted by training count)"

    if dense is not None:
        d = require_columns(dense, ("class", "accuracy"), "dense")
        _check_fraction(d["accuracy"], "dense['accuracy']")
        matched = df[["class"]].merge(d[["class", "accuracy"]], on="class", how="left")
        if matched["accuracy"].isna().any():
            missing = matched.loc[matched["accuracy"].isna(), "class"].tolist()
            raise ValueError(f"dense has no row for class(es) {missing}; pass the dense report of the same test set")
        dense_acc = matched["accuracy"].to_numpy(dtype=float)
        ax.scatter(x, dense_acc, marker="_", s=120 if len(df) <= 30 else 30, color="black", lw=1.5, zorder=3)
        handles.append(Line2D([], [], color="black", marker="_", ls="", markersize=10, label="dense"))
        delta = acc - dense_acc
        bottom.bar(x, delta, color=colors, width=0.8)
        bottom.axhline(0, color="black", lw=0.8)
        finite = np.abs(delta[np.isfinite(delta)])
        lim = max(0.02, float(finite.max()) * 1.15 if finite.size else 0.0)
        bottom.set_ylim(-lim, lim)
        bottom.set_ylabel("pruned − dense")
        if title is None:
            heading += f"; mean Δ {np.nanmean(delta):+.3f}"

    label_ticks(bottom, [str(n) for n in df["name"]], rotation=60 if len(df) > 12 else 0)
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles))
    ax.set_title(heading, loc="left")
    return fig


def group_summary(per_class: pd.DataFrame) -> dict[str, float]:
    """Overall, balanced and many/medium/few accuracy from a per-class table.

    - ``overall`` = sum(correct) / sum(n_test) (needs those two columns, else it is left out);
    - ``balanced`` = mean of per-class accuracy, every class weighing the same;
    - ``many`` / ``medium`` / ``few`` = mean per-class accuracy over the group's classes, the
      long-tail convention (Liu et al. 2019, OLTR), equal to the plain accuracy on a balanced
      test set.

    These are the definitions of ``lk.evaluate``'s ``ClassReport``, so the numbers match.

    Example:
        >>> df = pd.DataFrame({"accuracy": [1.0, 0.8, 0.5], "group": ["many", "many", "few"],
        ...                    "correct": [10, 8, 1], "n_test": [10, 10, 2]})
        >>> {k: round(v, 3) for k, v in group_summary(df).items()}
        {'overall': 0.864, 'balanced': 0.767, 'many': 0.9, 'few': 0.5}
    """
    df = require_columns(per_class, ("accuracy", "group"), "per_class")
    _check_groups(df, "per_class")
    out: dict[str, float] = {}
    if {"correct", "n_test"} <= set(df.columns) and df["n_test"].sum() > 0:
        out["overall"] = float(df["correct"].sum() / df["n_test"].sum())
    out["balanced"] = float(df["accuracy"].mean())
    for g in GROUPS:
        rows = df.loc[df["group"] == g, "accuracy"]
        if len(rows):
            out[g] = float(rows.mean())
    return out


def _as_summary(x: Mapping[str, float] | pd.DataFrame, what: str) -> dict[str, float]:
    if isinstance(x, pd.DataFrame):
        return group_summary(x)
    if not isinstance(x, Mapping):
        raise TypeError(f"{what} must be a dict metric -> accuracy or a per_class DataFrame, got {type(x).__name__}")
    out = {str(k): float(v) for k, v in x.items() if v is not None}
    unknown = sorted(set(out) - set(METRICS))
    if unknown:
        raise ValueError(f"{what} has unknown metric(s) {unknown}; use {list(METRICS)}")
    _check_fraction(pd.Series(list(out.values()), dtype=float), what)
    return out


@styled
def group_accuracy(pruned: Mapping[str, float] | pd.DataFrame,
                   dense: Mapping[str, float] | pd.DataFrame | None = None, *,
                   title: str | None = None) -> Figure:
    """Bars of many / medium / few / overall (and balanced) accuracy, dense next to pruned.

    Each argument is either a dict ``metric -> accuracy`` (e.g. ``ClassReport.by_group`` plus
    ``overall``) or a per-class table, summarised with :func:`group_summary`. Pruned bars are
    annotated with their value and, given ``dense``, the change in accuracy.

    Example:
        >>> fig = group_accuracy({"many": .95, "medium": .9, "few": .6, "overall": .9},
        ...                      dense={"many": .96, "medium": .93, "few": .8, "overall": .93})
    """
    p = _as_summary(pruned, "pruned")
    d = _as_summary(dense, "dense") if dense is not None else {}
    metrics = [m for m in METRICS if m in p or m in d]
    x = np.arange(len(metrics))
    fig, ax = new_figure(size="small")
    width = 0.38 if d else 0.6
    shift = width / 2 if d else 0.0
    if d:
        dv = [d.get(m, np.nan) for m in metrics]
        ax.bar(x - shift, dv, width=width, color=DENSE_COLOR, label="dense")
    pv = np.array([p.get(m, np.nan) for m in metrics])
    ax.bar(x + shift, pv, width=width, color=[METRIC_COLORS[m] for m in metrics], label="pruned")
    for i, m in enumerate(metrics):
        if np.isnan(pv[i]):
            continue
        text = f"{pv[i]:.3f}"
        if m in d:
            text += f"\n{pv[i] - d[m]:+.3f}"
        ax.annotate(text, (x[i] + shift, pv[i]), xytext=(0, 2), textcoords="offset points",
                    ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x)
    ax.set_xticklabels(metrics)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("accuracy")
    if d:
        fig.legend(handles=[Patch(color=DENSE_COLOR, label="dense"),
                            Patch(color=METRIC_COLORS["overall"], label="pruned (coloured by metric)")],
                   loc="outside lower center", ncols=2)
    ax.set_title(title or "Accuracy by long-tail group", loc="left")
    return fig



@styled
def accuracy_vs_sparsity(curves: pd.DataFrame, baselines: Mapping[str, float] | None = None,
                         current: float | Mapping[str, float] | None = None, *,
                         title: str | None = None, unit: str | None = None) -> Figure:
    """The trade-off plot: accuracy per metric as sparsity grows (docs/methods.md §1.6, view 1).

    Args:
        curves: long table with columns ``sparsity, metric, value`` where ``metric`` is one of
            overall / balanced / many / medium / few; optional ``criterion`` (one line style
            per criterion) and ``run`` (repeated seeds: the line is the mean and the band
            ± one standard deviation).
        baselines: dense accuracy per metric, drawn as dashed horizontal lines.
        current: the lab's operating point: a sparsity (points are read off the mean curves
            by linear interpolation) or a dict with ``"sparsity"`` and measured metric values.
        unit: what the sparsity counts, for the x label (``"weights"``, ``"filters"``); default
            read from a ``granularity`` column of ``curves`` when it holds one value, else weights.

    Example:
        >>> curves = pd.DataFrame({"sparsity": [0, .5, .9] * 2, "metric": ["overall"] * 3 + ["few"] * 3,
        ...                        "value": [.95, .94, .7, .8, .75, .3]})
        >>> fig = accuracy_vs_sparsity(curves, baselines={"overall": .95, "few": .8}, current=0.5)
    """
    import seaborn as sns  # imported here: `import labkit` must not need seaborn

    df = require_columns(curves, ("sparsity", "metric", "value"), "curves").copy()
    _check_fraction(df["sparsity"], "curves['sparsity']")
    df["metric"] = df["metric"].astype(str)
    order = [m for m in METRICS if m in set(df["metric"])]
    order += sorted(set(df["metric"]) - set(order))
    palette = {m: METRIC_COLORS.get(m, f"C{i}") for i, m in enumerate(order)}
    style = "criterion" if "criterion" in df.columns and df["criterion"].nunique() > 1 else None

    fig, ax = new_figure(size="curve")
    sns.lineplot(data=df, x="sparsity", y="value", hue="metric", hue_order=order, palette=palette,
                 style=style, errorbar="sd", marker="o", markersize=4, ax=ax)

    for m, v in (baselines or {}).items():
        ax.axhline(float(v), color=palette.get(m, METRIC_COLORS.get(m, "#333333")), ls="--", lw=1, alpha=0.7)
    handles, labels = ax.get_legend_handles_labels()
    if baselines:
        handles.append(Line2D([], [], color="#333333", ls="--", lw=1))
        labels.append("dense baseline")

    if current is not None:
        if isinstance(current, Mapping):
            if "sparsity" not in current:
                raise ValueError("current as a dict needs a 'sparsity' key plus metric values, "
                                 "e.g. {'sparsity': 0.5, 'overall': 0.91}")
            s = float(current["sparsity"])
            points = {m: float(v) for m, v in current.items() if m != "sparsity"}
        else:
            s = float(current)
            mean = df.groupby(["metric", "sparsity"])["value"].mean()
            points = {}
            for m in order:
                xs = mean.loc[m].index.to_numpy(dtype=float)
                if xs.min() <= s <= xs.max():  # never extrapolate a point we did not measure
                    points[m] = float(np.interp(s, xs, mean.loc[m].to_numpy(dtype=float)))
        ax.axvline(s, color="#555555", ls=":", lw=1)
        for m, v in points.items():
            ax.plot([s], [v], marker="D", ms=7, color=palette.get(m, "#333333"), mec="black", zorder=5)
        handles.append(Line2D([], [], color="#555555", ls=":", marker="D", mec="black", mfc="white"))
        labels.append(f"current (s={s:.2f})")

    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if unit is None:
        grans = set(df["granularity"]) if "granularity" in df.columns else set()
        unit = f"{grans.pop()}s" if len(grans) == 1 else "weights"
    ax.set_xlabel(f"sparsity (fraction of prunable {unit} removed)")
    ax.set_ylabel("accuracy")
    ax.set_title(title or "Accuracy vs sparsity", loc="left")
    return fig
