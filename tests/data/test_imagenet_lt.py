"""imagenet-lt on a fabricated tree: tiny JPEGs plus OLTR-format split files."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from labkit.data import load_dataset
from labkit.data._files import IMAGENET_MEAN, IMAGENET_STD

WNIDS = ["n01440764", "n01443537", "n01484850"]
TRAIN_COUNTS = [101, 20, 19]  # many (> 100), medium (20..100), few (< 20)


def _jpeg(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (12, 10), (value, 255 - value, 40)).save(path, quality=95)


def make_imagenet_lt(root: Path, split_dir: Path | None = None) -> None:
    split_dir = split_dir or root
    split_dir.mkdir(parents=True, exist_ok=True)
    lines: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for label, (wnid, n) in enumerate(zip(WNIDS, TRAIN_COUNTS)):
        for i in range(n):
            rel = f"train/{wnid}/{wnid}_{i}.JPEG"
            _jpeg(root / rel, 60 * label)
            lines["train"].append(f"{rel} {label}")
        for split, per in (("val", 2), ("test", 3)):
            for i in range(per):
                rel = f"val/{wnid}/ILSVRC2012_val_{split}{label}{i:05d}.JPEG"
                _jpeg(root / rel, 60 * label)
                lines[split].append(f"{rel} {label}")
    for split, ls in lines.items():
        (split_dir / f"ImageNet_LT_{split}.txt").write_text("\n".join(ls) + "\n")


def test_loads_streaming_splits_with_groups(tmp_path: Path) -> None:
    make_imagenet_lt(tmp_path)
    data = load_dataset("imagenet-lt", root=tmp_path, size=32)
    assert data.classes == WNIDS and data.class_counts.tolist() == TRAIN_COUNTS
    assert data.groups == {"many": [0], "medium": [1], "few": [2]}
    assert (len(data.train), len(data.val), len(data.test)) == (140, 6, 9)
    assert not data.train.in_memory  # streamed, nothing materialised
    x, y = data.test.dataset[0]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and y == 0
    # a flat colour survives resize + crop; the value is the normalised JPEG colour
    expected = (torch.tensor([0, 255, 40]) / 255 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    torch.testing.assert_close(x.mean(dim=(1, 2)), expected, atol=0.05, rtol=0)
    assert data.input_shape == (3, 32, 32) and data.meta["empty_train_classes"] == 0


def test_split_dir_and_augment(tmp_path: Path) -> None:
    make_imagenet_lt(tmp_path / "images", split_dir=tmp_path / "splits")
    data = load_dataset("imagenet-lt", root=tmp_path / "images", split_dir=tmp_path / "splits", size=16,
                        augment=True)
    assert data.train.dataset[5][0].shape == (3, 16, 16)
    torch.manual_seed(0)
    a = data.test.dataset[0][0]
    torch.manual_seed(1)
    assert torch.equal(a, data.test.dataset[0][0])  # no augmentation outside train


def test_missing_files_explain_where_to_get_them(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="ImageNet_LT_train.txt") as info:
        load_dataset("imagenet-lt", root=tmp_path)
    assert str(tmp_path) in str(info.value) and "OpenLongTailRecognition" in str(info.value)
    with pytest.raises(ValueError, match="no download=True"):
        load_dataset("imagenet-lt", root=tmp_path, download=True)


def test_wrong_root_is_caught_early(tmp_path: Path) -> None:
    make_imagenet_lt(tmp_path / "images", split_dir=tmp_path / "splits")
    with pytest.raises(FileNotFoundError, match=r"lists train/n01440764/n01440764_0\.JPEG"):
        load_dataset("imagenet-lt", root=tmp_path / "splits")


def test_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    make_imagenet_lt(tmp_path)
    path = tmp_path / "ImageNet_LT_val.txt"
    path.write_text(path.read_text() + "val/n01440764/broken.JPEG n7\n")
    with pytest.raises(ValueError, match=r"ImageNet_LT_val\.txt:7: expected"):
        load_dataset("imagenet-lt", root=tmp_path)
