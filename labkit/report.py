"""Static HTML reports: what a pruning did, at several operating points, in one file a reader can be handed.

The report follows the rigor checklist of Blalock et al. 2020 ("What is the state of neural
network pruning?", arXiv 2003.03033) as far as a one-shot sweep can: several operating points
(not one number), parameters and MACs next to accuracy, accuracy as absolute values *and* as
change from the same dense model, a random baseline drawn in the same plot, the per-class and
many / medium / few tables (with 95 % intervals) that long-tailed data needs, and the exact
plan, seed and library versions. It opens with a summary in words.

The file is self-contained: figures are PNG ``data:`` URLs, the style is inline, there is no
script, so it opens offline in any browser and can be mailed as is.

Example:
    >>> write_report("report.html", sparsities=[0.3, 0.5, 0.7])   # doctest: +SKIP
"""
from __future__ import annotations

import base64
import html
import io
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from .analysis.evaluate import ClassReport
from .io import atomic_write
from .lab import Lab, Trial
from .runtime import versions

__all__ = ["write_report", "render_report", "fmt_count", "fmt_macs", "fmt_acc", "fmt_delta"]

SECTIONS = ("summary", "cost", "accuracy", "curve", "per-class", "profile", "verdicts", "plan")

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;font-size:0.88em;margin:0.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;vertical-align:top}
td:first-child,th:first-child{text-align:left}
th{background:#f3f3f3} code,pre{background:#f6f6f6;padding:2px 4px}
pre{white-space:pre-wrap} img{max-width:100%;border:1px solid #eee;margin:0.5em 0}
.summary{background:#f7f9fc;border-left:4px solid #4a78c2;padding:0.6em 1em}
.many{background:#eef5ee}.medium{background:#fbf8ec}.few{background:#fbeeee}
table.text td{text-align:left}
tr.PASS td:last-child{color:#1b6e2a;font-weight:600}tr.FAIL td:last-child{color:#a11;font-weight:600}
figure{margin:0 0 1.5em} figcaption{font-size:0.9em;color:#555}
"""


# -- number formatting: what a reader sees, never a raw float ---------------------------------
def fmt_count(n: float) -> str:
    """A count with thousands separators: ``272186 -> "272,186"``."""
    return f"{int(round(n)):,}"


def fmt_macs(n: float) -> str:
    """Multiply-accumulates with a unit: ``9341360 -> "9.34 M"``, ``5120 -> "5.12 k"``."""
    for scale, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{int(n)}"


def fmt_acc(v: float | None) -> str:
    """An accuracy in [0, 1] to 3 decimals; NaN (a group with no class) as an em dash."""
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def fmt_delta(v: float | None) -> str:
    """A signed change to 3 decimals: ``-0.0312 -> "−0.031"`` (a real minus sign)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return f"{v:+.3f}".replace("-", "−")


def _interval(v: float, ci: tuple[float, float] | None) -> str:
    if ci is None or any(math.isnan(x) for x in ci):
        return fmt_acc(v)
    return f"{fmt_acc(v)} [{ci[0]:.3f}, {ci[1]:.3f}]"


def _pct(s: float) -> str:
    return f"{100 * s:.0f} %" if abs(100 * s - round(100 * s)) < 1e-6 else f"{100 * s:.1f} %"


# -- the measured operating points --------------------------------------------------------------
@dataclass
class _Point:
    criterion: str
    target: float
    trial: Trial
    report: ClassReport

    @property
    def sparsity(self) -> float:
        return self.trial.masks.sparsity


def _measure(lab: Lab, criteria: Sequence[str], sparsities: Sequence[float], mode: str, granularity: str,
             progress: bool) -> list[_Point]:
    from tqdm.auto import tqdm

    points = []
    jobs = [(c, s) for c in criteria for s in sparsities]
    for c, s in tqdm(jobs, desc="labkit report", unit="point", disable=not progress):
        t = lab.prune(c, s, mode, granularity)
        points.append(_Point(c, float(s), t, lab.full_report(t, progress=False) if lab.preview else t.report))
    return points


def _png(fig: Figure, alt: str) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _figure(fig: Figure, caption: str) -> str:
    return f"<figure>{_png(fig, caption)}<figcaption>{html.escape(caption)}</figcaption></figure>"


def _table(df: pd.DataFrame, row_class: str | None = None, css_class: str = "") -> str:
    """HTML table of already formatted strings; ``row_class`` names a column whose value classes each row
    (columns whose name starts with ``_`` are not shown)."""
    shown = [c for c in df.columns if not str(c).startswith("_")]  # "_name" columns only classify rows
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown)
    rows = []
    for _, r in df.iterrows():
        cls = f' class="{html.escape(str(r[row_class]))}"' if row_class and isinstance(r[row_class], str) else ""
        cells = "".join(f"<td>{html.escape(str(r[c]))}</td>" for c in shown)
        rows.append(f"<tr{cls}>{cells}</tr>")
    return f"<table class='{css_class}'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


# -- sections -------------------------------------------------------------------------------------
def _summary(lab: Lab, points: Sequence[_Point], criterion: str, mode: str, granularity: str) -> str:
    d, dc = lab.dense_report, lab.dense_cost
    data = lab.data
    groups = ", ".join(f"{g} {len(v)}" for g, v in data.groups.items() if v)
    unit = "filters" if granularity == "filter" else "weights"
    lines = [
        f"<p><b>Model</b> {html.escape(lab.model_name)}: {fmt_count(dc['params'])} parameters, "
        f"{fmt_macs(dc['MACs'])} MACs per image. <b>Data</b> {html.escape(data.name)}: {data.num_classes} classes "
        f"({groups} in the many / medium / few groups), {fmt_count(len(data.train))} training and "
        f"{fmt_count(len(data.test))} test images.</p>",
        f"<p><b>Dense accuracy</b> (test split): overall {fmt_acc(d.overall)}, balanced {fmt_acc(d.balanced)}; "
        + ", ".join(f"{g} {fmt_acc(v)}" for g, v in d.by_group.items()) + ".</p>",
        f"<p><b>Operating points</b>: {html.escape(criterion)} pruning of {unit}, {html.escape(mode)} allocation, "
        "one-shot (no fine-tuning).</p><ul>",
    ]
    others = [p for p in points if p.criterion != criterion]
    for p in (p for p in points if p.criterion == criterion):
        c, r = p.trial.cost, p.report
        few = r.by_group.get("few", float("nan"))
        delta = r.per_class["accuracy"].to_numpy() - d.per_class["accuracy"].to_numpy()
        worst = int(delta.argmin())
        wrow = r.per_class.iloc[worst]
        text = (f"At {_pct(p.sparsity)} of prunable {unit} removed: {fmt_count(c['nonzero_params'])} of "
                f"{fmt_count(c['params'])} parameters remain, {fmt_macs(c['nonzero_MACs'])} of "
                f"{fmt_macs(c['MACs'])} MACs. Balanced accuracy {fmt_acc(d.balanced)} → {fmt_acc(r.balanced)} "
                f"({fmt_delta(r.balanced - d.balanced)})")
        if not math.isnan(few):
            text += f", few-shot classes {fmt_acc(d.by_group['few'])} → {fmt_acc(few)} ({fmt_delta(few - d.by_group['few'])})"
        text += (f"; the class that loses most is {html.escape(str(wrow['name']))} "
                 f"({html.escape(str(wrow['group']))}, {fmt_delta(float(delta[worst]))}).")
        for o in others:
            if abs(o.target - p.target) < 1e-9:
                text += (f" Baseline {html.escape(o.criterion)} pruning at the same sparsity: balanced "
                         f"{fmt_acc(o.report.balanced)} ({fmt_delta(o.report.balanced - d.balanced)}).")
        lines.append(f"<li>{text}</li>")
    lines.append("</ul>")
    if lab.preview:
        lines.append("<p>Every number below is on the whole test split.</p>")
    return "<div class='summary'>" + "".join(lines) + "</div>"


def _cost_table(lab: Lab, points: Sequence[_Point]) -> pd.DataFrame:
    dc = lab.dense_cost
    rows = [{"model": "dense", "sparsity": "0 %", "nonzero params": fmt_count(dc["params"]),
             "compression": "1.00×", "nonzero MACs": fmt_macs(dc["MACs"]), "MACs vs dense": "1.000×"}]
    for p in points:
        c = p.trial.cost
        rows.append({"model": f"{p.criterion} @ {_pct(p.target)}", "sparsity": _pct(p.sparsity),
                     "nonzero params": fmt_count(c["nonzero_params"]),
                     "compression": f"{c['params'] / max(c['nonzero_params'], 1):.2f}×",
                     "nonzero MACs": fmt_macs(c["nonzero_MACs"]),
                     "MACs vs dense": f"{c['nonzero_MACs'] / c['MACs']:.3f}×"})
    return pd.DataFrame(rows)


def _accuracy_table(lab: Lab, points: Sequence[_Point]) -> pd.DataFrame:
    def row(name: str, r: ClassReport) -> dict[str, str]:
        out = {"model": name, "overall": _interval(r.overall, r.ci.get("overall")),
               "balanced": _interval(r.balanced, r.ci.get("balanced"))}
        out.update({g: _interval(v, r.ci.get(g)) for g, v in r.by_group.items()})
        out["Δ balanced"] = fmt_delta(r.balanced - lab.dense_report.balanced)
        return out

    return pd.DataFrame([row("dense", lab.dense_report)] +
                        [row(f"{p.criterion} @ {_pct(p.target)}", p.report) for p in points])


def _per_class_table(lab: Lab, points: list[_Point]) -> pd.DataFrame:
    d = lab.dense_report.per_class
    order = d.sort_values(["n_train", "class"], ascending=[False, True]).index if "n_train" in d else d.index
    table = pd.DataFrame({"class": d.loc[order, "name"].astype(str), "group": d.loc[order, "group"].fillna("")})
    if "n_train" in d:
        table["n_train"] = [fmt_count(n) for n in d.loc[order, "n_train"]]
    table["n_test"] = [fmt_count(n) for n in d.loc[order, "n_test"]]

    def col(pc: pd.DataFrame) -> list[str]:
        return [_interval(float(pc.loc[i, "accuracy"]), (float(pc.loc[i, "ci_low"]), float(pc.loc[i, "ci_high"])))
                if "ci_low" in pc else fmt_acc(float(pc.loc[i, "accuracy"])) for i in order]

    table["dense"] = col(d)
    for p in points:
        table[f"{p.criterion} @ {_pct(p.target)}"] = col(p.report.per_class)
    return table.reset_index(drop=True)


def _curve(lab: Lab, points: Sequence[_Point], criterion: str, granularity: str) -> Figure:
    """Accuracy vs sparsity, drawn for print: one colour per metric, solid = ``criterion``, dashed =
    each baseline criterion, dotted horizontal = dense. Every marker is a measured point, and every
    curve starts at the dense model (sparsity 0). No "current" marker: a report has no slider."""
    from matplotlib.lines import Line2D

    from .views._style import METRIC_COLORS, new_figure, styled

    @styled
    def draw() -> Figure:
        fig, ax = new_figure(size="curve")
        dense = lab.baselines()
        crits = [criterion] + sorted({p.criterion for p in points} - {criterion})
        styles = {c: ("-" if c == criterion else ["--", "-.", (0, (5, 1, 1, 1))][i % 3]) for i, c in enumerate(crits[1:])}
        styles[criterion] = "-"
        metrics = [m for m in METRIC_COLORS if m in dense and not math.isnan(dense[m])]
        for m in metrics:
            color = METRIC_COLORS[m]
            ax.axhline(dense[m], color=color, ls=":", lw=1, alpha=0.8)
            for c in crits:
                pts = sorted((p.sparsity, {"overall": p.report.overall, "balanced": p.report.balanced,
                                           **p.report.by_group}[m]) for p in points if p.criterion == c)
                xs, ys = [0.0] + [x for x, _ in pts], [dense[m]] + [y for _, y in pts]
                ax.plot(xs, ys, color=color, ls=styles[c], marker="o", ms=4, lw=1.6 if c == criterion else 1.1)
        handles = [Line2D([], [], color=METRIC_COLORS[m], lw=2, label=m) for m in metrics]
        handles += [Line2D([], [], color="#333333", ls=styles[c], marker="o", ms=4, label=c) for c in crits]
        handles.append(Line2D([], [], color="#333333", ls=":", label="dense"))
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        unit = "filters" if granularity == "filter" else "weights"
        ax.set_xlabel(f"sparsity (fraction of prunable {unit} removed)")
        ax.set_ylabel("accuracy")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title("Accuracy vs sparsity: " + " vs ".join(crits), loc="left")
        return fig

    return draw()


def _verdicts(folder: Path | None) -> str:
    if folder is None or not folder.is_dir():
        return "<p>No committed study results found (give <code>verdicts=...</code>, e.g. notebooks/studies/results).</p>"
    from .studies import committed_verdicts

    try:
        v = committed_verdicts(folder)
    except FileNotFoundError as exc:
        return f"<p>{html.escape(str(exc))}</p>"
    v = v.astype(str)
    counts = v["verdict"].value_counts()
    other = len(v) - counts.get("PASS", 0) - counts.get("FAIL", 0)
    head = (f"<p>All {len(v)} rows from {v['method'].nunique()} studies: {counts.get('PASS', 0)} PASS, "
            f"{counts.get('FAIL', 0)} FAIL, {other} informational, as measured over paired seeds "
            "(the rule is in docs/methods.md §0.1; each study's notebook is in notebooks/studies/).</p>")
    return head + _table(v.assign(_cls=v["verdict"]), row_class="_cls", css_class="text")


def _default_verdicts() -> Path | None:
    for base in (Path.cwd(), Path(__file__).resolve().parents[1]):
        folder = base / "notebooks" / "studies" / "results"
        if folder.is_dir():
            return folder
    return None


def render_report(lab: Lab, *, criterion: str = "magnitude", mode: str = "global",
                  sparsities: Sequence[float] = (0.1, 0.3, 0.5, 0.7, 0.9), granularity: str = "weight",
                  baselines: Sequence[str] = ("random",), verdicts: str | os.PathLike | None | bool = True,
                  progress: bool = True, points: Sequence[_Point] | None = None) -> str:
    """The report's HTML for ``lab``: operating points of ``criterion`` plus baseline criteria.

    Args:
        sparsities: the operating points (fractions of prunable weights, or filters, removed).
        baselines: criteria measured at the same points, drawn and tabled beside ``criterion``.
        verdicts: a folder of committed study results to append every method's PASS / FAIL
            table; ``True`` looks for ``notebooks/studies/results``; ``False``/``None`` leaves it out.
        progress: a tqdm bar over the operating points (they are the slow part).
        points: the operating points measured elsewhere (``labkit report --address``: Ray actors,
            :func:`labkit.studies._ray.sweep_on_ray` with ``measure=partial(_measure, progress=False)``);
            default: measured here.
    """
    if len(sparsities) == 0:
        raise ValueError("give at least one operating point, e.g. sparsities=[0.3, 0.5, 0.7]")
    criteria = [criterion] + [b for b in baselines if b != criterion]
    if points is None:
        points = _measure(lab, criteria, sparsities, mode, granularity, progress)
    main = [p for p in points if p.criterion == criterion]
    mid = main[len(main) // 2]
    from . import views

    title = f"Pruning report: {lab.model_name} on {lab.data.name}"
    plan = {"model": lab.model_name, "dataset": lab.data.name, "criterion": criterion, "mode": mode,
            "granularity": granularity, "sparsities": [float(s) for s in sparsities],
            "baselines": list(baselines), "seed": lab.seed, "test_items": len(lab.data.test),
            "versions": versions()}
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body>", f"<h1>{html.escape(title)}</h1>",
             "<h2 id='summary'>Summary</h2>", _summary(lab, points, criterion, mode, granularity),
             "<h2 id='cost'>Cost: dense vs each operating point</h2>",
             "<p>MACs are multiply-accumulates per image; a masked model still runs its zeros on dense "
             "hardware, so <i>nonzero</i> MACs are what physical removal (<code>lab.compact</code>) can save.</p>",
             _table(_cost_table(lab, points)),
             "<h2 id='accuracy'>Accuracy at each operating point (95 % bootstrap intervals)</h2>",
             "<p>Test split. Balanced = mean of per-class accuracy; many / medium / few = mean per-class "
             "accuracy within each long-tail group.</p>", _table(_accuracy_table(lab, points)),
             "<h2 id='curve'>Accuracy vs sparsity</h2>",
             _figure(_curve(lab, points, criterion, granularity),
                     f"Colour = metric; solid = {criterion}, dashed = baseline ({', '.join(criteria[1:]) or 'none'}); "
                     "dotted horizontal lines = the dense model. Every marker is a measured point; one-shot, "
                     "no fine-tuning."),
             "<h2 id='per-class'>Per-class accuracy at each operating point</h2>",
             "<p>Classes from most to fewest training images, coloured by group; each cell is accuracy "
             "[95 % interval].</p>", _table(_per_class_table(lab, main), row_class="group")]
    for p in main:
        parts.append(_figure(views.per_class_accuracy(p.report.per_class, dense=lab.dense_report.per_class,
                                                      title=f"Per-class accuracy at {_pct(p.sparsity)} "
                                                            f"({criterion}), black ticks = dense"),
                             f"{criterion} at sparsity {_pct(p.sparsity)}: per class, and the change from dense."))
    parts += ["<h2 id='profile'>Where the pruning went</h2>",
              _figure(views.sparsity_profile(mid.trial.layers(), target=mid.trial.plan.sparsity),
                      f"Per-layer sparsity of {criterion} at {_pct(mid.sparsity)} ({mode} allocation); "
                      "the dashed line is the requested overall sparsity.")]
    if verdicts is not False and verdicts is not None:
        folder = _default_verdicts() if verdicts is True else Path(verdicts)
        parts += ["<h2 id='verdicts'>The methods' verdicts (committed study runs)</h2>", _verdicts(folder)]
    parts += ["<h2 id='plan'>Plan, seed and versions</h2>", f"<pre>{html.escape(json.dumps(plan, indent=2))}</pre>",
              "</body></html>"]
    return "\n".join(parts)


def write_report(out: str | os.PathLike, *, lab: Lab | None = None, model: str = "resnet20",
                 dataset: str = "digits-lt", seed: int = 0, **kw: Any) -> Path:
    """Render :func:`render_report` and write it atomically to ``out`` (an ``.html`` path)."""
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"the report is HTML: give a path ending in .html, got {out}")
    lab = lab if lab is not None else Lab(model, dataset, seed=seed)
    return atomic_write(out, render_report(lab, **kw))
