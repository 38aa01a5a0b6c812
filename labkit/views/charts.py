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


SVG = {"usermeta": {"embedOptions": {"renderer": "svg", "actions": False}}}
"""Ask vega-embed for SVG: each mark becomes an element with an aria label (what a screen reader,
a click and a browser test can find), and a few hundred marks draw just as fast. (Set in the
constructors: ``chart.properties(...)`` deep-copies the whole chart.)"""


def _alt() -> Any:
    try:
        import altair as alt
    except ImportError as e:  # pragma: no cover - the lab extra installs it
        raise ImportError("the live charts need Altair: pip install 'labkit[lab]' (or pip install altair)") from e
    return alt


def _chart(data: pd.DataFrame, mark: str | dict[str, Any], encoding: dict[str, Any], **props: Any) -> Any:
    """An Altair chart whose mark and encoding are plain Vega-Lite JSON.

    Altair's helpers (``alt.X(...)``, ``.encode(...)``) look every argument up in the Vega-Lite
    schema as they are called: 50-200 ms per chart on a laptop CPU, on every slider step. The
    same chart written as the JSON it compiles to costs about a millisecond, reads like the
    Vega-Lite documentation, and is still an Altair chart (``.data``, ``.to_dict()`` validation in
    the tests, ``mo.ui.altair_chart``).
    """
    alt = _alt()
    return alt.Chart(data, mark=mark if isinstance(mark, dict) else {"type": mark},
                     encoding=alt.FacetedEncoding(**encoding), **props)


def _f(field: str, kind: str = "quantitative", **kw: Any) -> dict[str, Any]:
    """One Vega-Lite field definition: ``_f("accuracy", format=".3f")``."""
    return {"field": field, "type": kind, **kw}


def _n(field: str, **kw: Any) -> dict[str, Any]:
    return _f(field, "nominal", **kw)


UNIT = {"domain": [0, 1]}
"""The scale of accuracies and sparsities."""


_REGISTERED = False


def _inline_values(data: Any) -> Any:
    """Altair data transformer for the live page: a DataFrame becomes ``{"values": records}``.

    Altair's default transformer sanitises every column through pandas (about 50 ms for the four
    small tables of the accuracy curve on a laptop CPU). The live tables are small and plain, so
    records from ``DataFrame.to_dict`` (native Python numbers) with NaN as null are exact and
    take well under a millisecond. Anything else goes to Altair's default.
    """
    if isinstance(data, pd.DataFrame):
        return {"values": [{k: None if isinstance(v, float) and v != v else v for k, v in row.items()}
                           for row in data.to_dict("records")]}
    from altair.vegalite.data import default_data_transformer

    return default_data_transformer(data)


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
        """The Vega-Lite spec, data inlined (through :func:`_inline_values`, not Altair's sanitiser)."""
        alt = _alt()
        global _REGISTERED
        if not _REGISTERED:  # (asking the registry for its names scans every installed package: slow)
            alt.data_transformers.register("labkit_inline", _inline_values)
            _REGISTERED = True
        with alt.data_transformers.enable("labkit_inline"):
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
    last class. The chart is single-layer and carries a point selection on ``class`` (``pick_class``),
    so ``mo.ui.altair_chart(chart).value`` is the clicked class's row.
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
    tooltip = [_n("name", title="class"), _n("group"), _f("accuracy", format=".3f"),
               _f("n_train", title="training images")]
    if "dense" in df:
        tooltip += [_f("dense", format=".3f"), _f("change", format="+.3f")]
    if "ci_low" in df:
        tooltip += [_f("ci_low", format=".3f", title="95% low"), _f("ci_high", format=".3f", title="95% high")]
    keep = [c for c in ("class", "name", "rank", "accuracy", "dense", "change", "group", "n_train",
                        "ci_low", "ci_high") if c in df]
    pick = alt.selection_point(fields=["class"], name="pick_class")  # a click selects one class
    encoding = {
        "x": _n("name", sort={"field": "rank"}, title=f"{len(df)} {'bins of classes' if 'bin' in df else 'classes'}"
                f" (most training images left{'' if len(df) <= 40 else '; hover a bar for its name'})",
                # more than 40 names cannot be read under one chart: the tooltip names each bar
                axis={"labelAngle": 0 if len(df) <= 20 else -60, "labelLimit": 80, "labels": len(df) <= 40,
                      "ticks": len(df) <= 40}),
        "y": _f("accuracy", scale=UNIT, title="test accuracy"),
        "color": _n("group", scale=_GROUP_SCALE, title="group"),
        "opacity": {"condition": {"param": "pick_class", "value": 1.0}, "value": 0.45},
        "tooltip": tooltip}
    return _chart(df[keep], "bar", encoding, params=[pick.param], width=width, height=height, **SVG)


def group_chart(pruned: Mapping[str, float], dense: Mapping[str, float], *, width: int = 220,
                height: int = 200) -> Any:
    """Overall and many / medium / few accuracy, pruned next to dense (grey)."""
    keys = [k for k in ("overall", *GROUPS) if k in pruned]
    df = pd.DataFrame([{"metric": k, "model": m, "accuracy": float(src[k])}
                       for k in keys for m, src in (("dense", dense), ("pruned", pruned)) if k in src])
    colors = {"domain": ["dense", "pruned"], "range": [DENSE_COLOR, METRIC_COLORS["balanced"]]}
    return _chart(df, "bar", {
        "x": _n("metric", sort=keys, title=None, axis={"labelAngle": 0}),
        "xOffset": _n("model", sort=["dense", "pruned"]),
        "y": _f("accuracy", scale=UNIT, title="accuracy"),
        "color": _n("model", scale=colors),
        "tooltip": [_n("metric"), _n("model"), _f("accuracy", format=".3f")]}, width=width, height=height, **SVG)


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
    x = _n("short", sort={"field": "order"}, title=None, axis={"labelAngle": -60, "labelLimit": 120})
    bar = {"type": "bar", "color": METRIC_COLORS["balanced"]}
    encoding = {"x": x, "y": _f("sparsity", scale=UNIT, title="sparsity"),
                "tooltip": [_n("layer"), _f("sparsity", format=".3f")]}
    if target is None:
        return _chart(df, bar, encoding, width=width, height=height, **SVG)
    bars = _chart(df, bar, encoding)
    if isinstance(target, Mapping):
        df["target"] = df["layer"].map(lambda n: float(target.get(n, np.nan)))
        marks = _chart(df, {"type": "tick", "color": "black", "thickness": 2},
                       {"x": x, "y": _f("target"), "tooltip": [_n("layer"), _f("target", format=".2f")]})
    else:
        marks = _chart(pd.DataFrame({"target": [float(target)]}),
                       {"type": "rule", "strokeDash": [4, 3], "color": "black"}, {"y": _f("target")})
    return alt.LayerChart(layer=[bars, marks], width=width, height=height, **SVG)


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
    color = _n("metric", scale={"domain": list(metrics), "range": [METRIC_COLORS[m] for m in metrics]})
    x, y = _f("sparsity", scale=UNIT, title="sparsity"), _f("value", scale=UNIT, title="accuracy")
    layers = []
    if curves is not None:
        df = require_columns(curves, ["sparsity", "metric", "value"], "curves")
        df = df[df["metric"].isin(metrics)]
        layers.append(_chart(df, {"type": "line", "point": True}, {
            "x": x, "y": y, "color": color,
            "tooltip": [_n("metric"), _f("sparsity", format=".2f"), _f("value", format=".3f")]}))
    if random is not None:
        r = random[random["metric"].isin(metrics)].assign(baseline="random")
        layers.append(_chart(r, {"type": "line", "strokeDash": [2, 2], "strokeWidth": 1}, {
            "x": x, "y": y, "color": color, "detail": _n("baseline"),
            "tooltip": [_n("baseline"), _n("metric"), _f("sparsity", format=".2f"), _f("value", format=".3f")]}))
    if baselines:
        b = pd.DataFrame([{"metric": m, "value": float(baselines[m])} for m in metrics if m in baselines])
        layers.append(_chart(b, {"type": "rule", "strokeDash": [6, 4]}, {
            "y": y, "color": color, "tooltip": [_n("metric"), _f("value", format=".3f", title="dense")]}))
    if current:
        c = pd.DataFrame([{"metric": m, "sparsity": float(current["sparsity"]), "value": float(current[m])}
                          for m in metrics if m in current])
        layers.append(_chart(c, {"type": "point", "shape": "diamond", "size": 140, "filled": True, "stroke": "black"}, {
            "x": x, "y": y, "color": color,
            "tooltip": [_n("metric"), _f("sparsity", format=".3f", title="now"), _f("value", format=".3f")]}))
    if not layers:
        raise ValueError("nothing to draw: pass curves, baselines or current")
    return alt.LayerChart(layer=layers, width=width, height=height, **SVG)


def cost_chart(dense: Mapping[str, float], pruned: Mapping[str, float], *, width: int = 260,
               height: int = 160) -> Any:
    """Nonzero parameters and MACs of the pruned model as a share of the dense model's."""
    rows = []
    for what, total, nz in (("parameters", "params", "nonzero_params"), ("MACs", "MACs", "nonzero_MACs")):
        d = float(dense[total])
        rows.append({"what": what, "share of dense": float(pruned[nz]) / d if d else float("nan"),
                     "nonzero": f"{float(pruned[nz]):,.0f}", "dense": f"{d:,.0f}"})
    return _chart(pd.DataFrame(rows), {"type": "bar", "color": METRIC_COLORS["balanced"]}, {
        "y": _n("what", title=None), "x": _f("share of dense", scale=UNIT, axis={"format": "%"}),
        "tooltip": [_n("what"), _f("share of dense", format=".1%"), _n("nonzero"), _n("dense")]},
        width=width, height=height, **SVG)
