"""Method 3 views: each returns a Figure from RescueResult / run_study shaped inputs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from labkit.views import optimized as V


def test_weight_histogram_counts_every_weight_once() -> None:
    w = np.random.default_rng(0).normal(size=500)
    large = np.abs(w) > 1.2
    rescued = ~large & (np.arange(500) % 25 == 0)
    fig = V.weight_histogram(w, large, rescued, threshold=1.2, layer="fc.weight")
    assert isinstance(fig, Figure)
    heights = sum(p.get_height() for p in fig.axes[0].patches)
    assert heights == pytest.approx(500)  # stacked bars: the top of the stack is the total per bin
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(f"rescued small ({int(rescued.sum())})" in t for t in labels)
    with pytest.raises(ValueError, match="overlap"):
        V.weight_histogram(w, large, large)


def test_fitness_curve_and_rescued_per_layer() -> None:
    h = pd.DataFrame({"generation": range(5), "best_fitness": [-1.0, -0.9, -0.9, -0.8, -0.8],
                      "mean_fitness": [-1.5, -1.2, -1.0, -0.95, -0.9]})
    assert isinstance(V.fitness_curve(h, magnitude_fitness=-1.0), Figure)
    assert isinstance(V.fitness_curve(pd.concat([h.assign(seed=0), h.assign(seed=1)])), Figure)
    t = pd.DataFrame({"layer": ["a.weight", "b.weight"], "rescued": [10, 40], "kept": [50, 200]})
    fig = V.rescued_per_layer(t)
    assert [p.get_height() for p in fig.axes[0].patches] == [10, 40]


def test_variant_accuracy_two_panels() -> None:
    rows = [dict(variant=v, sparsity=s, seed=k, phase=ph, accuracy=0.8 - s / 4, dense_accuracy=0.95)
            for v in ("magnitude", "random", "ga") for s in (0.5, 0.9) for k in range(3)
            for ph in ("one-shot", "fine-tuned")]
    fig = V.variant_accuracy(pd.DataFrame(rows))
    assert isinstance(fig, Figure)
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["one-shot", "fine-tuned"]
    with pytest.raises(ValueError, match="missing column"):
        V.variant_accuracy(pd.DataFrame(rows).drop(columns="accuracy"))
