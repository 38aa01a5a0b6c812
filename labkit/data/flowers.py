"""``flowers102``: Oxford 102 Flowers (Nilsback & Zisserman 2008) through torchvision.

102 classes, official splits of 1,020 train (10 per class), 1,020 val and 6,149 test images,
in torchvision's layout::

    root/flowers-102/jpg/image_00001.jpg ... image_08189.jpg
    root/flowers-102/imagelabels.mat      labels, 1-based
    root/flowers-102/setid.mat            trnid / valid / tstid image ids

A small, balanced training set: the usual target of transfer learning from ImageNet weights.
Images are streamed with PIL and resized / centre-cropped to ``size``.

Note on checks: torchvision's ``Flowers102`` md5-checks both ``.mat`` files on every load.
labkit's subclass checks only that the files are there; the md5 is still checked by
torchvision's downloader when ``download=True`` fetches them. This keeps loading fast and lets
tests build the real layout with tiny fabricated files.

Example (needs the files; ``download=True`` fetches them on a machine with internet):
    >>> data = load_dataset("flowers102", root="~/data", size=128)   # doctest: +SKIP
    >>> len(data.train), data.num_classes                            # doctest: +SKIP
    (1020, 102)
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._base import LabData, Split
from ._files import image_transform, missing_data, resolve_root
from .longtail import class_groups
from .registry import register_dataset

if TYPE_CHECKING:
    from torchvision.datasets import Flowers102

__all__ = ["flowers102"]

_URL = "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/"


@lru_cache(maxsize=1)
def _flowers_class() -> type[Flowers102]:
    """torchvision's Flowers102 with a presence-only integrity check (see the module note)."""
    from torchvision.datasets import Flowers102

    class _Flowers102(Flowers102):
        def _check_integrity(self) -> bool:
            return self._images_folder.is_dir() and all(
                (self._base_folder / self._file_dict[k][0]).is_file() for k in ("label", "setid"))

    return _Flowers102


def _present(base: Path) -> list[str]:
    """What is missing from ``root/flowers-102`` (empty list = complete)."""
    need = {"jpg/": (base / "jpg").is_dir(), "imagelabels.mat": (base / "imagelabels.mat").is_file(),
            "setid.mat": (base / "setid.mat").is_file()}
    return [k for k, ok in need.items() if not ok]


@register_dataset("flowers102", info=lambda size=224, **_: {"num_classes": 102, "input_shape": (3, size, size)})
def flowers102(root: str | os.PathLike | None = None, download: bool = False, size: int = 224,
               augment: bool = False, groups: str = "auto") -> LabData:
    """Oxford 102 Flowers with its official train / val / test splits.

    Args:
        root: folder that holds (or will hold) ``flowers-102``; default ``$LABKIT_DATA`` or
            ``~/.cache/labkit/data``.
        download: let torchvision fetch the files when they are missing.
        size: side of the square crop.
        augment: RandomResizedCrop + flip on the training split.
        groups: class-group mode (10 images per class: all "medium" under "auto").
    """
    path = resolve_root(root)
    base = path / "flowers-102"
    missing = _present(base)
    if missing and not download:
        raise missing_data("flowers102", base, f"Missing: {', '.join(missing)}. On a machine with internet pass "
                           f"download=True (load_dataset('flowers102', root={str(path)!r}, download=True)), or "
                           f"get 102flowers.tgz, imagelabels.mat and setid.mat from {_URL} into {base}.")
    cls = _flowers_class()
    splits: dict[str, Split] = {}
    for s in ("train", "val", "test"):
        try:
            ds = cls(str(path), split=s, download=download,
                     transform=image_transform(size, augment and s == "train"))
        except OSError as e:  # the download failed (no internet, proxy ...)
            raise missing_data("flowers102", base, f"The download from {_URL} failed ({e}). Fetch the files on "
                               f"a machine with internet into {base}.") from None
        splits[s] = Split(ds, list(ds._labels))
    classes = list(cls.classes)
    counts = splits["train"].class_counts(len(classes))
    meta: dict[str, Any] = {"source": str(base), "size": size, "augment": augment, "groups_mode": groups,
                            "integrity": "presence only (md5 checked at download)"}
    return LabData(name="flowers102", train=splits["train"], val=splits["val"], test=splits["test"],
                   classes=classes, class_counts=counts, groups=class_groups(counts, mode=groups),
                   input_shape=(3, size, size), meta=meta)
