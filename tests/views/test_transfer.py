"""Method 4 views: each returns a Figure drawn from engine-shaped tables, and says what is wrong otherwise."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from labkit.views import transfer as V


def results() -> pd.DataFrame:
    rows = []
    for seed in range(3):
        for arm in ("inherit", "scratch-e", "scratch-b"):
            rows.append(dict(criterion="none", ranking="none", arm=arm, ratio=0.0, seed=seed, accuracy=0.9))
            for c in ("mean_activation", "apoz", "random"):
                for rk in ("per-layer", "global"):
                    for r in (0.2, 0.4, 0.6):
                        rows.append(dict(criterion=c, ranking=rk, arm=arm, ratio=r, seed=seed,
                                         accuracy=0.9 - r * (0.3 if c == "random" else 0.1) - 0.01 * seed))
    return pd.DataFrame(rows)


def test_transfer_curves_one_panel_per_ranking_and_a_line_per_criterion_and_arm() -> None:
    fig = V.transfer_curves(results())
    assert isinstance(fig, Figure)
    axes = [ax for ax in fig.axes if ax.get_title(loc="left")]
    assert [ax.get_title(loc="left") for ax in axes] == ["per-layer ranking", "global ranking"]
    lines = [ln for ln in axes[0].get_lines() if ln.get_marker() == "o"]
    assert len(lines) == 3 * 3
    first = lines[0]
    assert list(first.get_xdata()) == [0.0, 0.2, 0.4, 0.6], "every curve starts at the unpruned point"


def test_kept_filters_bars_and_cut_thresholds() -> None:
    table = pd.DataFrame({"criterion": ["apoz", "apoz", "random", "random"], "ranking": "global",
                          "layer": ["a.weight", "b.weight"] * 2, "kept": [3, 10, 4, 12], "total": [8, 16, 8, 16]})
    fig = V.kept_filters_bars(table)
    assert isinstance(fig, Figure) and len(fig.axes[0].patches) == 2 + 4
    th = V.cut_thresholds({"a": torch.tensor([0.1, 0.5, 0.3]), "b": torch.tensor([1.0, 2.0])},
                          {"a": torch.tensor([False, True, True]), "b": torch.tensor([True, True])})
    assert th == {"a": pytest.approx(0.3)}
    with pytest.raises(ValueError, match="missing column"):
        V.kept_filters_bars(table.drop(columns="kept"))


def test_class_activation_heatmap_marks_pruned_filters() -> None:
    rng = np.random.default_rng(0)
    src = pd.DataFrame(rng.random((5, 16)), index=list("01234"))
    tgt = pd.DataFrame(rng.random((5, 16)), index=list("56789"))
    kept = np.ones(16, dtype=bool)
    kept[[1, 4, 9]] = False
    fig = V.class_activation_heatmap(src, tgt, kept, layer="block3.conv2.weight")
    assert isinstance(fig, Figure)
    assert sum(1 for ln in fig.axes[1].get_lines() if ln.get_marker() == "^") == 3
    with pytest.raises(ValueError, match="same layer"):
        V.class_activation_heatmap(src, tgt.iloc[:, :8])
