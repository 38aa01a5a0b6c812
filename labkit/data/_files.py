"""Shared plumbing for datasets read from disk: where they live, how images become tensors,
and the error you get when they are not there.

- :func:`resolve_root`: ``root=None`` means ``$LABKIT_DATA``, else ``~/.cache/labkit/data``.
- :func:`image_transform`: the standard ImageNet-style pipeline (Resize 256/224 + CenterCrop
  for evaluation; RandomResizedCrop + flip for augmented training), then ``Normalize``.
- :class:`ImageFiles`: a streaming dataset over ``(path, label)`` pairs, read with PIL on
  access, so a 100 K-image set costs a list of paths in memory.
- :func:`missing_data`: a ``FileNotFoundError`` that names the folder searched and the fix.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "resolve_root", "image_transform", "ImageFiles", "missing_data"]

# Per-channel statistics of ImageNet-1k training images, the usual normalisation for photos.
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


def resolve_root(root: str | os.PathLike | None) -> Path:
    """``root`` as an absolute path; ``None`` -> ``$LABKIT_DATA`` or ``~/.cache/labkit/data``."""
    if root is None:
        root = os.environ.get("LABKIT_DATA") or os.path.join("~", ".cache", "labkit", "data")
    return Path(root).expanduser().resolve()


def missing_data(name: str, looked_in: Path, how: str) -> FileNotFoundError:
    """The error for data that is not on disk: what was searched, and how to get it there."""
    return FileNotFoundError(f"{name}: dataset not found in {looked_in}. {how}")


def image_transform(size: int, augment: bool, mean: Sequence[float] = IMAGENET_MEAN,
                    std: Sequence[float] = IMAGENET_STD) -> Callable:
    """PIL image -> normalised float tensor ``(3, size, size)``.

    Evaluation: resize the short side to ``round(size * 256 / 224)``, centre-crop ``size``
    (the ImageNet protocol). Training with ``augment=True``: ``RandomResizedCrop(size)`` and a
    horizontal flip (torch's global RNG, seeded by ``seed_everything``).
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an int >= 8 (pixels of the square crop), got {size!r}")
    from torchvision.transforms import v2

    if augment:
        geometry = [v2.RandomResizedCrop(size, antialias=True), v2.RandomHorizontalFlip()]
    else:
        geometry = [v2.Resize(round(size * 256 / 224), antialias=True), v2.CenterCrop(size)]
    return v2.Compose([v2.ToImage(), *geometry, v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)])


class ImageFiles(Dataset):
    """``(path, label)`` pairs read lazily: ``dataset[i] -> (transform(RGB PIL image), label)``."""

    def __init__(self, samples: Sequence[tuple[str, int]], transform: Callable) -> None:
        self.samples = list(samples)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        from PIL import Image

        path, label = self.samples[i]
        with Image.open(path) as im:
            img = im.convert("RGB")
        return self.transform(img), label
