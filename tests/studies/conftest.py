"""Fixtures shared by the study tests: tiny data files in the real on-disk formats."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from labkit.data.fabricate import fabricate_cifar100


def write_fake_cifar100(root: Path, train_per_class: int = 4, test_per_class: int = 2) -> Path:
    """The official CIFAR-100 python files (fine/coarse labels, uint8 rows), tiny, in the real format."""
    return fabricate_cifar100(root, train_per_class, test_per_class, prefix="c")


@pytest.fixture
def fake_cifar100(tmp_path: Path) -> Callable[..., Path]:
    """``fake_cifar100(train_per_class=4, test_per_class=2)`` writes the files under ``tmp_path``."""
    return lambda **kw: write_fake_cifar100(tmp_path, **kw)
