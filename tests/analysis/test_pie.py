"""PIEs (Hooker et al. 2019) on a constructed case whose answer is known by hand."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from labkit.analysis.pie import modal_labels, pie, predict_labels
from labkit.data import Split


def test_modal_label_is_the_most_frequent_with_ties_to_the_smallest():
    p = np.array([[0, 1, 3, 2, 4],
                  [2, 1, 3, 0, 1],
                  [2, 0, 1, 1, 0]])
    # columns: {0,2,2} -> 2; {1,1,0} -> 1; {3,3,1} -> 3; {2,0,1} three-way tie -> 0; {4,1,0} -> 0
    assert modal_labels(p).tolist() == [2, 1, 3, 0, 0]
    assert modal_labels(p, num_classes=6).tolist() == [2, 1, 3, 0, 0]
    with pytest.raises(ValueError, match="num_classes"):
        modal_labels(p, num_classes=3)


def test_pie_on_a_constructed_population():
    # 8 test images, true labels: class 0 (4 images), class 1 (2), class 2 (2); K = 3 dense, K = 5 pruned.
    y = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    dense = np.array([[0, 0, 0, 1, 1, 1, 2, 0],
                      [0, 0, 0, 1, 1, 0, 2, 0],
                      [0, 0, 1, 0, 1, 1, 2, 2]])
    #        modal:    0  0  0  1  1  1  2  0
    pruned = np.array([[0, 0, 0, 1, 1, 0, 0, 0],
                       [0, 0, 0, 1, 0, 0, 0, 2],
                       [0, 1, 0, 1, 1, 0, 0, 2],
                       [0, 0, 0, 2, 1, 1, 2, 2],
                       [0, 0, 1, 2, 1, 1, 0, 1]])
    #        modal:    0  0  0  1  1  0  0  2
    # PIEs: image 5 (1 -> 0), image 6 (2 -> 0) and image 7 (0 -> 2). Image 3 is wrong in both
    # populations (true 0, modal 1) but not a PIE: the populations agree; PIEs ignore the truth.
    rep = pie(dense, pruned, y, class_counts=[100, 20, 5], groups={"many": [0], "medium": [1], "few": [2]},
              classes=["a", "b", "c"])
    assert rep.dense_modal.tolist() == [0, 0, 0, 1, 1, 1, 2, 0]
    assert rep.pruned_modal.tolist() == [0, 0, 0, 1, 1, 0, 0, 2]
    assert rep.is_pie.tolist() == [False, False, False, False, False, True, True, True]
    assert rep.rate == pytest.approx(3 / 8)
    pc = rep.per_class.set_index("class")
    assert pc["pies"].tolist() == [0, 1, 2] and pc["n_test"].tolist() == [4, 2, 2]
    assert pc["pie_rate"].tolist() == pytest.approx([0.0, 0.5, 1.0])
    assert pc["n_train"].tolist() == [100, 20, 5] and pc["group"].tolist() == ["many", "medium", "few"]
    assert pc["name"].tolist() == ["a", "b", "c"]
    assert rep.by_group() == pytest.approx({"many": 0.0, "medium": 0.5, "few": 1.0})
    assert (rep.k_dense, rep.k_pruned) == (3, 5)
    assert pie(dense, dense, y).rate == 0.0  # a population agrees with itself


def test_pie_rejects_mismatched_inputs():
    d = np.zeros((3, 4), dtype=int)
    with pytest.raises(ValueError, match="same"):
        pie(d, np.zeros((3, 5), dtype=int), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match=r"\(K models, N images\)"):
        pie(np.zeros(4, dtype=int), d, np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="integer class labels"):
        pie(d.astype(float) + 0.5, d, np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="inconsistent"):
        pie(d, d, np.zeros(4, dtype=int), class_counts=[1, 2], classes=["a", "b", "c"])


class _Const(nn.Module):
    """Always predicts class ``c`` (a model whose answer we know)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.c = c
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(len(x), 3) + self.w
        out[:, self.c] = 1.0
        return out


def test_predict_labels_stacks_one_row_per_model():
    split = Split.from_tensors(torch.zeros(5, 1, 2, 2), torch.tensor([0, 1, 2, 0, 1]))
    preds = predict_labels([_Const(2), _Const(0), _Const(2)], split, device="cpu", batch_size=2)
    assert preds.shape == (3, 5) and preds[:, 0].tolist() == [2, 0, 2]
    rep = pie(preds, predict_labels([_Const(1)], split, device="cpu"), split.targets)
    assert rep.is_pie.all() and rep.rate == 1.0
    with pytest.raises(ValueError, match="empty"):
        predict_labels([], split)
