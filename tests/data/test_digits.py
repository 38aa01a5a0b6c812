"""digits / digits-lt: the offline default (docs/methods.md §0.1, §1.7, §4.5, §5.7)."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from labkit.data import load_dataset
from labkit.data.digits import _raw_digits, digits, digits_lt


def _rows(data, split: str) -> np.ndarray:
    return np.asarray(data.meta["rows"][split])


def test_raw_arrays_equal_sklearn_load_digits() -> None:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x, y = _raw_digits()
    np.testing.assert_array_equal(y, bunch.target)
    np.testing.assert_allclose(x, bunch.images / 16.0, atol=1e-7)
    assert x.min() == 0.0 and x.max() == 1.0 and x.dtype == np.float32


def test_digits_lt_protocol() -> None:
    data = load_dataset("digits-lt", imbalance=20, seed=0, class_order="natural")
    assert data.class_counts.tolist() == [134, 96, 68, 49, 35, 25, 18, 13, 9, 6]
    assert data.train.class_counts(10).tolist() == data.class_counts.tolist()
    assert data.test.class_counts(10).tolist() == [30] * 10 and data.val.class_counts(10).tolist() == [10] * 10
    assert data.groups == {"many": [0, 1, 2], "medium": [3, 4, 5, 6], "few": [7, 8, 9]}
    assert data.classes == [str(d) for d in range(10)] and data.input_shape == (1, 16, 16)
    x, y = data.train.tensors()
    assert x.shape == (453, 1, 16, 16) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    # the images are the load_digits images of the recorded rows, with the recorded labels
    raw_x, raw_y = _raw_digits()
    np.testing.assert_array_equal(y.numpy(), raw_y[_rows(data, "train")])


def test_splits_are_disjoint_and_pool_is_at_least_134() -> None:
    data = digits_lt(seed=3)
    rows = {s: set(data.meta["rows"][s]) for s in ("train", "val", "test")}
    assert not (rows["train"] & rows["val"]) and not (rows["train"] & rows["test"]) and not (rows["val"] & rows["test"])
    assert min(data.meta["pool_sizes"]) == 134 and data.meta["counts_by_rank"][0] == 134


def test_same_seed_same_tensors_other_seed_other_split() -> None:
    a, b, c = digits_lt(seed=1), digits_lt(seed=1), digits_lt(seed=2)
    for s in ("train", "val", "test"):
        xa, ya = getattr(a, s).tensors()
        xb, yb = getattr(b, s).tensors()
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert a.meta["rows"]["test"] != c.meta["rows"]["test"]


def test_permuted_class_order_is_recorded_and_seeded() -> None:
    data = digits_lt(seed=0)
    order, by_rank = data.meta["class_order"], data.meta["counts_by_rank"]
    assert sorted(order) == list(range(10)) and order != list(range(10))
    assert [int(data.class_counts[c]) for c in order] == by_rank
    assert set(data.groups["many"]) == set(order[:3]) and set(data.groups["few"]) == set(order[-3:])
    other = digits_lt(seed=0, order_seed=5)  # same images held out, another permutation
    assert other.meta["rows"]["test"] == data.meta["rows"]["test"] and other.meta["class_order"] != order
    explicit = digits_lt(seed=0, class_order=order)
    assert explicit.class_counts.tolist() == data.class_counts.tolist()


def test_sizes_are_bilinear_upsamples() -> None:
    small, big = digits(size=8), digits(size=32)
    assert small.input_shape == (1, 8, 8) and big.train.tensors()[0].shape[1:] == (1, 32, 32)
    x8, x32 = small.test.tensors()[0], big.test.tensors()[0]
    np.testing.assert_allclose(F.interpolate(x8, size=(32, 32), mode="bilinear", align_corners=False).clamp(0, 1),
                               x32, atol=1e-6)


def test_noise_only_on_train_and_clamped() -> None:
    noisy, clean = digits(seed=0, noise=0.2), digits(seed=0)
    assert torch.equal(clean.test.tensors()[0], noisy.test.tensors()[0])
    assert torch.equal(clean.val.tensors()[0], noisy.val.tensors()[0])
    xn, xc = noisy.train.tensors()[0], clean.train.tensors()[0]
    assert 0 <= xn.min() and xn.max() <= 1
    inside = (xc > 0.4) & (xc < 0.6)  # mid-grey pixels are rarely clamped: the difference is the noise
    assert 0.17 < float((xn - xc)[inside].std()) < 0.23
    assert torch.equal(noisy.train.tensors()[0], digits(seed=0, noise=0.2).train.tensors()[0])
    everywhere = digits(seed=0, noise=0.2, noise_splits=("train", "val", "test"))
    assert not torch.equal(everywhere.test.tensors()[0], clean.test.tensors()[0])


def test_train_fraction_halves_each_class() -> None:
    full, half = digits(seed=0), digits(seed=0, train_fraction=0.5)
    assert half.class_counts.tolist() == [round(n / 2) for n in full.class_counts.tolist()]
    assert set(half.meta["rows"]["train"]) <= set(full.meta["rows"]["train"])
    assert half.meta["rows"]["test"] == full.meta["rows"]["test"]


def test_class_subset_relabels_and_few_shot_target() -> None:
    data = digits(classes=[5, 6, 7, 8, 9], shots=15, test_per_class=None, size=8, seed=4)
    raw_x, raw_y = _raw_digits()
    assert data.classes == ["5", "6", "7", "8", "9"] and data.class_counts.tolist() == [15] * 5
    x, y = data.test.tensors()
    np.testing.assert_array_equal(y.numpy() + 5, raw_y[_rows(data, "test")])
    np.testing.assert_array_equal(x[:, 0].numpy(), raw_x[_rows(data, "test")])
    used = set(data.meta["rows"]["train"]) | set(data.meta["rows"]["val"]) | set(data.meta["rows"]["test"])
    assert used == set(np.flatnonzero(raw_y >= 5).tolist())  # "the rest of 5-9 is the test set"
    assert len(data.test) == int((raw_y >= 5).sum()) - 5 * 15 - 5 * 10
    assert data.groups["few"] == [0, 1, 2, 3, 4]
    assert digits(classes=[5, 6, 7, 8, 9], shots=15, seed=5).meta["rows"]["train"] != data.meta["rows"]["train"]


def test_errors_name_the_fix() -> None:
    with pytest.raises(ValueError, match=r"shots must be an int in 1\.\.134"):
        digits(shots=500)
    with pytest.raises(ValueError, match="not both"):
        digits(shots=5, train_fraction=0.5)
    with pytest.raises(ValueError, match="distinct digits"):
        digits(classes=[3, 3])
    with pytest.raises(ValueError, match=r"tuple of split names"):
        digits(noise=0.2, noise_splits="train")
    with pytest.raises(ValueError, match="size must be"):
        digits(size=4)
    with pytest.raises(ValueError, match="balanced test set"):
        digits_lt(test_per_class=None)
    with pytest.raises(ValueError, match="permutation"):
        digits_lt(class_order=[0, 1, 2])
    with pytest.raises(ValueError, match="largest imbalance"):
        digits_lt(imbalance=200)
    with pytest.raises(ValueError, match="imbalance=20"):
        digits_lt(imbalance=0.05)


def test_loads_well_under_a_second() -> None:
    _raw_digits.cache_clear()
    t = time.perf_counter()
    load_dataset("digits-lt", seed=0)
    load_dataset("digits", size=32)
    assert time.perf_counter() - t < 1.0
