"""The long-tail profile and the many / medium / few class groups.

A long-tailed training set gives class ``i`` (of ``C``) an exponentially shrinking count

    n_i = int(n_max * IF ** (-i / (C - 1))),   i = 0 .. C-1

so the first class has ``n_max`` images and the last about ``n_max / IF``, where ``IF`` (the
imbalance factor, ``n_max / n_min``) is >= 1. This is the profile of LDAM-DRW (Cao et al. 2019,
arXiv 1906.07413; kaidic/LDAM-DRW ``imbalance_cifar.py``), computed exactly as that code does
(``n_max * (1/IF) ** (i / (C - 1.0))``, then ``int``) so CIFAR-100-LT sizes match the papers:
10,847 training images at IF=100, 12,608 at IF=50, 19,573 at IF=10.

Results on long-tailed data are reported per group of classes (Liu et al. 2019, OLTR;
Kang et al. 2020): *many* (> 100 training images), *medium* (20..100) and *few* (< 20).
With only a handful of classes (digits) the absolute thresholds make no sense, so the classes
are split into rank thirds instead (docs/methods.md §1.1, §1.7).

Example:
    >>> longtail_counts(134, 20, 10)
    [134, 96, 68, 49, 35, 25, 18, 13, 9, 6]
    >>> g = class_groups(longtail_counts(134, 20, 10), mode="thirds")
    >>> [len(g[k]) for k in ("many", "medium", "few")]
    [3, 4, 3]
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["longtail_counts", "class_groups", "GROUP_NAMES"]

GROUP_NAMES: tuple[str, str, str] = ("many", "medium", "few")


def _counts(n_max: int, imbalance: float, num_classes: int) -> list[int]:
    if num_classes == 1:
        return [int(n_max)]
    # Written as LDAM-DRW writes it (imb_factor = 1/IF): the float rounding, and therefore
    # every int(), then agrees with the published class sizes.
    return [int(n_max * ((1.0 / imbalance) ** (i / (num_classes - 1.0)))) for i in range(num_classes)]


def longtail_counts(n_max: int, imbalance: float, num_classes: int) -> list[int]:
    """Per-class training counts of an exponential long tail (LDAM-DRW profile).

    Args:
        n_max: images of the most frequent class (class rank 0), e.g. 500 for CIFAR-100.
        imbalance: imbalance factor IF = n_max / n_min, >= 1 (1 gives a balanced set).
        num_classes: number of classes C.

    Returns:
        ``[n_0, ..., n_{C-1}]``, non-increasing, every entry >= 1.

    Raises:
        ValueError: ``imbalance < 1``, or so large that a class would get 0 images (the
            message names the first emptied class and the largest IF that still works).

    Example:
        >>> sum(longtail_counts(500, 100, 100))
        10847
    """
    if isinstance(n_max, bool) or not isinstance(n_max, (int, np.integer)) or n_max < 1:
        raise ValueError(f"n_max must be a positive int (images of the largest class), got {n_max!r}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    if not isinstance(imbalance, (int, float, np.integer, np.floating)) or not math.isfinite(imbalance):
        raise ValueError(f"imbalance must be a finite number >= 1, got {imbalance!r}")
    if imbalance < 1:
        raise ValueError(
            f"imbalance={imbalance!r} is below 1; the imbalance factor is n_max / n_min, so pass "
            f"imbalance={1 / imbalance:g} if you meant the LDAM-DRW style imb_factor={imbalance!r}"
            if imbalance > 0 else
            f"imbalance={imbalance!r} is not a valid imbalance factor; pass a number >= 1 (n_max / n_min)"
        )
    counts = _counts(int(n_max), float(imbalance), int(num_classes))
    if counts[-1] >= 1:
        return counts
    empty = [i for i, n in enumerate(counts) if n < 1]
    best = _largest_imbalance(int(n_max), int(num_classes))
    raise ValueError(
        f"imbalance={imbalance!r} with n_max={n_max} leaves class rank {empty[0]} "
        f"(and {len(empty)} class(es) in all) with 0 images; the largest imbalance that keeps every "
        f"class at >= 1 image is {best!r} (use imbalance <= {math.floor(best)} for a whole number), "
        f"or raise n_max"
    )


def _largest_imbalance(n_max: int, num_classes: int) -> float:
    """The largest float IF for which the smallest class still gets >= 1 image.

    Mathematically it is ``n_max``; in floating point ``int(n * (1/n))`` can be 0 (n = 49),
    so step down ulp by ulp until the last count is 1.
    """
    best = float(n_max)
    while _counts(n_max, best, num_classes)[-1] < 1:
        best = float(np.nextafter(best, 0.0))
    return best


def class_groups(counts: Sequence[int] | np.ndarray, mode: str = "auto",
                 many: int = 100, few: int = 20) -> dict[str, list[int]]:
    """Split classes into ``{"many", "medium", "few"}`` by their training counts.

    Modes:
        ``"thresholds"``: many = count > ``many``; medium = ``few`` <= count <= ``many``;
            few = count < ``few`` (Liu et al. 2019 with docs/methods.md §1.1's strict ends, which
            reproduce the CIFAR-100-LT table: IF=100 -> 35 / 35 / 30 classes).
        ``"thirds"``: rank thirds by count, as the public variant in docs/methods.md §1.1:
            with ``d`` the counts sorted in decreasing order, ``many_thr = d[int(0.34 C)]``
            and ``few_thr = d[int(0.67 C)]``; many = count > many_thr, few = count < few_thr,
            medium = the rest. With distinct counts this gives 3 / 4 / 3 for C = 10 (digits-LT:
            head = 3 most frequent, tail = 3 least frequent). Classes with equal counts always
            land in the same group, so a perfectly balanced set is all "medium" rather than
            being cut arbitrarily.
        ``"auto"``: ``"thresholds"`` when the counts span both thresholds (max > ``many`` and
            min < ``few``: the real long-tail benchmarks), else ``"thirds"``.

    Returns:
        Class indices of each group, ascending; a group may be empty (CIFAR-100-LT at IF=10
        has no class below 20 images), and every class is in exactly one group.

    Example:
        >>> class_groups([150, 50, 10])
        {'many': [0], 'medium': [1], 'few': [2]}
    """
    c = np.asarray(counts)
    if c.ndim != 1 or c.size == 0:
        raise ValueError(f"counts must be a non-empty 1-D sequence of per-class counts, got shape {c.shape}")
    if not np.issubdtype(c.dtype, np.number) or (c < 0).any():
        raise ValueError("counts must be non-negative numbers (training images per class)")
    if not few <= many:
        raise ValueError(f"need few <= many for the thresholds, got few={few}, many={many}")
    if mode == "auto":
        mode = "thresholds" if (c.max() > many and c.min() < few) else "thirds"
    if mode == "thresholds":
        is_many, is_few = c > many, c < few
    elif mode == "thirds":
        d = np.sort(c)[::-1]
        many_thr, few_thr = d[int(0.34 * c.size)], d[int(0.67 * c.size)]
        is_many, is_few = c > many_thr, c < few_thr
    else:
        raise ValueError(f"unknown group mode {mode!r}; use 'auto', 'thresholds' or 'thirds'")
    is_medium = ~(is_many | is_few)
    return {name: np.flatnonzero(m).tolist() for name, m in zip(GROUP_NAMES, (is_many, is_medium, is_few))}
