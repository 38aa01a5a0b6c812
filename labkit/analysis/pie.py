"""Pruning Identified Exemplars (PIEs): the test images a pruned population answers differently.

Hooker et al. 2019, "What Do Compressed Deep Neural Networks Forget?" (arXiv 1911.05248): train
a population of ``K`` dense models and ``K`` pruned ones. A test image is a **PIE** when the
*modal* (most frequent) label over the pruned population differs from the modal label over the
dense population. The true label plays no part: a PIE is an image the pruned models
*systematically* answer differently, right or wrong. Hooker et al. use ``K = 30``; the lab
uses ``K = 5`` (docs/methods.md §1.6). They found PIEs concentrate in rare and atypical images,
which is why the lab plots the PIE rate of each class against its training count ``n_i``.

Modal label: ``argmax`` of the label counts over the ``K`` models; a tie goes to the smallest
label (``numpy.argmax`` of ``bincount``; the same rule as ``scipy.stats.mode``). Write the ties
the same way for both populations and a tie can still make a PIE; with odd ``K`` and two
labels it cannot happen.

Example:
    >>> dense = torch.tensor([[0, 1, 2], [0, 1, 2], [0, 1, 1]])   # K=3 models x N=3 images
    >>> pruned = torch.tensor([[0, 2, 2], [0, 2, 2], [1, 1, 2]])
    >>> rep = pie(dense, pruned, targets=torch.tensor([0, 1, 2]))
    >>> rep.is_pie.tolist(), round(rep.rate, 3)
    ([False, True, False], 0.333)
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from ..data._base import Split
from ..runtime import resolve_device

__all__ = ["PIEReport", "modal_labels", "pie", "predict_labels"]


def _as_matrix(preds: Tensor | np.ndarray | Sequence[Sequence[int]], what: str) -> np.ndarray:
    p = np.asarray(preds.detach().cpu().numpy() if isinstance(preds, Tensor) else preds)
    if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 1:
        raise ValueError(f"{what} must be labels of shape (K models, N images), got shape {p.shape}; "
                         "stack one prediction row per model (predict_labels does this)")
    if not np.issubdtype(p.dtype, np.integer) or p.min() < 0:
        raise ValueError(f"{what} must hold non-negative integer class labels (argmax of the logits)")
    return p.astype(np.int64)


def modal_labels(preds: Tensor | np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """Most frequent label per image over the models: ``(K, N) -> (N,)``; ties -> smallest label.

    Example:
        >>> modal_labels(np.array([[0, 1, 3], [2, 1, 3], [2, 0, 1]])).tolist()
        [2, 1, 3]
    """
    p = _as_matrix(preds, "preds")
    C = int(p.max()) + 1 if num_classes is None else int(num_classes)
    if p.max() >= C:
        raise ValueError(f"labels go up to {int(p.max())} but num_classes={C}")
    counts = np.zeros((p.shape[1], C), dtype=np.int64)
    np.add.at(counts, (np.broadcast_to(np.arange(p.shape[1]), p.shape), p), 1)
    return counts.argmax(axis=1)


@dataclass(repr=False)
class PIEReport:
    """What :func:`pie` found.

    Attributes:
        is_pie: bool ``(N,)``, True where the modal labels differ.
        dense_modal, pruned_modal: modal label per image of each population.
        targets: true label per image (used only to group PIEs by class).
        per_class: one row per class: ``class, name, [n_train,] group, n_test, pies, pie_rate``.
        rate: fraction of all test images that are PIEs.
        k_dense, k_pruned: population sizes.
    """

    is_pie: np.ndarray
    dense_modal: np.ndarray
    pruned_modal: np.ndarray
    targets: np.ndarray
    per_class: pd.DataFrame
    rate: float
    k_dense: int
    k_pruned: int

    def __repr__(self) -> str:
        return (f"PIEReport(n_test={len(self.targets)}, pies={int(self.is_pie.sum())}, rate={self.rate:.3f}, "
                f"K={self.k_dense}/{self.k_pruned})")

    def by_group(self) -> dict[str, float]:
        """PIE rate pooled over the images of each long-tail group."""
        df = self.per_class.dropna(subset=["group"])
        present = list(dict.fromkeys(df["group"]))
        head_to_tail = [g for g in ("many", "medium", "few") if g in present]
        out = {}
        for g in head_to_tail + [g for g in present if g not in head_to_tail]:
            rows = df[df["group"] == g]
            out[str(g)] = float(rows["pies"].sum() / max(int(rows["n_test"].sum()), 1))
        return out


def pie(dense_preds: Tensor | np.ndarray, pruned_preds: Tensor | np.ndarray, targets: Tensor | np.ndarray, *,
        class_counts: Sequence[int] | np.ndarray | None = None, groups: Mapping[str, Sequence[int]] | None = None,
        classes: Sequence[str] | None = None, num_classes: int | None = None) -> PIEReport:
    """Find the PIEs between a dense and a pruned population (Hooker et al. 2019).

    Args:
        dense_preds, pruned_preds: predicted labels, shape ``(K, N)``: one row per model, the
            same ``N`` test images in the same order (:func:`predict_labels`). ``K`` may differ
            between the two populations.
        targets: the true label of each image, shape ``(N,)``: only used to count PIEs per class.
        class_counts: training images per class (the x axis of the PIE-rate view).
        groups: ``{"many": [...], "medium": [...], "few": [...]}`` class groups.
        classes: class names.
        num_classes: number of classes (default: from ``class_counts``, ``classes`` or the labels).
    """
    d, p = _as_matrix(dense_preds, "dense_preds"), _as_matrix(pruned_preds, "pruned_preds")
    y = np.asarray(targets.detach().cpu().numpy() if isinstance(targets, Tensor) else targets).astype(np.int64)
    if d.shape[1] != p.shape[1] or y.shape != (d.shape[1],):
        raise ValueError(f"dense_preds {d.shape}, pruned_preds {p.shape} and targets {y.shape} must cover the same "
                         "N test images: (K, N), (K', N) and (N,)")
    cands = [v for v in (num_classes, None if class_counts is None else len(class_counts),
                         None if classes is None else len(classes)) if v is not None]
    if len(set(cands)) > 1:
        raise ValueError(f"inconsistent numbers of classes (num_classes / class_counts / classes): {cands}")
    C = cands[0] if cands else int(max(d.max(), p.max(), y.max())) + 1
    if max(d.max(), p.max(), y.max()) >= C or y.min() < 0:
        raise ValueError(f"labels must lie in 0..{C - 1}")
    dm, pm = modal_labels(d, C), modal_labels(p, C)
    is_pie = dm != pm
    n_test = np.bincount(y, minlength=C)
    pies = np.bincount(y[is_pie], minlength=C)
    owner: list[str | None] = [None] * C
    for g, members in (groups or {}).items():
        for c in members:
            owner[int(c)] = g
    table: dict[str, object] = {"class": np.arange(C),
                                "name": list(classes) if classes is not None else [str(c) for c in range(C)]}
    if class_counts is not None:
        table["n_train"] = np.asarray(class_counts, dtype=np.int64)
    table.update({"group": owner, "n_test": n_test, "pies": pies})
    per_class = pd.DataFrame(table)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class["pie_rate"] = np.where(n_test > 0, pies / np.maximum(n_test, 1), np.nan)
    return PIEReport(is_pie, dm, pm, y, per_class, float(is_pie.mean()), d.shape[0], p.shape[0])


@torch.inference_mode()
def predict_labels(models: Sequence[nn.Module], split: Split, device: str | torch.device | None = None,
                   batch_size: int = 1024) -> Tensor:
    """Predicted labels of every model on ``split``: a ``(K, N)`` long tensor on the CPU.

    Each model runs in eval mode and is put back in the mode it had.
    """
    if not models:
        raise ValueError("models is empty; give the K models of a population")
    dev = resolve_device(device)
    x, _ = split.tensors()
    rows = []
    for m in models:
        was = m.training
        m.to(dev).eval()
        try:
            rows.append(torch.cat([m(x[i:i + batch_size].to(dev)).argmax(1).cpu()
                                   for i in range(0, len(x), batch_size)]))
        finally:
            m.train(was)
    return torch.stack(rows)
