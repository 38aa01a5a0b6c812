"""Batches: every DataLike form gives the same (x, y) batches; class filters and bad inputs."""
from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from labkit.data import Split
from labkit.data.batches import Batches


def _xy(n: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.arange(n * 3, dtype=torch.float32).view(n, 3), torch.arange(n) % 3


def _collect(b: Batches) -> tuple[torch.Tensor, torch.Tensor | None]:
    xs, ys = zip(*list(b))
    return torch.cat(xs), (None if ys[0] is None else torch.cat(ys))


@pytest.mark.parametrize("form", ["split", "pair", "loader"])
def test_every_labelled_form_gives_the_same_items(form: str) -> None:
    x, y = _xy()
    data = {"split": Split.from_tensors(x, y), "pair": (x, y),
            "loader": DataLoader(TensorDataset(x, y), batch_size=4)}[form]
    b = Batches(data, batch_size=3)
    assert b.has_labels
    gx, gy = _collect(b)
    assert torch.equal(gx, x) and torch.equal(gy, y)


def test_tensor_batches_have_the_batch_size_and_no_labels_for_bare_inputs() -> None:
    x, _ = _xy(7)
    b = Batches(x, batch_size=3)
    assert [len(xb) for xb, yb in b] == [3, 3, 1]
    assert not b.has_labels and all(yb is None for _, yb in b)


def test_class_filter_keeps_only_those_classes() -> None:
    x, y = _xy(9)
    b = Batches((x, y), classes=[2])
    assert b.y.tolist() == [2, 2, 2] and torch.equal(b.x, x[y == 2])


def test_bad_inputs_say_what_to_pass() -> None:
    x, y = _xy(4)
    with pytest.raises(ValueError, match="4 inputs but 3 labels"):
        Batches((x, y[:3]))
    with pytest.raises(ValueError, match="labelled data"):
        Batches(x, classes=[0])
    with pytest.raises(ValueError, match="no items of classes"):
        Batches((x, y), classes=[7])
    with pytest.raises(ValueError, match="empty"):
        Batches(x[:0])
    with pytest.raises(TypeError, match="Split, an"):
        Batches(3.0)
