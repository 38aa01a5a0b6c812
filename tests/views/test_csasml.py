"""CSASML views return Figures and check their inputs; the Pareto front has an oracle."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from labkit.views.csasml import accuracy_vs_macs, attention_map, cost_stack, pareto_front


def _breakdown() -> pd.DataFrame:
    return pd.DataFrame({
        "model": ["lite"] * 3 + ["base"] * 3,
        "module": ["stem.conv", "layer1.0", "layer3.0.attn"] * 2,
        "stage": ["stem", "layer1", "layer3"] * 2,
        "kind": ["conv", "SMM", "CSA", "conv", "basic block", "MHSA"],
        "macs": [10, 30, 40, 10, 200, 60], "params": [5, 7, 9, 5, 50, 9]})


@pytest.mark.parametrize("by", ["kind", "stage"])
def test_cost_stack_stacks_to_the_totals(by):
    fig = cost_stack(_breakdown(), by=by)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    tops = {}
    for bar in ax.patches:
        x = round(bar.get_x() + bar.get_width() / 2)
        tops[x] = max(tops.get(x, 0), bar.get_y() + bar.get_height())
    assert tops == {0: 80, 1: 270}


def test_cost_stack_errors_name_the_fix():
    with pytest.raises(ValueError, match="kind"):
        cost_stack(_breakdown(), by="layer")
    with pytest.raises(ValueError, match="missing column"):
        cost_stack(_breakdown().drop(columns="model"))


def test_pareto_front_oracle():
    p = pd.DataFrame({"macs": [1, 2, 3, 3, 5], "accuracy": [0.5, 0.4, 0.9, 0.7, 0.9]})
    # brute force: keep i unless some j is <= on cost, >= on score, and strictly better on one
    keep = [i for i in p.index if not any(
        (p.macs[j] <= p.macs[i]) and (p.accuracy[j] >= p.accuracy[i])
        and ((p.macs[j] < p.macs[i]) or (p.accuracy[j] > p.accuracy[i])) for j in p.index)]
    assert sorted(pareto_front(p).index) == keep == [0, 2]


def test_accuracy_vs_macs_plots_mean_over_seeds():
    df = pd.DataFrame({"run": ["a", "a", "b", "b", "c", "c"], "seed": [0, 1] * 3,
                       "macs_counted": [1e6, 1e6, 4e6, 4e6, 2e6, 2e6],
                       "test_acc": [0.8, 0.82, 0.85, 0.87, 0.7, 0.72]})
    fig = accuracy_vs_macs(df)
    assert isinstance(fig, Figure)
    ys = sorted(round(float(c.lines[0].get_ydata()[0]), 6) for c in fig.axes[0].containers)
    assert ys == [71.0, 81.0, 86.0]


def test_attention_map_one_panel_per_scale_and_sums():
    rng = np.random.default_rng(0)
    w = rng.random((2, 16, 5))
    w /= w.sum(-1, keepdims=True)
    fig = attention_map(w, scales=(1, 2), size=(4, 4), query=(1, 2), image=rng.random((1, 16, 16)))
    assert isinstance(fig, Figure)
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 3  # the input + one panel per scale
    shown = images[2].images[0].get_array()
    np.testing.assert_allclose(np.asarray(shown), w[:, 6, 1:].mean(0).reshape(2, 2))
    assert isinstance(attention_map(w, (1, 2), (4, 4), query=3, head=1), Figure)


def test_attention_map_errors_name_the_fix():
    w = np.full((1, 16, 5), 0.2)
    with pytest.raises(ValueError, match="do not match"):
        attention_map(w, scales=(1, 2, 4), size=(4, 4), query=0)
    with pytest.raises(ValueError, match="outside"):
        attention_map(w, scales=(1, 2), size=(4, 4), query=(4, 0))
    with pytest.raises(ValueError, match="heads"):
        attention_map(w, scales=(1, 2), size=(4, 4), query=0, head=3)
