"""DOMINOS views draw what they are given (points, fits, cut line, greyed blocks, bar heights) and name the fix."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from labkit.views.dominos import block_diagram, decay_curves, importance_scatter, stage_bars, weibull_scatter


def test_decay_curves_draw_points_and_fits():
    t = np.arange(6.0)
    k, lam = np.array([1.5, 0.8, np.nan]), np.array([2.0, 4.0, np.nan])
    S = np.stack([np.exp(-(t / 2.0) ** 1.5), np.exp(-(t / 4.0) ** 0.8), np.zeros(6)])
    fig = decay_curves(S, k, lam, layer="layer1.0.conv1.weight")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(ax.lines) == 4  # the dead channel (NaN fit) is not picked by default
    np.testing.assert_allclose(ax.lines[0].get_ydata(), S[0])
    fit = ax.lines[1]
    np.testing.assert_allclose(fit.get_ydata(), np.exp(-(np.asarray(fit.get_xdata()) / 2.0) ** 1.5))
    assert "layer1.0.conv1" in ax.get_title(loc="left")
    assert len(decay_curves(S, k, lam, channels=[1]).axes[0].lines) == 2


def test_decay_curves_errors_name_the_fix():
    S = np.ones((2, 4))
    with pytest.raises(ValueError, match="one value per channel"):
        decay_curves(S, [1.0], [2.0])
    with pytest.raises(IndexError, match="out of range"):
        decay_curves(S, [1.0, 1.0], [2.0, 2.0], channels=[5])


def test_weibull_scatter_shows_only_fitted_channels():
    tab = pd.DataFrame({"layer": ["a", "a", "b", "b"], "k": [1.0, 2.0, 0.5, 1.0], "lam": [3.0, 5.0, 2.0, 40.0],
                        "kind": ["fit", "fit", "fit", "no_decay"]})
    fig = weibull_scatter(tab)
    offsets = fig.axes[0].collections[0].get_offsets()
    assert len(offsets) == 3 and "3 of 4" in fig.axes[0].get_title(loc="left")
    with pytest.raises(ValueError, match="missing column"):
        weibull_scatter(tab.drop(columns="kind"))


def test_importance_scatter_cut_line_is_the_iso_line():
    frame = pd.DataFrame({"R": [0.1, 0.5, 0.9, 0.8], "D_hat": [0.2, 0.9, 1.0, 0.1], "kept": [False, True, True, False]})
    fig = importance_scatter(frame, alpha=0.5, cut=0.3)
    ax = fig.axes[0]
    assert len(ax.collections[0].get_offsets()) == 2 and len(ax.collections[1].get_offsets()) == 2
    r, d = (np.asarray(v) for v in ax.lines[0].get_data())
    np.testing.assert_allclose(np.sqrt(r) * np.sqrt(d), 0.3, rtol=1e-9)
    r_only = importance_scatter(frame, alpha=1.0, cut=0.3).axes[0]
    assert r_only.lines[0].get_xdata()[0] == 0.3


def test_block_diagram_greys_removed_blocks():
    kept = pd.DataFrame({
        "layer": ["stem.conv.weight", "l.0.conv1.weight", "l.0.conv2.weight", "l.1.conv1.weight", "l.1.conv2.weight"],
        "channels": [16, 16, 16, 16, 16], "kept": [16, 5, 16, 0, 0], "block": ["", "l.0", "l.0", "l.1", "l.1"],
        "role": ["other", "internal", "residual", "internal", "residual"],
        "removed_block": [False, False, False, True, True]})
    fig = block_diagram(kept)
    ax = fig.axes[0]
    heights = [round(p.get_height()) for p in ax.patches if p.get_hatch() is None and p.get_facecolor()[3] == 1.0]
    assert 5 in heights and 16 in heights
    assert sum(1 for p in ax.patches if p.get_hatch() == "//") == 2
    assert any(t.get_text() == "removed" for t in ax.texts)
    with pytest.raises(ValueError, match="no block rows"):
        block_diagram(kept.iloc[:1])


def test_stage_bars_heights_are_the_summary():
    summary = pd.DataFrame({"target": [0.0, 0.6, 0.6, 0.6, 0.6],
                            "stage": ["dense", "pruned", "fine-tuned", "+ extra epochs", "+ SE"],
                            "accuracy": [0.96, 0.5, 0.94, 0.945, 0.95], "accuracy_std": [0.01, 0.1, 0.01, 0.01, np.nan],
                            "macs": [10e6, 4e6, 4e6, 4e6, 4.01e6]})
    fig = stage_bars(summary)
    acc, macs = fig.axes[0], fig.axes[1]
    np.testing.assert_allclose([p.get_height() for p in acc.patches], summary["accuracy"])
    np.testing.assert_allclose([p.get_height() for p in macs.patches], summary["macs"])
    assert acc.get_xticklabels()[0].get_text() == "dense"
    with pytest.raises(ValueError, match="missing column"):
        stage_bars(summary.drop(columns="macs"))
