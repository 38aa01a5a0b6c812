"""Split: in memory or streamed, and what tensors() / subset() do to each; LabData from your own data."""
from __future__ import annotations

import re

import pytest
import torch
from torch.utils.data import TensorDataset

from labkit.data import LabData, Split, class_groups


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


# --- LabData from your own tensors and datasets ----------------------------------------------------
def _pair(counts, shape=(1, 4, 4), seed=0):
    y = torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])
    return torch.rand(len(y), *shape, generator=torch.Generator().manual_seed(seed)), y


def test_labdata_from_tensors_computes_counts_groups_and_cuts_a_stratified_val():
    train, test = _pair([200, 50, 10]), _pair([5, 5, 5])
    d = LabData.from_tensors(train, test, classes=["a", "b", "c"], name="mine")
    # 10 % of each class goes to val (at least one), the rest is what the counts count
    assert len(d.val) == 20 + 5 + 1 and d.class_counts.tolist() == [180, 45, 9]
    assert d.groups == {"many": [0], "medium": [1], "few": [2]}  # > 100, 20..100, < 20 (thresholds)
    assert d.input_shape == (1, 4, 4) and d.num_classes == 3 and d.name == "mine"
    tr, va = d.train.tensors(), d.val.tensors()
    assert len(tr[0]) + len(va[0]) == 260 and d.train.in_memory and d.test.in_memory
    # the cut is a partition of the training items: no item is in both
    rows = {tuple(r.flatten().tolist()) for r in tr[0]}
    assert not any(tuple(r.flatten().tolist()) in rows for r in va[0])
    # an explicit val is kept, and the names default to the label numbers
    e = LabData.from_tensors(train, test, val=test)
    assert len(e.val) == 15 and e.class_counts.tolist() == [200, 50, 10] and e.classes == ["0", "1", "2"]


@pytest.mark.parametrize("kw, words", [
    ({"train": (torch.rand(3, 1, 4, 4), torch.tensor([0, 1]))}, "x must be (N, ...)"),
    ({"classes": ["a"]}, "1 class names for labels up to 2"),
    ({"test": (torch.rand(3, 1, 5, 5), torch.tensor([0, 1, 2]))}, "differ in shape"),
    ({"train": (torch.rand(3, 1, 4, 4), torch.tensor([0, -1, 2]))}, "negative label"),
])
def test_labdata_from_tensors_rejects_bad_input_naming_the_fix(kw, words):
    args = {"train": _pair([3, 3, 3]), "test": _pair([2, 2, 2]), **kw}
    with pytest.raises(ValueError, match=re.escape(words)):
        LabData.from_tensors(**args)


class _Items(torch.utils.data.Dataset):
    """A user's Dataset: items computed on access, labels only by indexing (no .targets)."""

    def __init__(self, x, y, pil=False):
        self.x, self.y, self.pil = x, y, pil

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return (self.x[i].tolist() if self.pil else self.x[i]), int(self.y[i])


def test_labdata_from_datasets_reads_labels_and_class_names():
    train, test = _Items(*_pair([30, 12, 4])), _Items(*_pair([3, 3, 3]))
    train.classes = ["x", "y", "z"]
    d = LabData.from_datasets(train, test, val=test)
    assert d.classes == ["x", "y", "z"] and d.class_counts.tolist() == [30, 12, 4] and d.name == "_Items"
    assert not d.train.in_memory and d.groups == class_groups([30, 12, 4]) == {"many": [0], "medium": [1, 2], "few": []}
    cut = LabData.from_datasets(train, test)
    assert len(cut.val) == 3 + 1 + 1 and int(cut.class_counts.sum()) == 41
    with pytest.raises(ValueError, match="transform that returns tensors"):
        LabData.from_datasets(_Items(*_pair([2, 2]), pil=True), test)
