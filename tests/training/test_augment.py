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


def test_random_crop_flip_is_torchvisions_crop_then_flip_per_image():
    from labkit.training.augment import RandomCropFlip

    x = torch.randn(32, 3, 8, 8)
    torch.manual_seed(1)
    out = RandomCropFlip(2)(x)
    torch.manual_seed(1)  # the same draws, replayed image by image: crop the zero-padded image, then flip
    dy, dx = torch.randint(0, 5, (2, 32))
    flip = torch.rand(32) < 0.5
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    ref = torch.stack([padded[i, :, dy[i]:dy[i] + 8, dx[i]:dx[i] + 8] for i in range(32)])
    ref[flip] = ref[flip].flip(-1)
    assert torch.equal(out, ref) and 0 < int(flip.sum()) < 32


def test_random_crop_flip_pads_with_the_fill_colour():
    import pytest

    from labkit.training.augment import RandomCropFlip

    torch.manual_seed(0)
    out = RandomCropFlip(4, flip=False, fill=(-1.0, -2.0))(torch.ones(64, 2, 4, 4))
    assert set(out[:, 0].unique().tolist()) == {-1.0, 1.0} and set(out[:, 1].unique().tolist()) == {-2.0, 1.0}
    with pytest.raises(ValueError, match="3 channels"):
        RandomCropFlip(1, fill=(0.0,))(torch.ones(2, 3, 4, 4))
