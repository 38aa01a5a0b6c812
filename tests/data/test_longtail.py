"""longtail_counts against the published CIFAR-LT sizes; class_groups against docs/methods.md §1.1 / §1.7."""
from __future__ import annotations

import numpy as np
import pytest

from labkit.data import class_groups, longtail_counts


@pytest.mark.parametrize("imbalance, total", [(100, 10_847), (50, 12_608), (10, 19_573)])
def test_cifar100_lt_sizes_match_ldam(imbalance: float, total: int) -> None:
    counts = longtail_counts(500, imbalance, 100)
    assert sum(counts) == total
    assert counts[0] == 500 and counts[-1] == 500 // imbalance
    assert all(a >= b for a, b in zip(counts, counts[1:]))


def test_formula_is_ldam_code() -> None:
    # kaidic/LDAM-DRW imbalance_cifar.py: img_max * (imb_factor ** (cls_idx / (cls_num - 1.0)))
    ldam = [int(5000 * (0.01 ** (i / 9.0))) for i in range(10)]
    assert longtail_counts(5000, 100, 10) == ldam == [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]


def test_digits_lt_profile() -> None:
    assert longtail_counts(134, 20, 10) == [134, 96, 68, 49, 35, 25, 18, 13, 9, 6]


def test_balanced_and_single_class() -> None:
    assert longtail_counts(7, 1, 4) == [7, 7, 7, 7]
    assert longtail_counts(7, 50, 1) == [7]


def test_imbalance_below_one_names_the_fix() -> None:
    with pytest.raises(ValueError, match=r"imbalance=100"):
        longtail_counts(500, 0.01, 100)
    with pytest.raises(ValueError, match=">= 1"):
        longtail_counts(500, 0, 100)


def test_imbalance_that_empties_a_class() -> None:
    with pytest.raises(ValueError, match=r"class rank 99 .*largest imbalance .* is 500\.0"):
        longtail_counts(500, 501, 100)
    # 49 * (1/49) rounds below 1 in floating point: the advice must still be a value that works.
    with pytest.raises(ValueError, match="class rank 9") as info:
        longtail_counts(49, 49, 10)
    best = float(str(info.value).split("is ")[1].split(" ")[0])
    assert best < 49 and longtail_counts(49, best, 10)[-1] == 1
    assert "imbalance <= 48" in str(info.value)


@pytest.mark.parametrize("imbalance, sizes, ranges", [
    (100, (35, 35, 30), ((0, 35), (35, 70), (70, 100))),
    (50, (41, 41, 18), None),
    (10, (69, 31, 0), None),
])
def test_cifar100_lt_groups(imbalance: float, sizes: tuple, ranges: tuple | None) -> None:
    g = class_groups(longtail_counts(500, imbalance, 100), mode="thresholds")
    assert tuple(len(g[k]) for k in ("many", "medium", "few")) == sizes
    if ranges:
        for k, (lo, hi) in zip(("many", "medium", "few"), ranges):
            assert g[k] == list(range(lo, hi))
    assert class_groups(longtail_counts(500, imbalance, 100), mode="auto") == g or imbalance == 10


def test_thresholds_are_strict_at_the_ends() -> None:
    assert class_groups([101, 100, 20, 19], mode="thresholds") == {"many": [0], "medium": [1, 2], "few": [3]}


def test_thirds_digits_head_medium_tail() -> None:
    counts = np.array([25, 35, 96, 18, 68, 13, 49, 134, 6, 9])  # a permuted digits-LT profile
    g = class_groups(counts, mode="thirds")
    top3 = set(np.argsort(-counts)[:3].tolist())
    bottom3 = set(np.argsort(counts)[:3].tolist())
    assert set(g["many"]) == top3 and set(g["few"]) == bottom3 and len(g["medium"]) == 4
    # digits-LT spans both thresholds (134 > 100, 6 < 20), so "auto" picks them (1 / 5 / 4):
    # that is why the digits-lt loader asks for "thirds" explicitly.
    assert [len(v) for v in class_groups(counts).values()] == [1, 5, 4]
    assert class_groups([90, 60, 40, 30, 25]) == class_groups([90, 60, 40, 30, 25], mode="thirds")


def test_thirds_keep_ties_together() -> None:
    assert class_groups([10] * 9, mode="thirds") == {"many": [], "medium": list(range(9)), "few": []}


def test_every_class_in_exactly_one_group() -> None:
    rng = np.random.default_rng(0)
    for mode in ("auto", "thresholds", "thirds"):
        for _ in range(20):
            counts = rng.integers(0, 300, size=int(rng.integers(1, 40)))
            g = class_groups(counts, mode=mode)
            assert sorted(sum(g.values(), [])) == list(range(len(counts)))


def test_group_errors() -> None:
    with pytest.raises(ValueError, match="unknown group mode"):
        class_groups([5, 3], mode="quartiles")
    with pytest.raises(ValueError, match="non-empty 1-D"):
        class_groups([])
    with pytest.raises(ValueError, match="non-negative"):
        class_groups([5, -1])
