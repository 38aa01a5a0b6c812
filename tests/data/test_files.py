"""The shared image pipeline and data-root rules of labkit/data/_files.py."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from labkit.data._files import ImageFiles, image_transform, resolve_root


def _gradient() -> Image.Image:
    a = np.add.outer(np.arange(40), np.arange(50)).astype(np.uint8) * 2
    return Image.fromarray(np.stack([a, a // 2, 255 - a], axis=-1))


def test_eval_transform_is_deterministic_and_normalised() -> None:
    tf = image_transform(16, augment=False, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    x = tf(_gradient())
    assert x.shape == (3, 16, 16) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert torch.equal(x, tf(_gradient()))


def test_augment_is_random_but_seeded() -> None:
    tf = image_transform(16, augment=True)
    torch.manual_seed(0)
    a = tf(_gradient())
    torch.manual_seed(0)
    b = tf(_gradient())
    torch.manual_seed(1)
    c = tf(_gradient())
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_image_files_reads_lazily(tmp_path: Path) -> None:
    _gradient().convert("L").save(tmp_path / "grey.png")  # grey input still gives 3 channels
    ds = ImageFiles([(str(tmp_path / "grey.png"), 4)], image_transform(8, augment=False))
    x, y = ds[0]
    assert x.shape == (3, 8, 8) and y == 4 and len(ds) == 1


def test_bad_size_and_root_rules(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(ValueError, match="size must be an int >= 8"):
        image_transform(4, augment=False)
    monkeypatch.setenv("LABKIT_DATA", str(tmp_path))
    assert resolve_root(None) == tmp_path.resolve()
    monkeypatch.delenv("LABKIT_DATA")
    assert resolve_root(None) == Path("~/.cache/labkit/data").expanduser().resolve()
