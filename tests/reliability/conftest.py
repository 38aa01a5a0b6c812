"""Shared tiny objects for the reliability tests: digits data, a tiny CNN, masks, damaged files."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from PIL import Image

import labkit as lk


@pytest.fixture(scope="session")
def digits() -> lk.LabData:
    return lk.load_dataset("digits-lt", imbalance=20, seed=0)


@pytest.fixture()
def tiny() -> torch.nn.Module:
    torch.manual_seed(0)
    return lk.load_model("tiny_cnn", num_classes=10, in_channels=1)


@pytest.fixture(scope="session")
def tiny_lab(digits: lk.LabData) -> lk.Lab:
    torch.manual_seed(0)
    return lk.Lab(lk.load_model("tiny_cnn", num_classes=10, in_channels=1), digits, preview=None)


@pytest.fixture(scope="session")
def scores(tiny_lab: lk.Lab) -> lk.Scores:
    return tiny_lab.scores("magnitude")


def jpeg(path: Path, value: int = 80) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (10, 10), (value, 255 - value, 40)).save(path)
    return path


def image_folder(root: Path, classes: dict[str, int]) -> Path:
    """``root/<class>/<i>.png`` with ``classes[name]`` images each (0 makes an empty class folder)."""
    for c, n in classes.items():
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            jpeg(root / c / f"{i}.png", 40 * i % 255)
    return root


def unwritable_dir(tmp_path: Path) -> Path:
    """A folder nothing can be written into, root included (/sys refuses new files even to root)."""
    if os.geteuid() == 0:
        if not Path("/sys/kernel").is_dir():
            pytest.skip("running as root without /sys: no folder is read-only")
        return Path("/sys/kernel")
    ro = tmp_path / "read-only"
    ro.mkdir()
    ro.chmod(0o555)
    return ro
