"""Batch augmentations: RandomShift moves every image by at most max_shift pixels, reproducibly."""
import torch

from labkit.training.augment import RandomShift


def test_random_shift_moves_by_at_most_one_pixel():
    torch.manual_seed(0)
    x = torch.zeros(64, 1, 7, 7)
    x[:, :, 3, 3] = 1
    y = RandomShift(1)(x)
    pos = y[:, 0].flatten(1).argmax(1)
    r, c = pos // 7, pos % 7
    assert ((r - 3).abs() <= 1).all() and ((c - 3).abs() <= 1).all() and y.sum() == 64
    assert len(set(pos.tolist())) > 3  # it does shift
    assert torch.equal(RandomShift(0)(x), x)


def test_random_shift_is_seeded_by_torch_and_rejects_negative_shifts():
    x = torch.rand(16, 2, 6, 6)
    torch.manual_seed(3)
    a = RandomShift(2)(x)
    torch.manual_seed(3)
    assert torch.equal(a, RandomShift(2)(x))
    import pytest

    with pytest.raises(ValueError, match="max_shift"):
        RandomShift(-1)
