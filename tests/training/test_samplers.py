"""Class-balanced resampling: classes equally likely, items uniform within a class, seeded."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from labkit.training.samplers import ClassBalancedSampler

TARGETS = np.array([0] * 90 + [1] * 9 + [2] * 1)
rng = np.random.default_rng(0)
SHUFFLED = rng.permutation(TARGETS)


def test_each_class_is_drawn_about_a_third_of_the_time() -> None:
    s = ClassBalancedSampler(SHUFFLED, num_samples=30_000, seed=0)
    idx = s.indices()
    freq = np.bincount(SHUFFLED[idx], minlength=3) / len(idx)
    assert freq == pytest.approx([1 / 3] * 3, abs=0.015)   # plain sampling would give .9/.09/.01


def test_items_within_a_class_are_uniform() -> None:
    s = ClassBalancedSampler(SHUFFLED, num_samples=60_000, seed=1)
    idx = s.indices()
    head = idx[SHUFFLED[idx] == 0]
    per_item = np.bincount(head, minlength=len(SHUFFLED))[SHUFFLED == 0]
    assert (per_item > 0).all()                                   # every head item is reachable
    assert per_item.std() / per_item.mean() < 0.2                 # ~ 222 draws each, sd ~ 15
    assert set(idx[SHUFFLED[idx] == 2].tolist()) == {int(np.flatnonzero(SHUFFLED == 2)[0])}


def test_seeded_per_epoch_and_advances_when_iterated() -> None:
    a, b = ClassBalancedSampler(SHUFFLED, seed=3), ClassBalancedSampler(SHUFFLED, seed=3)
    assert list(a) == list(b)                                     # epoch 0, same seed
    assert np.array_equal(a.indices(0), b.indices(0))
    assert not np.array_equal(a.indices(0), a.indices(1))
    assert a.epoch == 1 and list(a) == a.indices(1).tolist()      # iterating moved to epoch 1
    a.set_epoch(0)
    assert list(a) == b.indices(0).tolist()
    assert not np.array_equal(ClassBalancedSampler(SHUFFLED, seed=4).indices(0), b.indices(0))
    assert len(a) == len(SHUFFLED)


def test_works_as_a_dataloader_sampler() -> None:
    ds = TensorDataset(torch.arange(len(SHUFFLED)), torch.as_tensor(SHUFFLED))
    s = ClassBalancedSampler(torch.as_tensor(SHUFFLED), num_samples=40, seed=0)
    got = torch.cat([x for x, _ in DataLoader(ds, batch_size=16, sampler=s)])
    s.set_epoch(0)
    assert got.tolist() == list(s)


@pytest.mark.parametrize("bad, match", [([], "non-empty"), ([[0, 1]], "1-D"), ([0.5, 1.0], "integer"),
                                        ([-1, 0], "non-negative")])
def test_bad_targets_are_rejected(bad: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ClassBalancedSampler(np.asarray(bad))
