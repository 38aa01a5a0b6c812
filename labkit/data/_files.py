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

from ..errors import DataError, DataNotFoundError

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "resolve_root", "image_transform", "ImageFiles", "missing_data",
           "check_image_files"]

# Per-channel statistics of ImageNet-1k training images, the usual normalisation for photos.
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


def resolve_root(root: str | os.PathLike | None) -> Path:
    """``root`` as an absolute path; ``None`` -> ``$LABKIT_DATA`` or ``~/.cache/labkit/data``."""
    if root is None:
        root = os.environ.get("LABKIT_DATA") or os.path.join("~", ".cache", "labkit", "data")
    return Path(root).expanduser().resolve()


def missing_data(name: str, looked_in: Path, how: str) -> DataNotFoundError:
    """The error for data that is not on disk: what was searched, and how to get it there."""
    return DataNotFoundError(f"{name}: dataset not found in {looked_in}. {how}")


# The first bytes of the image formats PIL reads for labkit's datasets.
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*", b"RIFF")


def check_image_files(samples: Sequence[tuple[str, int]], where: str) -> None:
    """Refuse, at load time, listed images that are missing, empty or not an image (by their first bytes).

    Reading 16 bytes per file finds a wrong root, a half-copied folder or a damaged file in seconds,
    instead of in the middle of an epoch; a file damaged further in is named when it is read.

    Raises:
        DataError: naming up to three bad files, how many there are, and ``where`` they are listed.
    """
    missing: list[str] = []
    broken: list[str] = []
    for path, _ in samples:
        try:
            with open(path, "rb") as f:
                head = f.read(16)
        except FileNotFoundError:
            missing.append(path)
            continue
        except OSError:
            broken.append(path)
            continue
        if not head.startswith(_MAGIC) or (head.startswith(b"RIFF") and head[8:12] != b"WEBP"):
            broken.append(path)
    for bad, what in ((missing, "missing"), (broken, "not a readable image (empty or damaged)")):
        if bad:
            raise DataError(f"{len(bad)} of {len(samples)} images listed in {where} are {what}, e.g. "
                            f"{', '.join(bad[:3])}; restore them, or remove them (and their lines in {where})")


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
        try:
            with Image.open(path) as im:
                img = im.convert("RGB")
        except (OSError, ValueError, SyntaxError) as err:  # PIL: UnidentifiedImageError, truncated files
            raise DataError(f"cannot decode image {path} (item {i}, label {label}): {err}; replace the file or "
                            f"remove it from the dataset") from None
        return self.transform(img), label
