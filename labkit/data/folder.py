"""``imagefolder``: your own photos, one folder per class (e.g. Cats vs Dogs), streamed from disk.

Two layouts are understood::

    root/train/<class>/*.jpg          root/<class>/*.jpg
    root/val/<class>/*.jpg   (opt.)   (one folder: split here, stratified and seeded)
    root/test/<class>/*.jpg  (opt.)

Classes are the sub-folders of ``root/train`` (or of ``root``), sorted, so labels are stable;
``val`` and ``test`` must not introduce new classes. A missing ``val`` or ``test`` folder is
cut out of the training images: per class, a seeded shuffle and then ``round(fraction * n)``
images. ``meta["layout"]`` records which parts came from folders and which were cut.
File discovery is torchvision's (``datasets.folder.make_dataset``, its image extensions).

Example (a folder ``pets/cat/*.jpg``, ``pets/dog/*.jpg``):
    >>> data = load_dataset("imagefolder", root="pets", size=64)   # doctest: +SKIP
    >>> data.classes                                               # doctest: +SKIP
    ['cat', 'dog']
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ._base import LabData, Split
from ._files import IMAGENET_MEAN, IMAGENET_STD, ImageFiles, check_image_files, image_transform, missing_data
from .longtail import class_groups
from .registry import register_dataset

__all__ = ["imagefolder", "stratified_split"]

_HOW = ("Expected root/train/<class>/<image> (optionally root/val/..., root/test/...) or root/<class>/<image>. "
        "There is nothing to download for imagefolder: point root at your own folder.")


def _classes(folder: Path, root: Path) -> list[str]:
    if not folder.is_dir():
        raise missing_data("imagefolder", root, _HOW)
    names = sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))
    if not names:
        raise missing_data("imagefolder", root, f"{folder} has no class sub-folders. {_HOW}")
    return names


def _samples(folder: Path, classes: list[str], allow_empty: bool) -> list[tuple[str, int]]:
    from torchvision.datasets.folder import IMG_EXTENSIONS, make_dataset

    extra = sorted(set(_classes(folder, folder)) - set(classes))
    if extra:
        raise DataError(f"{folder} has class folders {extra} that the training folder lacks; "
                         f"add them to train or remove them")
    samples = make_dataset(str(folder), {c: i for i, c in enumerate(classes)}, IMG_EXTENSIONS, allow_empty=True)
    if not allow_empty:  # the training folder: every class needs images, and a classifier needs two classes
        counts = np.bincount([label for _, label in samples], minlength=len(classes))
        empty = [str(folder / c) for c, n in zip(classes, counts) if n == 0]
        if empty:
            raise DataError(f"class folder(s) {', '.join(empty)} hold no images ({', '.join(IMG_EXTENSIONS)}); "
                            f"add images or remove the folder(s)")
        if len(classes) < 2:
            raise DataError(f"{folder} has one class folder ({classes[0]}): a classifier needs at least two "
                            f"(accuracy would be 100 % by construction); add a folder per class. {_HOW}")
    check_image_files(samples, str(folder))
    return samples


def stratified_split(labels: Sequence[int], fractions: dict[str, float], seed: int = 0) -> dict[str, np.ndarray]:
    """Cut indices into named parts per class; whatever is left goes to ``"train"``.

    Each class is shuffled with ``numpy.random.default_rng(seed)`` and gives
    ``round(fraction * n)`` items to each named part, in the order given.

    Example:
        >>> parts = stratified_split([0] * 10 + [1] * 10, {"val": 0.2}, seed=0)
        >>> len(parts["val"]), len(parts["train"])
        (4, 16)
    """
    y = np.asarray(labels)
    if any(not 0 <= f < 1 for f in fractions.values()) or sum(fractions.values()) >= 1:
        raise ValueError(f"fractions must be in [0, 1) and sum below 1 (the rest is train), got {fractions}")
    rng = np.random.default_rng(seed)
    out: dict[str, list[np.ndarray]] = {k: [] for k in [*fractions, "train"]}
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        start = 0
        for name, f in fractions.items():
            n = int(round(f * len(idx)))
            out[name].append(idx[start:start + n])
            start += n
        if start >= len(idx):
            raise ValueError(f"class {c} has only {len(idx)} images: nothing left to train on after "
                             f"{fractions}; add images or lower the fractions")
        out["train"].append(idx[start:])
    return {k: np.sort(np.concatenate(v)).astype(np.int64) if v else np.zeros(0, np.int64) for k, v in out.items()}


def _folder_info(root: str | os.PathLike, size: int = 224, **_: Any) -> dict[str, Any]:
    path = Path(root).expanduser().resolve()
    classes = _classes(path / "train" if (path / "train").is_dir() else path, path)
    return {"num_classes": len(classes), "input_shape": (3, size, size), "classes": classes}


@register_dataset("imagefolder", info=_folder_info)
def imagefolder(root: str | os.PathLike, size: int = 224, augment: bool = False, val_fraction: float = 0.1,
                test_fraction: float = 0.2, seed: int = 0, groups: str = "auto",
                mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD) -> LabData:
    """Class-per-folder images as streaming ``(3, size, size)`` splits.

    Args:
        root: the dataset folder (either layout above).
        size: side of the square crop fed to the model.
        augment: RandomResizedCrop + flip on the training split.
        val_fraction, test_fraction: per-class fractions cut from the training images when
            ``root/val`` (or ``root/valid``) / ``root/test`` does not exist.
        seed: seeds those cuts.
        groups: class-group mode for :func:`class_groups`.
        mean, std: normalisation (ImageNet statistics by default, right for pretrained nets).
    """
    path = Path(root).expanduser().resolve()
    if not path.is_dir():
        raise missing_data("imagefolder", path, _HOW)
    nested = (path / "train").is_dir()
    classes = _classes(path / "train" if nested else path, path)
    train = _samples(path / "train" if nested else path, classes, allow_empty=False)
    given: dict[str, list[tuple[str, int]]] = {}
    for part, candidates in (("val", ("val", "valid")), ("test", ("test",))):
        folder = next((path / c for c in candidates if nested and (path / c).is_dir()), None)
        if folder is not None:
            given[part] = _samples(folder, classes, allow_empty=True)
    cut = {p: f for p, f in (("val", val_fraction), ("test", test_fraction)) if p not in given}
    parts = stratified_split([label for _, label in train], cut, seed)
    samples = {p: [train[i] for i in idx] for p, idx in parts.items()} | given
    splits = {p: Split(ImageFiles(s, image_transform(size, augment and p == "train", mean, std)),
                       [label for _, label in s]) for p, s in samples.items()}
    counts = splits["train"].class_counts(len(classes))
    layout = {p: ("folder" if p in given else f"cut {cut[p]:g} of train") for p in ("val", "test")}
    meta = {"source": str(path), "layout": {"train": "folder", **layout}, "seed": seed, "size": size,
            "augment": augment, "groups_mode": groups}
    return LabData(name="imagefolder", train=splits["train"], val=splits["val"], test=splits["test"],
                   classes=classes, class_counts=counts, groups=class_groups(counts, mode=groups),
                   input_shape=(3, size, size), meta=meta)
