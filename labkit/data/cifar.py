"""``cifar10``, ``cifar100`` and their long-tailed versions ``cifar10-lt``, ``cifar100-lt``.

Files: the official "python version" archives, in torchvision's layout and with
torchvision's URLs and checksums (``torchvision.datasets.CIFAR10 / CIFAR100``)::

    root/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}
    root/cifar-100-python/{train, test, meta}

Long tail, exactly as LDAM-DRW builds it (Cao et al. 2019; kaidic/LDAM-DRW
``imbalance_cifar.py``; docs/methods.md §1.1):
    - class i gets ``n_i = int(n_max * (1/IF) ** (i / (C-1)))`` images, in the original label
      order, with ``n_max`` = train images / classes (5000 for CIFAR-10, 500 for CIFAR-100);
    - one ``RandomState(seed)`` (LDAM: ``np.random.seed(0)``) shuffles each class's indices in
      turn, class 0 first, and the first ``n_i`` are kept. With ``seed=0`` the subset is the
      published one: 10,847 images for CIFAR-100-LT at IF=100.

Validation: LDAM-DRW selects models on the test set. Here ``val_per_class`` (default 10)
images per class are held out of the official *test* set (seeded), and ``test`` is the rest
(990 / 90 per class), so nothing is tuned on the images that are scored. The training set
is untouched (taking val from the unused train images is impossible: class 0 uses them all).
``val_per_class=0`` gives the full official test set and an empty val split.

Images are kept as one uint8 tensor (150 MB for CIFAR-10 train) and normalised on access with
the per-channel mean / std of the training images; ``augment=True`` adds the standard random
crop 32 with padding 4 and horizontal flip to the training split only (drawn per access from
torch's global RNG; ``Split.tensors()`` on an augmented split would freeze one draw, so train
through ``loader()`` when augmenting).

Reading: the batches are Python pickles. labkit never unpickles arbitrary objects, so they go
through :class:`_BatchUnpickler`, which admits only what a CIFAR batch holds (dicts, lists,
strings and numpy arrays) and refuses anything else (a pickle that names ``os.system`` fails).
The md5 of each file is checked by torchvision's downloader when ``download=True``, not on
every load: that lets tests fabricate tiny batches in the real format.

Example (needs the files; ``download=True`` fetches them on a machine with internet):
    >>> data = load_dataset("cifar100-lt", root="~/data", imbalance=100)   # doctest: +SKIP
    >>> len(data.train), [len(g) for g in data.groups.values()]            # doctest: +SKIP
    (10847, [35, 35, 30])
"""
from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ._base import LabData, Split
from ._files import missing_data, resolve_root
from .longtail import class_groups, longtail_counts
from .registry import register_dataset

__all__ = ["cifar10", "cifar100", "cifar10_lt", "cifar100_lt", "longtail_subset", "CifarImages"]

# Per-channel mean / std of the training pixels (in [0, 1]).
_STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}


def _reconstruct() -> Callable:
    try:  # numpy >= 2 moved the private module; old pickles still name numpy.core
        from numpy._core.multiarray import _reconstruct as fn
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct as fn_1x
        return fn_1x
    return fn


class _BatchUnpickler(pickle.Unpickler):
    """An unpickler that can build only numpy arrays (plus plain containers and strings)."""

    def find_class(self, module: str, name: str) -> Any:
        import codecs

        allowed = {
            ("numpy.core.multiarray", "_reconstruct"): _reconstruct(),
            ("numpy._core.multiarray", "_reconstruct"): _reconstruct(),
            ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): np.dtype,
            ("_codecs", "encode"): codecs.encode,  # how protocol 2 stores Python 3 bytes
        }
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(
                f"{module}.{name} is not allowed in a CIFAR batch file; this is not an official "
                f"CIFAR file (labkit only reads dicts of lists, strings and numpy arrays)")
        return allowed[(module, name)]


def _read_batch(path: Path) -> dict[str, Any]:
    """One CIFAR batch as a dict with ``str`` keys (the files use Python 2 str or bytes keys)."""
    with open(path, "rb") as f:
        try:
            obj = _BatchUnpickler(f, encoding="latin1").load()
        except (pickle.UnpicklingError, EOFError, ValueError) as e:
            raise ValueError(f"{path} is not a readable CIFAR batch ({e}); delete it and download again") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path} holds a {type(obj).__name__}, not a CIFAR batch dict")
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}


@dataclass(frozen=True)
class _Layout:
    folder: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    meta: str
    names_key: str
    url: str
    archive: str
    md5: str
    num_classes: int


def _layout(kind: str) -> _Layout:
    """File names, URL and checksum from torchvision's own dataset classes."""
    from torchvision.datasets import CIFAR10, CIFAR100

    tv = CIFAR10 if kind == "cifar10" else CIFAR100
    return _Layout(folder=tv.base_folder, train=tuple(f for f, _ in tv.train_list),
                   test=tuple(f for f, _ in tv.test_list), meta=tv.meta["filename"], names_key=tv.meta["key"],
                   url=tv.url, archive=tv.filename, md5=tv.tgz_md5, num_classes=10 if kind == "cifar10" else 100)


def _read_split(folder: Path, files: tuple[str, ...], num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for name in files:
        batch = _read_batch(folder / name)
        labels = batch.get("labels", batch.get("fine_labels"))
        data = batch.get("data")
        if not isinstance(data, np.ndarray) or labels is None or data.ndim != 2 or data.shape[1] != 3072 \
                or len(labels) != len(data):
            raise ValueError(f"{folder / name} is not a CIFAR batch: need 'data' (N, 3072) uint8 and "
                             f"'labels' or 'fine_labels' of length N")
        xs.append(data.astype(np.uint8, copy=False))
        ys.append(np.asarray(labels, dtype=np.int64))
    x, y = np.concatenate(xs).reshape(-1, 3, 32, 32), np.concatenate(ys)
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels in {folder} fall outside 0..{num_classes - 1}")
    return x, y


def _read_cifar(name: str, kind: str, root: Path,
                download: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    lay = _layout(kind)
    folder = root / lay.folder
    needed = [*lay.train, *lay.test, lay.meta]
    missing = [f for f in needed if not (folder / f).is_file()]
    if missing and download:
        from torchvision.datasets.utils import download_and_extract_archive

        try:  # checks the archive's md5 before extracting
            download_and_extract_archive(lay.url, str(root), filename=lay.archive, md5=lay.md5)
        except OSError as e:  # URLError is an OSError: no internet, proxy, DNS ...
            raise missing_data(name, folder, f"The download of {lay.url} failed ({e}). Fetch that archive on "
                               f"a machine with internet and extract it into {root}.") from None
        missing = [f for f in needed if not (folder / f).is_file()]
    if missing:
        raise missing_data(
            name, folder,
            f"Missing: {', '.join(missing)}. On a machine with internet pass download=True "
            f"(load_dataset({name!r}, root={str(root)!r}, download=True)), or download {lay.url} and "
            f"extract it into {root} so that {folder / needed[0]} exists.")
    xtr, ytr = _read_split(folder, lay.train, lay.num_classes)
    xte, yte = _read_split(folder, lay.test, lay.num_classes)
    names = _read_batch(folder / lay.meta).get(lay.names_key)
    if names is None or len(names) != lay.num_classes:
        raise ValueError(f"{folder / lay.meta} has no {lay.names_key!r} list of {lay.num_classes} class names")
    names = [n.decode("latin1") if isinstance(n, bytes) else str(n) for n in names]
    return xtr, ytr, xte, yte, names


class CifarImages(Dataset):
    """uint8 images ``(N, 3, 32, 32)`` -> normalised float tensors, optionally augmented."""

    def __init__(self, x: np.ndarray, y: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...],
                 augment: bool = False) -> None:
        self.x = torch.from_numpy(np.ascontiguousarray(x))
        self.y = torch.from_numpy(np.asarray(y, dtype=np.int64))
        self.mean = torch.tensor(mean).view(3, 1, 1)
        self.std = torch.tensor(std).view(3, 1, 1)
        self.augment = None
        if augment:
            from torchvision.transforms import v2

            # RandomCrop pads with 0 = black before normalising, as the LDAM-DRW recipe does.
            self.augment = v2.Compose([v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip()])

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        img = self.x[i].float().div_(255.0)
        if self.augment is not None:
            img = self.augment(img)
        return (img - self.mean) / self.std, int(self.y[i])


def longtail_subset(targets: np.ndarray, counts: list[int], seed: int = 0) -> np.ndarray:
    """LDAM-DRW's selection: class by class, shuffle its indices with one seeded RNG, keep ``counts[c]``.

    Example:
        >>> longtail_subset(np.array([0, 0, 0, 1, 1, 1]), [3, 1], seed=0).tolist()
        [2, 1, 0, 5]
    """
    rng = np.random.RandomState(seed)  # the same stream as np.random.seed(seed); np.random.shuffle
    chosen = []
    for c, n in enumerate(counts):
        idx = np.flatnonzero(targets == c)
        if len(idx) < n:
            raise ValueError(f"class {c} has {len(idx)} training images, fewer than the {n} the profile asks for")
        rng.shuffle(idx)
        chosen.append(idx[:n])
    return np.concatenate(chosen)


def _val_test(y: np.ndarray, num_classes: int, val_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Hold ``val_per_class`` of each class out of the official test set; the rest stays test."""
    if not isinstance(val_per_class, int) or val_per_class < 0:
        raise ValueError(f"val_per_class must be an int >= 0, got {val_per_class!r}")
    rng = np.random.RandomState(seed)
    val = []
    for c in range(num_classes):
        idx = np.flatnonzero(y == c)
        if val_per_class >= len(idx) > 0:
            raise ValueError(f"test class {c} has {len(idx)} images; val_per_class={val_per_class} leaves none to test")
        val.append(rng.permutation(idx)[:val_per_class])
    val_idx = np.sort(np.concatenate(val)).astype(np.int64)
    test_idx = np.setdiff1d(np.arange(len(y)), val_idx)
    return val_idx, test_idx


def _load(name: str, kind: str, imbalance: float | None, root: str | os.PathLike | None, download: bool,
          seed: int, val_per_class: int, augment: bool, groups: str) -> LabData:
    path = resolve_root(root)
    xtr, ytr, xte, yte, names = _read_cifar(name, kind, path, download)
    c = len(names)
    mean, std = _STATS[kind]
    if imbalance is None:
        train_idx = np.arange(len(ytr))
    else:
        counts = longtail_counts(len(ytr) // c, imbalance, c)  # LDAM: n_max = len(data) / C
        train_idx = longtail_subset(ytr, counts, seed)
    val_idx, test_idx = _val_test(yte, c, val_per_class, seed)

    def split(x: np.ndarray, y: np.ndarray, aug: bool = False) -> Split:
        return Split(CifarImages(x, y, mean, std, augment=aug), y)

    train = split(xtr[train_idx], ytr[train_idx], augment)
    class_counts = train.class_counts(c)
    meta = {"source": str(path / _layout(kind).folder), "seed": seed, "imbalance": imbalance,
            "val_from": "official test set", "val_per_class": val_per_class, "augment": augment,
            "normalize": {"mean": mean, "std": std}, "groups_mode": groups}
    return LabData(name=name, train=train, val=split(xte[val_idx], yte[val_idx]),
                   test=split(xte[test_idx], yte[test_idx]), classes=names, class_counts=class_counts,
                   groups=class_groups(class_counts, mode=groups), input_shape=(3, 32, 32), meta=meta)


def _info(num_classes: int) -> Callable[..., dict[str, Any]]:
    return lambda **_: {"num_classes": num_classes, "input_shape": (3, 32, 32)}


@register_dataset("cifar10", info=_info(10))
def cifar10(root: str | os.PathLike | None = None, download: bool = False, seed: int = 0,
            val_per_class: int = 10, augment: bool = False, groups: str = "auto") -> LabData:
    """CIFAR-10: 50,000 train images, 10 classes; val/test from the official test set.

    Args:
        root: folder that holds (or will hold) ``cifar-10-batches-py``; default
            ``$LABKIT_DATA`` or ``~/.cache/labkit/data``.
        download: fetch the archive with torchvision's downloader when files are missing.
        seed: seeds the val/test cut of the official test set.
        val_per_class: validation images per class held out of the test set.
        augment: random crop 32 (padding 4) + horizontal flip on the training split.
        groups: class-group mode (balanced data: every class is "medium" under "auto").
    """
    return _load("cifar10", "cifar10", None, root, download, seed, val_per_class, augment, groups)


@register_dataset("cifar100", info=_info(100))
def cifar100(root: str | os.PathLike | None = None, download: bool = False, seed: int = 0,
             val_per_class: int = 10, augment: bool = False, groups: str = "auto") -> LabData:
    """CIFAR-100 (fine labels): 50,000 train images, 100 classes; options as :func:`cifar10`."""
    return _load("cifar100", "cifar100", None, root, download, seed, val_per_class, augment, groups)


@register_dataset("cifar10-lt", info=_info(10))
def cifar10_lt(imbalance: float = 100.0, root: str | os.PathLike | None = None, download: bool = False,
               seed: int = 0, val_per_class: int = 10, augment: bool = False,
               groups: str = "thresholds") -> LabData:
    """CIFAR-10-LT (LDAM-DRW): ``int(5000 * IF^(-i/9))`` images of class i; IF=100 gives 12,406.

    ``seed`` seeds both the LDAM selection (seed 0 = the published subset) and the val cut.
    Other options as :func:`cifar10`.
    """
    return _load("cifar10-lt", "cifar10", imbalance, root, download, seed, val_per_class, augment, groups)


@register_dataset("cifar100-lt", info=_info(100))
def cifar100_lt(imbalance: float = 100.0, root: str | os.PathLike | None = None, download: bool = False,
                seed: int = 0, val_per_class: int = 10, augment: bool = False,
                groups: str = "thresholds") -> LabData:
    """CIFAR-100-LT (LDAM-DRW): ``int(500 * IF^(-i/99))`` images of class i.

    IF=100 -> 10,847 images, groups 35 / 35 / 30; IF=50 -> 12,608; IF=10 -> 19,573
    (docs/methods.md §1.1). Other options as :func:`cifar10_lt`.
    """
    return _load("cifar100-lt", "cifar100", imbalance, root, download, seed, val_per_class, augment, groups)
