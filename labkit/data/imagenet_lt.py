"""``imagenet-lt``: ImageNet-LT (Liu et al. 2019, OLTR, arXiv 1904.05160), streamed from disk.

ImageNet-LT is a Pareto-shaped subset of ImageNet-2012: 1,000 classes, 115.8 K training
images (1,280 down to 5 per class), a balanced val set (20 per class) and test set (50 per
class, drawn from the ImageNet val images). It is defined by three split files from
zhmiao/OpenLongTailRecognition-OLTR, one ``relative/path label`` per line::

    root/ImageNet_LT_train.txt    train/n01440764/n01440764_190.JPEG 0
    root/ImageNet_LT_val.txt      val/n01440764/ILSVRC2012_val_00006697.JPEG 0
    root/ImageNet_LT_test.txt     ...
    root/train/n01440764/*.JPEG   the ImageNet-2012 images the paths point to
    root/val/...

The split files may live elsewhere (``split_dir``). Images are read with PIL when a batch
asks for them, never all at once. Class counts come from the train file, and groups use the
thresholds (many > 100, medium 20..100, few < 20 training images; docs/methods.md §1.1 asks to
recompute them rather than quote 385 / 479 / 136).

Example (needs the data; nothing can be downloaded automatically):
    >>> data = load_dataset("imagenet-lt", root="/data/imagenet")   # doctest: +SKIP
    >>> len(data.train), data.num_classes                           # doctest: +SKIP
    (115846, 1000)
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ._base import LabData, Split
from ._files import ImageFiles, check_image_files, image_transform, missing_data, resolve_root
from .longtail import class_groups
from .registry import register_dataset

__all__ = ["imagenet_lt", "read_split_file"]

_SPLIT_FILES = {"train": "ImageNet_LT_train.txt", "val": "ImageNet_LT_val.txt", "test": "ImageNet_LT_test.txt"}
_HOW = ("ImageNet-LT cannot be fetched automatically (there is no download=True for it): get ImageNet-2012 "
        "from https://image-net.org (its train/ and val/ folders go under root) and the split files "
        "ImageNet_LT_train.txt, ImageNet_LT_val.txt, ImageNet_LT_test.txt from "
        "https://github.com/zhmiao/OpenLongTailRecognition-OLTR (into root, or pass split_dir).")


def read_split_file(path: Path) -> list[tuple[str, int]]:
    """``[(relative_path, label), ...]`` from an OLTR split file (``path label`` per line)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            parts = line.rsplit(maxsplit=1)
            if len(parts) != 2 or not parts[1].lstrip("-").isdigit() or int(parts[1]) < 0:
                raise ValueError(f"{path}:{n}: expected '<relative image path> <label >= 0>', got {line!r}")
            out.append((parts[0], int(parts[1])))
    if not out:
        raise ValueError(f"{path} lists no images")
    return out


def _class_names(train: list[tuple[str, int]], num_classes: int) -> list[str]:
    """Class i is named after the folder of its first training image (the WordNet id)."""
    names: dict[int, str] = {}
    for rel, label in train:
        names.setdefault(label, Path(rel).parent.name or f"class_{label}")
    return [names.get(i, f"class_{i}") for i in range(num_classes)]


@register_dataset("imagenet-lt", info=lambda size=224, **_: {"num_classes": 1000, "input_shape": (3, size, size)})
def imagenet_lt(root: str | os.PathLike | None = None, split_dir: str | os.PathLike | None = None,
                size: int = 224, augment: bool = False, groups: str = "thresholds",
                download: bool = False) -> LabData:
    """ImageNet-LT train / val / test as streaming splits of ``(3, size, size)`` tensors.

    Args:
        root: folder that the paths in the split files are relative to (default
            ``$LABKIT_DATA`` or ``~/.cache/labkit/data``).
        split_dir: folder of ``ImageNet_LT_*.txt``; default ``root``.
        size: crop side (224 is the standard; smaller is faster on a CPU).
        augment: RandomResizedCrop + flip on the training split (else resize + centre crop).
        groups: class-group mode; the thresholds are the benchmark's definition.
        download: not available for ImageNet-LT; ``True`` raises with instructions.

    ``num_classes`` is the largest label in the split files + 1 (1,000 for the real files).
    """
    path = resolve_root(root)
    if download:
        raise ValueError(f"imagenet-lt: {_HOW}")
    sdir = path if split_dir is None else resolve_root(split_dir)
    missing = [f for f in _SPLIT_FILES.values() if not (sdir / f).is_file()]
    if missing:
        raise missing_data("imagenet-lt", sdir, f"Missing: {', '.join(missing)}. {_HOW}")
    lists = {s: read_split_file(sdir / f) for s, f in _SPLIT_FILES.items()}
    for s, items in lists.items():  # catch a wrong root now, not in the middle of an epoch
        if not (path / items[0][0]).is_file():
            raise missing_data("imagenet-lt", path, f"The {s} split file lists {items[0][0]}, which is not under "
                                                    f"root. Point root at the folder that holds it. {_HOW}")
    for s, items in lists.items():  # every listed file there and an image: fail at load, naming the file
        check_image_files([(str(path / rel), label) for rel, label in items], str(sdir / _SPLIT_FILES[s]))
    num_classes = 1 + max(label for items in lists.values() for _, label in items)
    splits = {}
    for s, items in lists.items():
        samples = [(str(path / rel), label) for rel, label in items]
        splits[s] = Split(ImageFiles(samples, image_transform(size, augment and s == "train")),
                          [label for _, label in items])
    counts = splits["train"].class_counts(num_classes)
    meta: dict[str, Any] = {"source": str(path), "split_dir": str(sdir), "size": size, "augment": augment,
                            "groups_mode": groups, "empty_train_classes": int(np.sum(counts == 0))}
    return LabData(name="imagenet-lt", train=splits["train"], val=splits["val"], test=splits["test"],
                   classes=_class_names(lists["train"], num_classes), class_counts=counts,
                   groups=class_groups(counts, mode=groups), input_shape=(3, size, size), meta=meta)
