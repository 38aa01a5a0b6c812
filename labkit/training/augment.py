"""Batch augmentations for ``fit(..., augment=...)``: callables ``batch -> batch`` on the device.

``fit`` re-seeds torch's global generator every epoch, so an augmentation that draws from it
(as :class:`RandomShift` does) is reproducible: the same seed gives the same shifts.

Example:
    >>> x = torch.zeros(4, 1, 5, 5); x[:, :, 2, 2] = 1
    >>> RandomShift(1)(x).sum().item()  # each bright pixel moved at most one step, none lost
    4.0
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["RandomShift"]


class RandomShift:
    """Shift each image by up to ``max_shift`` pixels in each direction (zero fill).

    Every image draws its offsets ``(dy, dx)`` uniformly from ``{0, ..., 2·max_shift}`` (then
    reads the window at that offset of the zero-padded image), from torch's global generator.
    Used as ``FitConfig(..., augment=RandomShift(1))`` (docs/methods.md §2.5's ±1-pixel shifts).
    """

    def __init__(self, max_shift: int = 1) -> None:
        if max_shift < 0:
            raise ValueError(f"max_shift must be >= 0, got {max_shift}")
        self.max_shift = max_shift

    def __call__(self, x: Tensor) -> Tensor:
        s = self.max_shift
        if s == 0:
            return x
        h, w = x.shape[-2:]
        padded = nn.functional.pad(x, (s, s, s, s))
        dy, dx = torch.randint(0, 2 * s + 1, (2, x.shape[0]))
        out = torch.empty_like(x)
        for oy in range(2 * s + 1):
            for ox in range(2 * s + 1):
                sel = ((dy == oy) & (dx == ox)).nonzero().flatten().to(x.device)
                if len(sel):
                    out[sel] = padded[sel, :, oy:oy + h, ox:ox + w]
        return out
