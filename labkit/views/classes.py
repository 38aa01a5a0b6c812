"""Per-class views that still read at 100 and 1,000 classes.

One bar per class stops being readable somewhere past fifty classes: the names vanish and the
class that lost thirty points is one sliver among a thousand. These views answer the questions a
bar chart answers at ten classes, at any count:

- :func:`class_table`: every class as a row (name, group, counts, accuracy, dense, change and the
  95 % interval), worst change first; marimo's ``mo.ui.table`` and Jupyter sort and page it;
- :func:`worst_classes_chart`: the ``k`` classes that lost most (or score lowest), *named*, with
  their intervals in the tooltip;
- :func:`class_spread_chart`: one tick per class on an accuracy (or change) axis, one row per
  many / medium / few group, with each group's mean: the shape of a thousand classes at a glance.

Like :mod:`labkit.views.charts`, every chart is a pure function of the numbers it shows and carries
them in ``chart.data``, so a test reads back exactly what a person sees.

Example:
    >>> import pandas as pd
    >>> pc = pd.DataFrame({"class": [0, 1, 2], "name": ["a", "b", "c"], "n_train": [50, 9, 5],
    ...                    "n_test": [10, 10, 10], "accuracy": [0.9, 0.4, 0.7], "group": ["many", "few", "few"]})
    >>> dense = pc.assign(accuracy=[0.9, 0.8, 0.7])
    >>> class_table(pc, dense)["name"].tolist()
    ['b', 'a', 'c']
    >>> worst_classes_chart(pc, dense, k=1).data["name"].tolist()
    ['b']
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._style import GROUP_COLORS, GROUPS, require_columns
from .charts import SVG, UNIT, _alt, _chart, _f, _n

__all__ = ["class_spread_chart", "class_table", "worst_classes_chart"]

_GROUP_SCALE: dict[str, Any] = {"domain": list(GROUPS), "range": [GROUP_COLORS[g] for g in GROUPS]}


def class_table(per_class: pd.DataFrame, dense: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per class, worst first: by ``change`` (pruned − dense) if ``dense`` is given, else accuracy.

    Columns ``class, name, group, [n_train,] [n_test,] accuracy, [dense, change,] [ci_low, ci_high]``;
    ties broken by class index, so the order is stable.
    """
    pc = require_columns(per_class, ["class", "name", "accuracy", "group"], "per_class")
    cols = [c for c in ("class", "name", "group", "n_train", "n_test", "accuracy") if c in pc]
    df = pc[cols].copy()
    if dense is not None:
        d = require_columns(dense, ["class", "accuracy"], "dense").set_index("class")["accuracy"]
        df["dense"] = df["class"].map(d).astype(float)
        df["change"] = df["accuracy"] - df["dense"]
    for c in ("ci_low", "ci_high"):
        if c in pc:
            df[c] = pc[c].to_numpy()
    key = "change" if "change" in df else "accuracy"
    return df.sort_values([key, "class"], na_position="last", kind="stable").reset_index(drop=True)


def worst_classes_chart(per_class: pd.DataFrame, dense: pd.DataFrame | None = None, *, k: int = 10,
                        width: int = 360, height: int | None = None) -> Any:
    """The ``k`` classes that lost most to pruning (or, without ``dense``, score lowest), named.

    Horizontal bars, worst on top, coloured by group; the bar is the change (or the accuracy) and
    the tooltip holds accuracy, dense accuracy, interval and counts. Carries the same ``class``
    point selection as :func:`labkit.views.charts.per_class_chart` (``pick_class``).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    alt = _alt()
    df = class_table(per_class, dense).dropna(subset=["change" if dense is not None else "accuracy"]).head(k)
    df = df.assign(rank=np.arange(len(df)))
    value = "change" if dense is not None else "accuracy"
    tooltip = [_n("name", title="class"), _n("group"), _f("accuracy", format=".3f")]
    extra = (("dense", ".3f"), ("change", "+.3f"), ("ci_low", ".3f"), ("ci_high", ".3f"), ("n_train", "d"),
             ("n_test", "d"))
    tooltip += [_f(c, format=f) for c, f in extra if c in df]
    x = (_f("change", title="accuracy change vs dense", axis={"format": "+.0%"})
         if value == "change" else _f("accuracy", scale=UNIT, title="test accuracy"))
    pick = alt.selection_point(fields=["class"], name="pick_class")
    title = f"the {len(df)} classes that lost most" if value == "change" else f"the {len(df)} lowest classes"
    return _chart(df, "bar", {
        "y": _n("name", sort={"field": "rank"}, title=None, axis={"labelLimit": 160}), "x": x,
        "color": _n("group", scale=_GROUP_SCALE, title="group"),
        "opacity": {"condition": {"param": "pick_class", "value": 1.0}, "value": 0.45}, "tooltip": tooltip},
        params=[pick.param], width=width, height=height or 18 * max(len(df), 1) + 10, title=title, **SVG)


def class_spread_chart(per_class: pd.DataFrame, dense: pd.DataFrame | None = None, *, width: int = 420,
                       height: int = 150) -> Any:
    """Every class as one tick on an accuracy (or, with ``dense``, change) axis, one row per group.

    A thousand ticks stay readable where a thousand bars do not; the tooltip names each class.
    ``chart.data`` has one row per class (``class, name, group, value`` and the table's columns).
    """
    alt = _alt()
    df = class_table(per_class, dense)
    value = "change" if dense is not None else "accuracy"
    df = df.assign(value=df[value], group=df["group"].fillna("none"))
    x = (_f("value", title="accuracy change vs dense", axis={"format": "+.0%"}) if value == "change"
         else _f("value", scale=UNIT, title="test accuracy"))
    order = [g for g in GROUPS if g in set(df["group"])] + sorted(set(df["group"]) - set(GROUPS))
    tooltip = [_n("name", title="class"), _n("group"), _f("value", format=".3f", title=value)]
    pick = alt.selection_point(fields=["class"], name="pick_class")
    mark = {"type": "tick", "thickness": 1.5, "size": max(6, height // (len(order) + 1) - 6)}
    return _chart(df, mark, {
        "x": x, "y": _n("group", sort=order, title=None), "color": _n("group", scale=_GROUP_SCALE, legend=None),
        "opacity": {"condition": {"param": "pick_class", "value": 0.9}, "value": 0.35}, "tooltip": tooltip},
        params=[pick.param], width=width, height=height, **SVG)
