"""Static HTML reports: what a pruning did, at several operating points, in one file.

The report follows the rigor checklist of Blalock et al. 2020 (arXiv 2003.03033) as far as a
one-shot sweep can: several operating points (not one number), compression ratio and MACs
next to accuracy, accuracy as absolute values *and* as change from the same dense model,
random and magnitude baselines, the per-class and many / medium / few tables that long-tailed
data needs, and the exact plan, seed and library versions. Figures are embedded as PNG, so the
file opens anywhere without a server.

Example:
    >>> write_report("report.html", sparsities=[0.3, 0.5, 0.7])   # doctest: +SKIP
"""
from __future__ import annotations

import base64
import html
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Sequence

import pandas as pd
from matplotlib.figure import Figure

from .lab import Lab, Trial
from .runtime import versions

__all__ = ["write_report", "render_report"]

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222;line-height:1.45}
table{border-collapse:collapse;font-size:0.9em;margin:0.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3} code,pre{background:#f6f6f6;padding:2px 4px}
img{max-width:100%;border:1px solid #eee;margin:0.5em 0}
"""


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return f'<img alt="figure" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _table(df: pd.DataFrame, digits: int = 3) -> str:
    return df.to_html(index=False, float_format=lambda v: f"{v:.{digits}f}", border=0)


def _operating_points(lab: Lab, criterion: str, mode: str, sparsities: Sequence[float],
                      granularity: str) -> tuple[pd.DataFrame, list[Trial]]:
    rows, trials = [], []
    for s in sparsities:
        t = lab.prune(criterion, s, mode, granularity)
        trials.append(t)
        c = t.cost
        rows.append({"criterion": criterion, "target": s, "sparsity": t.masks.sparsity,
                     "compression": c["params"] / max(c["nonzero_params"], 1),
                     "nonzero_MACs": c["nonzero_MACs"], "MACs_ratio": c["nonzero_MACs"] / c["MACs"],
                     "overall": t.report.overall, "balanced": t.report.balanced,
                     **t.report.by_group,
                     "Δbalanced": t.report.balanced - lab.dense_report.balanced})
    return pd.DataFrame(rows), trials


def render_report(lab: Lab, *, criterion: str = "magnitude", mode: str = "global",
                  sparsities: Sequence[float] = (0.1, 0.3, 0.5, 0.7, 0.9), granularity: str = "weight",
                  baselines: Sequence[str] = ("random",)) -> str:
    """The report's HTML for ``lab``: operating points of ``criterion`` plus baseline criteria."""
    from . import views

    if len(sparsities) == 0:
        raise ValueError("give at least one operating point, e.g. sparsities=[0.3, 0.5, 0.7]")
    main, trials = _operating_points(lab, criterion, mode, sparsities, granularity)
    tables = [main]
    for b in baselines:
        if b != criterion:
            tables.append(_operating_points(lab, b, mode, sparsities, granularity)[0])
    points = pd.concat(tables, ignore_index=True)
    curve = points.melt(id_vars=["criterion", "sparsity"], value_vars=["overall", "balanced", "many", "medium", "few"],
                        var_name="metric", value_name="value")
    mid = trials[len(trials) // 2]
    dense = lab.dense_report
    dense_row = pd.DataFrame([{"model": "dense", "overall": dense.overall, "balanced": dense.balanced,
                               **dense.by_group, "params": lab.dense_cost["params"], "MACs": lab.dense_cost["MACs"]}])
    plan = {"model": lab.model_name, "dataset": lab.data.name, "criterion": criterion, "mode": mode,
            "granularity": granularity, "sparsities": list(sparsities), "baselines": list(baselines),
            "seed": lab.seed, "preview_only": lab.preview, "versions": versions()}
    figs = [
        ("Accuracy vs sparsity (one-shot, no fine-tuning; dense baselines dashed)",
         views.accuracy_vs_sparsity(curve[curve["criterion"] == criterion], baselines=lab.baselines(),
                                    current=mid.masks.sparsity)),
        (f"Per-class accuracy at sparsity {mid.masks.sparsity:.2f}, sorted by training count",
         views.per_class_accuracy(mid.report.per_class, dense=dense.per_class)),
        (f"Per-layer sparsity at {mid.masks.sparsity:.2f}", views.sparsity_profile(mid.layers(), target=mid.plan.sparsity)),
    ]
    parts = [f"<html><head><meta charset='utf-8'><title>labkit report: {html.escape(lab.model_name)} on "
             f"{html.escape(lab.data.name)}</title><style>{_CSS}</style></head><body>",
             f"<h1>Pruning report: {html.escape(lab.model_name)} on {html.escape(lab.data.name)}</h1>",
             "<p>One-shot pruning (no fine-tuning) at several operating points. Accuracies on the "
             "test split; many / medium / few are means of per-class accuracy within each group; "
             "MACs are multiply-accumulates per image (nonzero weights only for masked models).</p>",
             "<h2>Dense model</h2>", _table(dense_row),
             "<h2>Operating points</h2>", _table(points)]
    for title, fig in figs:
        parts += [f"<h3>{html.escape(title)}</h3>", _png(fig)]
    parts += ["<h2>Many / medium / few (dense, 95% bootstrap intervals)</h2>",
              _table(dense.summary("dense")),
              "<h2>Plan, seed and versions</h2>", f"<pre>{html.escape(json.dumps(plan, indent=2))}</pre>",
              "</body></html>"]
    return "\n".join(parts)


def write_report(out: str | os.PathLike, *, lab: Lab | None = None, model: str = "resnet20",
                 dataset: str = "digits-lt", seed: int = 0, **kw: Any) -> Path:
    """Render :func:`render_report` and write it atomically to ``out`` (an ``.html`` path)."""
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"the report is HTML: give a path ending in .html, got {out}")
    lab = lab if lab is not None else Lab(model, dataset, seed=seed)
    text = render_report(lab, **kw)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a report is meant to be shared
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
