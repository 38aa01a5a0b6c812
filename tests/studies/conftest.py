"""Fixtures shared by the study tests: tiny data files in the real on-disk formats."""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Callable

import numpy as np
import pytest


def write_fake_cifar100(root: Path, train_per_class: int = 4, test_per_class: int = 2) -> Path:
    """The official CIFAR-100 python files (fine/coarse labels, uint8 rows), tiny, in the real format."""
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, per in (("train", train_per_class), ("test", test_per_class)):
        fine = rng.permutation(np.repeat(np.arange(100), per))
        with open(folder / name, "wb") as f:
            pickle.dump({b"fine_labels": fine.tolist(), b"coarse_labels": (fine // 5).tolist(),
                         b"data": rng.integers(0, 256, (len(fine), 3072), dtype=np.uint8)}, f, protocol=2)
    with open(folder / "meta", "wb") as f:
        pickle.dump({b"fine_label_names": [f"c{i}".encode() for i in range(100)]}, f, protocol=2)
    return root


@pytest.fixture
def fake_cifar100(tmp_path: Path) -> Callable[..., Path]:
    """``fake_cifar100(train_per_class=4, test_per_class=2)`` writes the files under ``tmp_path``."""
    return lambda **kw: write_fake_cifar100(tmp_path, **kw)
