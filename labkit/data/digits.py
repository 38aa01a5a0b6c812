"""``digits`` and ``digits-lt``: the embedded, offline default datasets (docs/methods.md §0.1, §1.7).

The images are scikit-learn's handwritten digits (``sklearn.datasets.load_digits``): 1,797
grey images of 8x8 pixels with values 0..16, 10 classes, 174..183 images per class. They ship
inside scikit-learn, so every notebook works without internet.

How a split is made (same seed -> identical tensors):
    1. Optionally keep a subset of digits (``classes=[5, 6, 7, 8, 9]``), relabelled 0..k-1 in
       the order given (docs/methods.md §4.5 transfers from digits 0-4 to 5-9).
    2. Shuffle each class with ``numpy.random.default_rng(seed)`` and hold out a balanced test
       set (``test_per_class``, default 30) and val set (``val_per_class``, default 10). What
       remains (>= 134 per class) is the training *pool*.
    3. ``digits``: train = the whole pool, or its first ``shots`` images per class, or a
       ``train_fraction`` of it. ``digits-lt``: class of rank r gets
       ``longtail_counts(n_max=min pool size, imbalance, C)[r]`` images; which class has which
       rank is a seeded permutation (``class_order="permuted"``, docs/methods.md §1.7) recorded in
       ``meta["class_order"]``.
    4. Pixels are ``x / 16`` in [0, 1], shape (1, 8, 8), bilinearly upsampled to ``size``
       (default 16) for deeper nets; optional Gaussian noise (std ``noise``, clamped to [0, 1],
       drawn once, so it is part of the dataset rather than an augmentation) makes the task
       harder (docs/methods.md §5.7 uses ``noise=0.2, train_fraction=0.5``).

Example:
    >>> data = digits_lt(imbalance=20, seed=0, class_order="natural")
    >>> data.class_counts.tolist()
    [134, 96, 68, 49, 35, 25, 18, 13, 9, 6]
    >>> data.input_shape, len(data.test), [len(g) for g in data.groups.values()]
    ((1, 16, 16), 300, [3, 4, 3])
"""
from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import OptionError
from ._base import LabData, Split
from .longtail import class_groups, longtail_counts
from .registry import register_dataset

__all__ = ["digits", "digits_lt"]

_SPLITS = ("train", "val", "test")


@lru_cache(maxsize=1)
def _raw_digits() -> tuple[np.ndarray, np.ndarray]:
    """``(images (1797, 8, 8) float32 in [0, 1], labels int64)``, read once per process.

    ``load_digits`` reads ``sklearn/datasets/data/digits.csv.gz``; reading that file directly
    gives the same arrays (tests/data/test_digits.py checks it) without importing scikit-learn,
    which costs about two seconds.
    """
    spec = importlib.util.find_spec("sklearn")
    path = None
    if spec is not None and spec.submodule_search_locations:
        path = os.path.join(list(spec.submodule_search_locations)[0], "datasets", "data", "digits.csv.gz")
    if path is not None and os.path.exists(path):
        table = np.loadtxt(path, delimiter=",", dtype=np.float32)
        images, labels = table[:, :-1], table[:, -1]
    else:  # a scikit-learn that moved the file: take the public (slower) route
        from sklearn.datasets import load_digits

        bunch = load_digits()
        images, labels = bunch.data.astype(np.float32), bunch.target
    x = (images / 16.0).reshape(-1, 8, 8).astype(np.float32)
    y = np.asarray(labels, dtype=np.int64)
    x.flags.writeable = False  # the cache is shared: nobody may edit it in place
    y.flags.writeable = False
    return x, y


def _check_options(size: int, test_per_class: int | None, val_per_class: int, noise: float,
                   noise_splits: Sequence[str], train_fraction: float | None) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or not 8 <= size <= 64:
        raise OptionError(f"size must be an int in 8..64 (8 = native, 16 or 32 for deeper nets), got {size!r}")
    if test_per_class is not None and (not isinstance(test_per_class, int) or test_per_class < 1):
        raise OptionError(f"test_per_class must be an int >= 1, or None for 'all images not used', got {test_per_class!r}")
    if not isinstance(val_per_class, int) or val_per_class < 0:
        raise OptionError(f"val_per_class must be an int >= 0, got {val_per_class!r}")
    if not 0.0 <= noise <= 1.0:
        raise OptionError(f"noise is the std of Gaussian pixel noise on [0, 1] images; use 0..1, got {noise!r}")
    if isinstance(noise_splits, str):
        raise OptionError(f"noise_splits is a tuple of split names, e.g. ('train',); got the string {noise_splits!r}")
    bad = set(noise_splits) - set(_SPLITS)
    if bad:
        raise OptionError(f"noise_splits may contain {_SPLITS}, got {sorted(bad)}")
    if train_fraction is not None and not 0.0 < train_fraction <= 1.0:
        raise OptionError(f"train_fraction must be in (0, 1], got {train_fraction!r}")


def _class_subset(classes: Sequence[int] | None) -> list[int]:
    if classes is None:
        return list(range(10))
    keep = [int(c) for c in classes]
    if not keep or len(set(keep)) != len(keep) or not all(0 <= c <= 9 for c in keep):
        raise OptionError(f"classes must be distinct digits in 0..9, e.g. classes=[5, 6, 7, 8, 9]; got {list(classes)!r}")
    return keep


def _holdout(y: np.ndarray, num_classes: int, seed: int, test_per_class: int | None,
             val_per_class: int) -> list[dict[str, np.ndarray]]:
    """Per class: seeded shuffle, then ``test`` (unless None), ``val``, and the rest as ``pool``."""
    rng = np.random.default_rng(seed)
    parts = []
    for c in range(num_classes):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        t = test_per_class or 0
        if t + val_per_class >= len(idx):
            raise ValueError(f"class {c} has {len(idx)} images: cannot hold out {t} test + {val_per_class} val "
                             f"and keep a training pool; lower test_per_class / val_per_class")
        parts.append({"test": idx[:t], "val": idx[t:t + val_per_class], "pool": idx[t + val_per_class:]})
    return parts


def _images(x: np.ndarray, idx: np.ndarray, size: int) -> torch.Tensor:
    t = torch.from_numpy(x[idx].copy()).unsqueeze(1)  # (N, 1, 8, 8)
    if size != 8 and len(t):
        t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False).clamp_(0.0, 1.0)
    return t.contiguous()


def _assemble(name: str, *, keep: list[int], parts: list[dict[str, np.ndarray]], train_counts: list[int],
              test_rest: bool, size: int, seed: int, noise: float, noise_splits: Sequence[str],
              groups: str, meta: dict[str, Any]) -> LabData:
    """Cut each class's pool to its training count, build tensors, add noise, group classes."""
    x, y_all = _raw_digits()
    relabel = {d: i for i, d in enumerate(keep)}
    index: dict[str, list[np.ndarray]] = {s: [] for s in _SPLITS}
    for c, p in enumerate(parts):
        n = train_counts[c]
        index["train"].append(p["pool"][:n])
        index["val"].append(p["val"])
        index["test"].append(p["pool"][n:] if test_rest else p["test"])
    splits, rows = {}, {}
    for i, s in enumerate(_SPLITS):
        idx = rows[s] = np.concatenate(index[s]).astype(np.int64)
        xs = _images(x, idx, size)
        if noise > 0 and s in noise_splits:
            rng = np.random.default_rng([seed, 7, i])  # its own stream: noise never shifts the split
            xs = (xs + torch.from_numpy(rng.standard_normal(xs.shape, dtype=np.float32)) * noise).clamp_(0.0, 1.0)
        ys = torch.tensor([relabel[int(d)] for d in y_all[idx]], dtype=torch.long)
        splits[s] = Split.from_tensors(xs, ys)
    counts = np.asarray(train_counts, dtype=np.int64)
    meta = {"source": "sklearn.datasets.load_digits (bundled digits.csv.gz)", "digits": keep, "seed": seed,
            "size": size, "noise": noise, "noise_splits": list(noise_splits), "groups_mode": groups, **meta,
            "rows": {s: r.tolist() for s, r in rows.items()}}  # which load_digits images, in split order
    return LabData(name=name, train=splits["train"], val=splits["val"], test=splits["test"],
                   classes=[str(d) for d in keep], class_counts=counts, groups=class_groups(counts, mode=groups),
                   input_shape=(1, size, size), meta=meta)


def _fraction(counts: list[int], train_fraction: float | None) -> list[int]:
    if train_fraction is None:
        return counts
    return [max(1, int(round(train_fraction * n))) for n in counts]


def _digits_info(size: int = 16, classes: Sequence[int] | None = None, **_: Any) -> dict[str, Any]:
    keep = _class_subset(classes)
    return {"num_classes": len(keep), "input_shape": (1, size, size), "classes": [str(d) for d in keep]}


@register_dataset("digits", info=_digits_info)
def digits(seed: int = 0, size: int = 16, test_per_class: int | None = 30, val_per_class: int = 10,
           classes: Sequence[int] | None = None, shots: int | None = None, train_fraction: float | None = None,
           noise: float = 0.0, noise_splits: Sequence[str] = ("train",), groups: str = "thresholds") -> LabData:
    """The balanced digits dataset (1,397 train / 100 val / 300 test images at the defaults).

    Args:
        seed: seeds the per-class shuffle (which images are test/val/train) and the noise.
        size: side of the square images; 8 is native, larger is bilinear upsampling.
        test_per_class: balanced test images per class; ``None`` = every image not used for
            train or val (docs/methods.md §4.5: "the rest of 5-9 is the test set").
        val_per_class: balanced validation images per class (0 = empty val split).
        classes: keep only these digits, relabelled 0..k-1 in the given order.
        shots: take exactly ``shots`` training images per class (few-shot target, §4.5).
        train_fraction: keep this fraction of each class's training images (§5.7 uses 0.5).
        noise: std of Gaussian noise added to the ``noise_splits`` images (§5.7 uses 0.2).
        noise_splits: which splits get noise; default only ``("train",)``.
        groups: class-group mode for :func:`class_groups`. The default ``"thresholds"``
            groups by absolute count: the full digits set is all "many" (> 100 images per
            class), 15 shots are all "few". Rank thirds would cut nearly equal classes
            (134 vs 143 images) into arbitrary groups.

    Example:
        >>> target = digits(classes=[5, 6, 7, 8, 9], shots=15, test_per_class=None, size=32)
        >>> len(target.train), target.classes
        (75, ['5', '6', '7', '8', '9'])
    """
    _check_options(size, test_per_class, val_per_class, noise, noise_splits, train_fraction)
    keep = _class_subset(classes)
    if shots is not None and train_fraction is not None:
        raise ValueError("give either shots (images per class) or train_fraction, not both")
    _, y = _raw_digits()
    y_sub = np.array([keep.index(d) if d in keep else -1 for d in y])
    parts = _holdout(y_sub, len(keep), seed, test_per_class, val_per_class)
    pool = [len(p["pool"]) for p in parts]
    if shots is not None:
        if not isinstance(shots, int) or not 1 <= shots <= min(pool):
            raise ValueError(f"shots must be an int in 1..{min(pool)} (the smallest training pool), got {shots!r}")
        counts = [shots] * len(keep)
    else:
        counts = _fraction(pool, train_fraction)
    return _assemble("digits", keep=keep, parts=parts, train_counts=counts, test_rest=test_per_class is None,
                     size=size, seed=seed, noise=noise, noise_splits=noise_splits, groups=groups,
                     meta={"test_per_class": test_per_class, "val_per_class": val_per_class, "shots": shots,
                           "train_fraction": train_fraction, "pool_sizes": pool})


@register_dataset("digits-lt", info=_digits_info)
def digits_lt(imbalance: float = 20.0, seed: int = 0, class_order: str | Sequence[int] = "permuted",
              order_seed: int | None = None, size: int = 16, test_per_class: int = 30, val_per_class: int = 10,
              classes: Sequence[int] | None = None, train_fraction: float | None = None, noise: float = 0.0,
              noise_splits: Sequence[str] = ("train",), groups: str = "thirds") -> LabData:
    """Long-tailed digits (docs/methods.md §1.7): counts ``int(134 * IF^(-r/9))`` by class rank r.

    Args:
        imbalance: imbalance factor IF = n_max / n_min (20 gives 134 .. 6 images).
        seed: seeds which images are test / val / train, and the noise.
        class_order: ``"permuted"`` (seeded by ``order_seed``), ``"natural"`` (digit 0 is the
            head class), or an explicit list: ``class_order[r]`` is the class of rank r.
        order_seed: seed of the class permutation; default ``seed``. Vary it apart from
            ``seed`` for docs/methods.md §1.7's "3 seeds x 3 class permutations".
        groups: default ``"thirds"``: head = 3 most frequent, tail = 3 least frequent classes.
        size, test_per_class, val_per_class, classes, train_fraction, noise, noise_splits:
            as in :func:`digits`; the test and val sets stay balanced.

    ``meta["class_order"]`` records the order, ``meta["counts_by_rank"]`` the profile.
    """
    _check_options(size, test_per_class, val_per_class, noise, noise_splits, train_fraction)
    if test_per_class is None:
        raise ValueError("digits-lt needs a balanced test set: give test_per_class as an int (default 30)")
    keep = _class_subset(classes)
    k = len(keep)
    _, y = _raw_digits()
    y_sub = np.array([keep.index(d) if d in keep else -1 for d in y])
    parts = _holdout(y_sub, k, seed, test_per_class, val_per_class)
    pool = [len(p["pool"]) for p in parts]
    by_rank = longtail_counts(min(pool), imbalance, k)
    if isinstance(class_order, str):
        if class_order == "natural":
            order = list(range(k))
        elif class_order == "permuted":
            order_rng = np.random.default_rng([seed if order_seed is None else order_seed, 1])
            order = order_rng.permutation(k).tolist()
        else:
            raise ValueError(f"class_order must be 'permuted', 'natural' or a list of class indices, got {class_order!r}")
    else:
        order = [int(c) for c in class_order]
        if sorted(order) != list(range(k)):
            raise ValueError(f"an explicit class_order must be a permutation of 0..{k - 1}, got {list(class_order)!r}")
    counts = [0] * k
    for rank, c in enumerate(order):
        counts[c] = by_rank[rank]
    counts = _fraction(counts, train_fraction)
    return _assemble("digits-lt", keep=keep, parts=parts, train_counts=counts, test_rest=False, size=size,
                     seed=seed, noise=noise, noise_splits=noise_splits, groups=groups,
                     meta={"imbalance": imbalance, "class_order": order,
                           "order_seed": seed if order_seed is None else order_seed,
                           "counts_by_rank": by_rank, "test_per_class": test_per_class,
                           "val_per_class": val_per_class, "train_fraction": train_fraction, "pool_sizes": pool})
