"""Show a few input images (what the model saw), e.g. the misclassified items of one class.

Inputs arrive normalised (mean 0, std 1 per channel), so each image is rescaled to [0, 1] on its
own for display: what matters is the shape, not the absolute intensity.

Example:
    >>> import torch
    >>> fig = image_strip(torch.randn(3, 1, 8, 8), ["a", "b", "c"])
    >>> len(fig.axes)
    3
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ._style import new_figure, styled

__all__ = ["image_strip", "to_display"]


def to_display(image: Any) -> np.ndarray:
    """``(C, H, W)`` tensor or array -> ``(H, W)`` or ``(H, W, 3)`` floats in [0, 1] for ``imshow``."""
    a = np.asarray(image.detach().cpu() if hasattr(image, "detach") else image, dtype=float)
    if a.ndim != 3:
        raise ValueError(f"an image must be (C, H, W), got shape {a.shape}")
    lo, hi = float(a.min()), float(a.max())
    a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    return a[0] if a.shape[0] == 1 else np.moveaxis(a[:3], 0, -1)


@styled
def image_strip(images: Any, titles: Sequence[str], *, size: float = 1.3) -> Figure:
    """One row of images with a title each (at most 12 are drawn)."""
    n = min(len(images), 12)
    if n == 0:
        raise ValueError("no images to show")
    if len(titles) < n:
        raise ValueError(f"{n} images but {len(titles)} titles")
    fig, axes = new_figure(1, n, size=(size * n, size + 0.35))
    for ax, img, title in zip(np.atleast_1d(axes), images, titles):
        ax.imshow(to_display(img), cmap="gray", interpolation="nearest")
        ax.set_title(title, fontsize=8, fontweight="normal")
        ax.set_axis_off()
    return fig
