"""Cost views: parameters, non-zero parameters, MACs and latency, dense next to pruned.

Unstructured sparsity lowers the count of non-zero parameters but not the MACs or the latency
of a dense kernel; only filter pruning followed by ``lk.compact`` makes the network physically
smaller. Showing the four numbers side by side keeps that honest (docs/methods.md §0.1: always
show remaining parameters and FLOPs, and label MACs as MACs).

Example:
    >>> from labkit.views import cost_bars, cost_table
    >>> dense = {"params": 270_000, "nonzero_params": 270_000, "MACs": 41e6, "latency_ms": 3.1}
    >>> pruned = {"params": 270_000, "nonzero_params": 81_000, "MACs": 41e6, "latency_ms": 3.0}
    >>> cost_table(dense, pruned)["ratio"].round(2).tolist()
    [1.0, 0.3, 1.0, 0.97]
"""
from __future__ import annotations

import numbers
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ._style import DENSE_COLOR, PRUNED_COLOR, human, new_figure, styled

__all__ = ["COST_LABELS", "cost_table", "cost_bars"]

COST_LABELS: dict[str, str] = {
    "params": "parameters",
    "nonzero_params": "non-zero parameters",
    "MACs": "MACs (multiply-accumulates)",
    "nonzero_MACs": "non-zero MACs",
    "latency_ms": "latency (ms)",
}
"""The cost entries shown, in order, with their display names (the keys of ``lk.cost``).
Other entries (``batch_size``, ``device``, ``input_shape``) describe the measurement and are
not plotted."""

_ALIASES = {"macs": "MACs", "nonzero_macs": "nonzero_MACs"}


def _numeric(d: Mapping[str, object], what: str) -> dict[str, float]:
    if not isinstance(d, Mapping):
        raise TypeError(f"{what} must be a dict like {{'params': ..., 'MACs': ...}} (lk.cost(...)), "
                        f"got {type(d).__name__}")
    out = {}
    for k, v in d.items():
        key = _ALIASES.get(str(k), str(k))
        if key in COST_LABELS and isinstance(v, numbers.Real) and not isinstance(v, bool) and np.isfinite(float(v)):
            out[key] = float(v)
    return out


def cost_table(dense: Mapping[str, object], pruned: Mapping[str, object]) -> pd.DataFrame:
    """One row per cost metric both dicts report: ``metric, label, dense, pruned, ratio``.

    ``ratio = pruned / dense`` (below 1 = cheaper); NaN when the dense value is 0. Only the
    entries of :data:`COST_LABELS` are used (``macs`` is read as ``MACs``); an entry that is
    missing or ``None`` on either side (``latency_ms`` when latency was not measured) is left out.
    """
    d, p = _numeric(dense, "dense"), _numeric(pruned, "pruned")
    keys = [k for k in COST_LABELS if k in d and k in p]
    if not keys:
        raise ValueError(f"dense and pruned share no numeric cost entry (dense has {sorted(d)}, "
                         f"pruned has {sorted(p)}); expected keys like {list(COST_LABELS)}")
    rows = [{"metric": k, "label": COST_LABELS.get(k, k), "dense": d[k], "pruned": p[k],
             "ratio": p[k] / d[k] if d[k] != 0 else float("nan")} for k in keys]
    return pd.DataFrame(rows, columns=["metric", "label", "dense", "pruned", "ratio"])


@styled
def cost_bars(dense: Mapping[str, object], pruned: Mapping[str, object], *, title: str | None = None) -> Figure:
    """One small panel per cost metric: a grey dense bar, a blue pruned bar, and the ratio.

    Args:
        dense, pruned: dicts as returned by ``lk.cost`` (``params``, ``nonzero_params``,
            ``MACs``, ``nonzero_MACs``, ``latency_ms``, ...); both must share at least one.

    Example:
        >>> fig = cost_bars({"params": 1000, "MACs": 5e5}, {"params": 400, "MACs": 2e5})
    """
    table = cost_table(dense, pruned)
    k = len(table)
    fig, axes = new_figure(1, k, size=(min(2.3 * k + 0.4, 10.0), 3.0))
    axes = np.atleast_1d(axes)
    for ax, row in zip(axes, table.itertuples(index=False)):
        ax.bar([0, 1], [row.dense, row.pruned], color=[DENSE_COLOR, PRUNED_COLOR], width=0.7)
        for i, v in enumerate((row.dense, row.pruned)):
            ax.annotate(human(v), (i, v), xytext=(0, 2), textcoords="offset points", ha="center",
                        va="bottom", fontsize=8)
        ax.set_xticks([0, 1])
        ax.set_xticklabels(["dense", "pruned"])
        ax.set_ylim(0, max(row.dense, row.pruned, 1e-12) * 1.25)
        ax.yaxis.set_major_formatter(lambda v, _pos: human(v))
        ratio = "" if np.isnan(row.ratio) else f"\n×{row.ratio:.2f}"
        ax.set_title(f"{row.label}{ratio}", fontsize=9)
    fig.suptitle(title or "Cost: dense vs pruned", x=0.01, ha="left", fontweight="bold", fontsize=11)
    return fig
