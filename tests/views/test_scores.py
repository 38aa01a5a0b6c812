import numpy as np
import pytest
import torch

from labkit.views import score_distributions


def _cut_labels(ax):
    return [t.get_text() for t in ax.texts]


def test_violins_per_layer_and_cut_fractions_use_all_scores():
    g = torch.Generator().manual_seed(0)
    scores = {"conv1.weight": torch.rand(8, 3, 3, 3, generator=g),
              "conv2.weight": torch.rand(20_000, generator=g) * 0.5,  # subsampled for drawing
              "fc.weight": torch.rand(10, 16, generator=g)}
    thr = {"conv1.weight": 0.25, "conv2.weight": 0.1}
    fig = score_distributions(scores, thr, max_points=500)
    ax = fig.axes[0]
    assert len(ax.collections[0].get_paths()) >= 1
    assert [t.get_text() for t in ax.get_xticklabels()] == ["conv1", "conv2", "fc"]
    want = [f"{(scores[k] < t).float().mean().item():.0%}" for k, t in thr.items()]
    assert _cut_labels(ax) == want
    assert sorted(seg[0][1] for c in ax.collections for seg in getattr(c, "get_segments", lambda: [])()
                  if c.get_linewidth()[0] == 2) == pytest.approx([0.1, 0.25])


def test_normalize_puts_layers_on_one_scale():
    scores = {"a.weight": torch.tensor([1.0, 2.0, 4.0]), "b.weight": torch.tensor([100.0, 200.0, 400.0])}
    fig = score_distributions(scores, {"a.weight": 2.0, "b.weight": 200.0}, normalize=True)
    ax = fig.axes[0]
    cuts = sorted(seg[0][1] for c in ax.collections for seg in getattr(c, "get_segments", lambda: [])()
                  if c.get_linewidth()[0] == 2)
    assert cuts == pytest.approx([0.5, 0.5])
    assert ax.get_ylabel() == "score / layer max"


def test_constant_scores_are_drawn_without_a_kde():
    fig = score_distributions({"fc.weight": np.ones(10)}, {"fc.weight": 2.0})
    assert _cut_labels(fig.axes[0]) == ["100%"]


def test_errors():
    with pytest.raises(ValueError, match="non-empty"):
        score_distributions({})
    with pytest.raises(KeyError, match="no scores"):
        score_distributions({"a": torch.rand(3)}, {"b": 0.1})
    with pytest.raises(ValueError, match="NaN"):
        score_distributions({"a": torch.tensor([1.0, float("nan")])})
