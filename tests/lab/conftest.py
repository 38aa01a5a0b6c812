"""Small fabricated many-class data for the live-set and cache tests (seconds, not minutes)."""
from __future__ import annotations

import numpy as np
import torch

from labkit.data import LabData
from labkit.data._base import Split


def many_class_data(classes: int = 20, test_per_class: int = 30, seed: int = 0) -> LabData:
    """``classes`` classes of 1x8x8 images whose mean encodes the class; long-tailed train counts."""
    g = torch.Generator().manual_seed(seed)

    def split(per: int) -> Split:
        y = torch.arange(classes).repeat_interleave(per)
        x = torch.randn(len(y), 1, 8, 8, generator=g) + (y.view(-1, 1, 1, 1).float() / classes)
        return Split.from_tensors(x, y)

    counts = np.array([max(1, int(100 * 0.9 ** c)) for c in range(classes)])
    third = classes // 3
    groups = {"many": list(range(third)), "medium": list(range(third, 2 * third)),
              "few": list(range(2 * third, classes))}
    return LabData("fab", split(4), split(3), split(test_per_class), [f"class {c}" for c in range(classes)],
                   counts, groups, (1, 8, 8))
