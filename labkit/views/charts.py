"""Client-side charts (Vega-Lite through Altair) for the live lab.

The matplotlib views in this package draw a PNG in Python: a few hundred milliseconds per figure
on a laptop CPU, most of it rasterising text. A slider step that redraws five of them keeps the
page busy for seconds. These charts hand the browser a small JSON spec (data + encoding) instead,
built in about a millisecond, and the browser draws it with Vega; the same specs render in marimo,
in JupyterLab and in an exported page. The static report keeps the matplotlib views (a PNG is what
a reader can be handed).

Every chart here is a pure function of the numbers it shows, and the numbers ride along in
``chart.data`` (a DataFrame), so a test can read back exactly what a person sees.

Example:
    >>> import pandas as pd
    >>> pc = pd.DataFrame({"class": [0, 1], "name": ["a", "b"], "n_train": [50, 5], "n_test": [10, 10],
    ...                    "correct": [9, 4], "accuracy": [0.9, 0.4], "group": ["many", "few"],
    ...                    "ci_low": [0.6, 0.2], "ci_high": [1.0, 0.7]})
    >>> ch = per_class_chart(pc)
    >>> list(ch.data["accuracy"])
    [0.9, 0.4]
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ._style import DENSE_COLOR, GROUP_COLORS, GROUPS, METRIC_COLORS, require_columns, short_layer

__all__ = ["per_class_chart", "group_chart", "profile_chart", "curve_chart", "cost_chart", "live", "LiveChart",
           "MAX_CLASS_BARS"]

MAX_CLASS_BARS = 100
"""Above this many classes the per-class chart bins neighbouring classes (by training count)."""

_GROUP_SCALE: dict[str, Any] = {"domain": list(GROUPS), "range": [GROUP_COLORS[g] for g in GROUPS]}


def _alt() -> Any:
    try:
        import altair as alt
    except ImportError as e:  # pragma: no cover - the lab extra installs it
        raise ImportError("the live charts need Altair: pip install 'labkit[lab]' (or pip install altair)") from e
    return alt


class LiveChart:
    """An Altair chart that displays without schema validation (marimo and Jupyter).

    Altair checks a spec against the Vega-Lite JSON schema every time it is shown, and marimo
    asks for it twice: about 100 ms of CPU per chart, per slider step. The specs built here are
    checked once, in the tests (``chart.to_dict()`` validates), so the live page skips it.
    ``chart`` and ``data`` stay reachable for tests and for ``mo.ui.altair_chart``.
    """

    def __init__(self, chart: Any) -> None:
        self.chart = chart

    @property
    def data(self) -> Any:
        return self.chart.data

    def spec(self) -> dict[str, Any]:
        """The Vega-Lite spec, data inlined."""
        return self.chart.to_dict(validate=False)

    def _mimetype(self) -> str:
        alt = _alt()
        return f"application/vnd.vegalite.v{alt.SCHEMA_VERSION.lstrip('v').split('.')[0]}+json"

    def _mime_(self) -> tuple[str, str]:  # marimo
        return self._mimetype(), json.dumps(self.spec())

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:  # Jupyter
        return {self._mimetype(): self.spec()}


def live(chart: Any) -> LiveChart:
    """Wrap an Altair chart for fast display (see :class:`LiveChart`)."""
    return chart if isinstance(chart, LiveChart) else LiveChart(chart)


def per_class_chart(per_class: pd.DataFrame, dense: pd.DataFrame | None = None, *, width: int = 620,
                    height: int = 220) -> Any:
    """Per-class accuracy, head classes left and tail classes right, coloured by group.

    One bar per class (sorted by training count, descending); the tooltip holds the dense
    accuracy, the change, the 95 % interval and the counts. With more than
    :data:`MAX_CLASS_BARS` classes, neighbouring classes (in that order) are pooled into
    ``MAX_CLASS_BARS`` bins, each bar the mean accuracy of its classes, named by its first and
    last class. The chart is single-layer so that ``mo.ui.altair_chart`` can select a class by click.
    """
    alt = _alt()
    pc = require_columns(per_class, ["class", "name", "n_train", "accuracy", "group"], "per_class")
    df = pc.sort_values(["n_train", "class"], ascending=[False, True]).reset_index(drop=True)
    if dense is not None:
        d = require_columns(dense, ["class", "accuracy"], "dense").set_index("class")["accuracy"]
        df["dense"] = df["class"].map(d).astype(float)
        df["change"] = df["accuracy"] - df["dense"]
    df["rank"] = np.arange(len(df))
    if len(df) > MAX_CLASS_BARS:
        df["bin"] = df["rank"] * MAX_CLASS_BARS // len(df)
        agg = {"accuracy": "mean", "n_train": "sum", "class": "first", "group": lambda g: g.mode().iat[0]}
        if "dense" in df:
            agg.update(dense="mean", change="mean")
        names = df.groupby("bin")["name"].agg(lambda s: f"{s.iat[0]} … {s.iat[-1]} ({len(s)})")
        df = df.groupby("bin").agg(agg).reset_index(drop=False)
        df["name"] = names.values
        df["rank"] = df["bin"]
    tooltip = [alt.Tooltip("name:N", title="class"), alt.Tooltip("group:N"),
               alt.Tooltip("accuracy:Q", format=".3f"), alt.Tooltip("n_train:Q", title="training images")]
    if "dense" in df:
        tooltip += [alt.Tooltip("dense:Q", format=".3f"), alt.Tooltip("change:Q", format="+.3f")]
    if "ci_low" in df:
        tooltip += [alt.Tooltip("ci_low:Q", format=".3f", title="95% low"),
                    alt.Tooltip("ci_high:Q", format=".3f", title="95% high")]
    keep = [c for c in ("class", "name", "rank", "accuracy", "dense", "change", "group", "n_train",
                        "ci_low", "ci_high") if c in df]
    return (alt.Chart(df[keep], width=width, height=height)
            .mark_bar()
            .encode(x=alt.X("name:N", sort=alt.SortField("rank"), title="class (most training images left)",
                            axis=alt.Axis(labelAngle=0 if len(df) <= 20 else -60, labelLimit=80)),
                    y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1]), title="test accuracy"),
                    color=alt.Color("group:N", scale=alt.Scale(**_GROUP_SCALE), title="group"),
                    tooltip=tooltip))


def group_chart(pruned: Mapping[str, float], dense: Mapping[str, float], *, width: int = 220,
                height: int = 200) -> Any:
    """Overall and many / medium / few accuracy, pruned next to dense (grey)."""
    alt = _alt()
    keys = [k for k in ("overall", *GROUPS) if k in pruned]
    df = pd.DataFrame([{"metric": k, "model": m, "accuracy": float(src[k])}
                       for k in keys for m, src in (("dense", dense), ("pruned", pruned)) if k in src])
    return (alt.Chart(df, width=width, height=height)
            .mark_bar()
            .encode(x=alt.X("metric:N", sort=keys, title=None, axis=alt.Axis(labelAngle=0)),
                    xOffset=alt.XOffset("model:N", sort=["dense", "pruned"]),
                    y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1]), title="accuracy"),
                    color=alt.Color("model:N", scale=alt.Scale(domain=["dense", "pruned"],
                                                               range=[DENSE_COLOR, METRIC_COLORS["balanced"]])),
                    tooltip=["metric", "model", alt.Tooltip("accuracy:Q", format=".3f")]))


def profile_chart(layers: pd.DataFrame, target: float | Mapping[str, float] | None = None, *,
                  width: int = 420, height: int = 200) -> Any:
    """Sparsity per prunable layer (input to output), with the target drawn as asked.

    ``target``: one number (a global target: a horizontal rule) or ``{layer: sparsity}`` (the
    per-layer sliders: one tick per layer). ``None`` draws no target.
    """
    alt = _alt()
    df = require_columns(layers, ["layer", "sparsity"], "layers").copy()
    df["short"] = df["layer"].map(short_layer)
    df["order"] = np.arange(len(df))
    x = alt.X("short:N", sort=alt.SortField("order"), title=None, axis=alt.Axis(labelAngle=-60, labelLimit=120))
    bars = (alt.Chart(df, width=width, height=height).mark_bar(color=METRIC_COLORS["balanced"])
            .encode(x=x, y=alt.Y("sparsity:Q", scale=alt.Scale(domain=[0, 1]), title="sparsity"),
                    tooltip=["layer", alt.Tooltip("sparsity:Q", format=".3f")]))
    if target is None:
        return bars
    if isinstance(target, Mapping):
        df["target"] = df["layer"].map(lambda n: float(target.get(n, np.nan)))
        marks = (alt.Chart(df).mark_tick(color="black", thickness=2)
                 .encode(x=x, y="target:Q", tooltip=["layer", alt.Tooltip("target:Q", format=".2f")]))
    else:
        marks = (alt.Chart(pd.DataFrame({"target": [float(target)]})).mark_rule(strokeDash=[4, 3], color="black")
                 .encode(y="target:Q"))
    return alt.layer(bars, marks)


def curve_chart(curves: pd.DataFrame | None, baselines: Mapping[str, float] | None = None,
                current: Mapping[str, float] | None = None, *, metrics: tuple[str, ...] = ("balanced", "few"),
                random: pd.DataFrame | None = None, width: int = 420, height: int = 220) -> Any:
    """Accuracy vs sparsity: measured curves, dense levels (dashed), a random baseline, and now.

    Args:
        curves: long format ``sparsity, metric, value`` (:meth:`labkit.Lab.sweep`); may be ``None``
            (per-layer mode, where no single global sparsity exists): only ``current`` is drawn.
        baselines: dense accuracy by metric (dashed rules).
        current: ``{"sparsity": s, metric: value, ...}`` *measured* for the current trial (a point,
            never read off the curve).
        random: the same sweep with the random criterion (thin dotted lines).
    """
    alt = _alt()
    colors = alt.Scale(domain=list(metrics), range=[METRIC_COLORS[m] for m in metrics])
    layers = []
    if curves is not None:
        df = require_columns(curves, ["sparsity", "metric", "value"], "curves")
        df = df[df["metric"].isin(metrics)]
        layers.append(alt.Chart(df).mark_line(point=True).encode(
            x=alt.X("sparsity:Q", scale=alt.Scale(domain=[0, 1]), title="sparsity"),
            y=alt.Y("value:Q", scale=alt.Scale(domain=[0, 1]), title="accuracy"),
            color=alt.Color("metric:N", scale=colors),
            tooltip=["metric", alt.Tooltip("sparsity:Q", format=".2f"), alt.Tooltip("value:Q", format=".3f")]))
    if random is not None:
        r = random[random["metric"].isin(metrics)].assign(baseline="random")
        layers.append(alt.Chart(r).mark_line(strokeDash=[2, 2], strokeWidth=1).encode(
            x="sparsity:Q", y="value:Q", color=alt.Color("metric:N", scale=colors), detail="baseline:N",
            tooltip=["baseline", "metric", alt.Tooltip("sparsity:Q", format=".2f"),
                     alt.Tooltip("value:Q", format=".3f")]))
    if baselines:
        b = pd.DataFrame([{"metric": m, "value": float(baselines[m])} for m in metrics if m in baselines])
        layers.append(alt.Chart(b).mark_rule(strokeDash=[6, 4]).encode(
            y="value:Q", color=alt.Color("metric:N", scale=colors),
            tooltip=["metric", alt.Tooltip("value:Q", format=".3f", title="dense")]))
    if current:
        c = pd.DataFrame([{"metric": m, "sparsity": float(current["sparsity"]), "value": float(current[m])}
                          for m in metrics if m in current])
        layers.append(alt.Chart(c).mark_point(shape="diamond", size=140, filled=True, stroke="black").encode(
            x=alt.X("sparsity:Q", scale=alt.Scale(domain=[0, 1])), y=alt.Y("value:Q", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("metric:N", scale=colors),
            tooltip=["metric", alt.Tooltip("sparsity:Q", format=".3f", title="now"),
                     alt.Tooltip("value:Q", format=".3f")]))
    if not layers:
        raise ValueError("nothing to draw: pass curves, baselines or current")
    return alt.layer(*layers).properties(width=width, height=height)


def cost_chart(dense: Mapping[str, float], pruned: Mapping[str, float], *, width: int = 260,
               height: int = 160) -> Any:
    """Nonzero parameters and MACs of the pruned model as a share of the dense model's."""
    alt = _alt()
    rows = []
    for what, total, nz in (("parameters", "params", "nonzero_params"), ("MACs", "MACs", "nonzero_MACs")):
        d = float(dense[total])
        rows.append({"what": what, "share of dense": float(pruned[nz]) / d if d else float("nan"),
                     "nonzero": f"{float(pruned[nz]):,.0f}", "dense": f"{d:,.0f}"})
    df = pd.DataFrame(rows)
    return (alt.Chart(df, width=width, height=height).mark_bar(color=METRIC_COLORS["balanced"])
            .encode(y=alt.Y("what:N", title=None), x=alt.X("share of dense:Q", scale=alt.Scale(domain=[0, 1]),
                                                             axis=alt.Axis(format="%")),
                    tooltip=["what", alt.Tooltip("share of dense:Q", format=".1%"), "nonzero", "dense"]))
