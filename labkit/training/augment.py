"""Batch augmentations for ``fit(..., augment=...)``: callables ``batch -> batch`` on the device.

``fit`` re-seeds torch's global generator every epoch, so an augmentation that draws from it
(as :class:`RandomShift` does) is reproducible: the same seed gives the same shifts.

Example:
    >>> x = torch.zeros(4, 1, 5, 5); x[:, :, 2, 2] = 1
    >>> RandomCropFlip(1)(x).shape
    torch.Size([4, 1, 5, 5])
    >>> RandomShift(1)(x).sum().item()  # each bright pixel moved at most one step, none lost
    4.0
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["RandomShift", "RandomCropFlip"]


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


class RandomCropFlip:
    """Random crop with zero padding, then a horizontal flip with probability ½, for a whole batch.

    The CIFAR recipe (``RandomCrop(32, padding=4)`` + ``RandomHorizontalFlip()``; He et al.
    2016, Cao et al. 2019) as one gather on the device: each image draws its window offset
    ``(dy, dx)`` from ``{0..2p}²`` and a flip bit from torch's global generator (re-seeded by
    ``fit`` every epoch), on the CPU, so every device sees the same draws.

    Args:
        padding: ``p``, pixels of padding on every side (0: no crop).
        flip: also flip half of the images left-right.
        fill: the padding value per channel. Images are normalised before they reach ``fit``,
            so a black pad (torchvision pads the unnormalised image with 0) is ``-mean / std``;
            :meth:`labkit.training.recipes.Recipe.fit_config` computes it from the dataset.
    """

    def __init__(self, padding: int = 4, flip: bool = True, fill: tuple[float, ...] | None = None) -> None:
        if not isinstance(padding, int) or padding < 0:
            raise ValueError(f"padding must be an int >= 0, got {padding!r}")
        self.padding, self.flip = padding, bool(flip)
        self.fill = None if fill is None else tuple(float(v) for v in fill)

    def __call__(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        p = self.padding
        if self.fill is not None and len(self.fill) != c:
            raise ValueError(f"fill has {len(self.fill)} values but the images have {c} channels")
        dy, dx = torch.randint(0, 2 * p + 1, (2, b))
        flip = torch.rand(b) < 0.5 if self.flip else torch.zeros(b, dtype=torch.bool)
        padded = nn.functional.pad(x, (p, p, p, p))
        if self.fill is not None and p:
            border = torch.ones(1, 1, h + 2 * p, w + 2 * p, dtype=torch.bool, device=x.device)
            border[..., p:p + h, p:p + w] = False
            fill = torch.tensor(self.fill, dtype=x.dtype, device=x.device).view(1, c, 1, 1)
            padded = torch.where(border, fill, padded)
        cols = torch.arange(w)
        cols = torch.where(flip[:, None], w - 1 - cols, cols) + dx[:, None]   # (B, W), flipped where drawn
        rows = dy[:, None] + torch.arange(h)                                  # (B, H)
        bi = torch.arange(b)[:, None, None, None]
        ci = torch.arange(c)[None, :, None, None]
        dev = x.device
        return padded[bi.to(dev), ci.to(dev), rows[:, None, :, None].to(dev), cols[:, None, None, :].to(dev)]
