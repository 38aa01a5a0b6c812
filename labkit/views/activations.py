"""Activation views: one image's feature maps at a layer, with the pruned filters marked.

Filter-pruning criteria such as mean activation and APoZ (Hu et al. 2016, "Network
Trimming", arXiv 1607.03250) remove filters whose maps stay near zero. Seeing the maps next
to the mask shows whether the criterion cut what looks dead.

The grid is drawn as one mosaic image (maps tiled with a one-pixel gap) rather than one
axes per map: 64 axes take a large fraction of a second to build, a mosaic a few
milliseconds, which matters when a slider redraws it.

Example:
    >>> import torch
    >>> from labkit.views import activation_grid
    >>> acts = torch.relu(torch.randn(16, 8, 8))
    >>> kept = torch.ones(16, dtype=torch.bool); kept[:4] = False
    >>> fig = activation_grid(acts, kept)
"""
from __future__ import annotations

import math
from typing import Any

import matplotlib
import numpy as np
from matplotlib import patheffects
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ._style import CUT_COLOR, new_figure, styled

__all__ = ["activation_grid"]


def _array(x: Any, what: str) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy() if what == "acts" else x.detach().cpu().numpy()
    return np.asarray(x)


@styled
def activation_grid(acts: Any, kept: Any | None = None, *, max_maps: int = 64, ncols: int | None = None,
                    shared_scale: bool = True, cmap: str = "viridis", title: str | None = None) -> Figure:
    """Feature maps of one image at one layer in a grid; pruned filters get a red frame and cross.

    Args:
        acts: tensor or array ``(C, H, W)`` (a leading batch dimension of 1 is dropped).
        kept: bool ``(C,)``, False = the filter producing that map is pruned; None = all kept.
        max_maps: show at most the first ``max_maps`` channels.
        ncols: grid columns (default ``ceil(sqrt(n))``, at most 16).
        shared_scale: one colour scale for all maps (weak filters look weak, as an
            activation criterion sees them); False rescales each map to its own range.

    Example:
        >>> import torch
        >>> fig = activation_grid(torch.rand(32, 8, 8), kept=torch.rand(32) > 0.3, max_maps=16)
    """
    a = _array(acts, "acts").astype(float)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 3:
        raise ValueError(f"acts must be (C, H, W) feature maps of one image, got shape {a.shape}; "
                         f"index the batch first (acts[i])")
    c, h, w = a.shape
    if kept is None:
        keep = np.ones(c, dtype=bool)
    else:
        keep = _array(kept, "kept")
        if keep.dtype != bool or keep.shape != (c,):
            raise ValueError(f"kept must be a bool mask of shape ({c},) (one entry per channel), "
                             f"got dtype {keep.dtype} shape {keep.shape}")
    if max_maps < 1:
        raise ValueError(f"max_maps must be >= 1, got {max_maps}")
    n = min(c, max_maps)
    cols = ncols or min(16, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / cols)

    maps = a[:n]
    if not shared_scale:
        lo = maps.min(axis=(1, 2), keepdims=True)
        span = maps.max(axis=(1, 2), keepdims=True) - lo
        maps = (maps - lo) / np.where(span > 0, span, 1.0)
    pad = 1
    mosaic = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad), np.nan)
    for i in range(n):
        r, q = divmod(i, cols)
        mosaic[r * (h + pad): r * (h + pad) + h, q * (w + pad): q * (w + pad) + w] = maps[i]

    cell = min(0.85, 8.0 / cols)
    fig, ax = new_figure(size=(cols * cell + 1.4, rows * cell + 0.7))
    colormap = matplotlib.colormaps[cmap].with_extremes(bad="white")
    im = ax.imshow(mosaic, cmap=colormap, interpolation="nearest",
                   vmin=None if shared_scale else 0.0, vmax=None if shared_scale else 1.0)
    outline = [patheffects.withStroke(linewidth=1.5, foreground="black")]
    for i in range(n):
        r, q = divmod(i, cols)
        y0, x0 = r * (h + pad) - 0.5, q * (w + pad) - 0.5
        if not keep[i]:
            ax.add_patch(Rectangle((x0, y0), w, h, fill=False, edgecolor=CUT_COLOR, lw=1.8))
            ax.plot([x0, x0 + w], [y0, y0 + h], color=CUT_COLOR, lw=1.2)
            ax.plot([x0, x0 + w], [y0 + h, y0], color=CUT_COLOR, lw=1.2)
        if n <= 64:
            ax.text(x0 + 0.6, y0 + 0.4, str(i), color="white", fontsize=6, va="top", ha="left",
                    path_effects=outline)
    ax.set_axis_off()
    if shared_scale:
        fig.colorbar(im, ax=ax, shrink=0.8, label="activation")
    pruned_shown = int((~keep[:n]).sum())
    shown = f"channels 0-{n - 1} of {c}" if n < c else f"{c} channels"
    ax.set_title(title or f"Feature maps ({shown}; {pruned_shown} pruned, red)", loc="left")
    return fig
