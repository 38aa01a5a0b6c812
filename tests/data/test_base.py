"""Split: in memory or streamed, and what tensors() / subset() do to each."""
from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

from labkit.data import Split


def test_from_tensors_is_in_memory_and_subsets_stay_so() -> None:
    x, y = torch.rand(6, 1, 2, 2), torch.tensor([0, 1, 2, 0, 1, 2])
    s = Split.from_tensors(x, y)
    assert s.in_memory
    sub = s.subset([4, 1])
    assert sub.in_memory and torch.equal(sub.tensors()[0], x[[4, 1]]) and sub.targets.tolist() == [1, 1]


def test_a_streamed_split_is_in_memory_only_after_tensors() -> None:
    x, y = torch.rand(5, 3), torch.tensor([0, 1, 0, 1, 1])
    s = Split(TensorDataset(x, y), y)
    assert not s.in_memory and not s.subset([0, 1]).in_memory
    gx, gy = s.tensors()
    assert s.in_memory and torch.equal(gx, x) and torch.equal(gy, y)
