import numpy as np
import pytest
import torch
from matplotlib.patches import Rectangle

from labkit.views import activation_grid


def _frames(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def test_grid_tiles_each_map_and_frames_the_pruned_ones():
    acts = torch.arange(6 * 4 * 5, dtype=torch.float32).reshape(6, 4, 5)
    kept = torch.tensor([True, False, True, True, False, True])
    fig = activation_grid(acts, kept, ncols=3)
    ax = fig.axes[0]
    mosaic = np.ma.filled(ax.images[0].get_array(), np.nan)
    assert mosaic.shape == (2 * 4 + 1, 3 * 5 + 2)
    for c in range(6):
        r, q = divmod(c, 3)
        assert mosaic[r * 5: r * 5 + 4, q * 6: q * 6 + 5] == pytest.approx(acts[c].numpy())
    frames = _frames(ax)
    assert len(frames) == 2
    assert sorted(f.get_xy() for f in frames) == sorted([(1 * 6 - 0.5, -0.5), (1 * 6 - 0.5, 5 - 0.5)])
    assert "2 pruned" in ax.get_title(loc="left")


def test_max_maps_truncates_and_per_map_scaling_spans_unit_range():
    acts = np.random.default_rng(0).normal(size=(1, 100, 3, 3))  # batch of one is accepted
    fig = activation_grid(acts, np.zeros(100, dtype=bool), max_maps=10, shared_scale=False)
    ax = fig.axes[0]
    assert len(_frames(ax)) == 10
    mosaic = np.ma.filled(ax.images[0].get_array(), np.nan)
    assert np.nanmin(mosaic) == 0.0 and np.nanmax(mosaic) == 1.0
    assert "channels 0-9 of 100" in ax.get_title(loc="left")


def test_grid_is_one_mosaic_image_not_one_axes_per_map():
    # 64 axes take a large part of a second to build; one image keeps slider redraws cheap
    fig = activation_grid(torch.rand(64, 16, 16), torch.rand(64) > 0.5)
    assert len(fig.axes) == 2  # the mosaic and its colour bar
    assert len(fig.axes[0].images) == 1


def test_bad_inputs_name_the_fix():
    with pytest.raises(ValueError, match="index the batch"):
        activation_grid(torch.rand(2, 3, 4, 4))
    with pytest.raises(ValueError, match="bool mask of shape"):
        activation_grid(torch.rand(3, 4, 4), torch.ones(4, dtype=torch.bool))
    with pytest.raises(ValueError, match="bool mask"):
        activation_grid(torch.rand(3, 4, 4), torch.ones(3))
    with pytest.raises(ValueError, match="max_maps"):
        activation_grid(torch.rand(3, 4, 4), max_maps=0)
