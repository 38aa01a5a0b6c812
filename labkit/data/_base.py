"""The data containers every stage of labkit receives: ``Split`` and ``LabData``.

A ``Split`` is a dataset plus its label vector. Small datasets (the embedded digits, CIFAR)
can be materialised once as two tensors and kept on the device, which is how the lab
evaluates without DataLoader overhead (docs/design.md §4). Large ones (ImageNet-LT) stream
through a ``DataLoader``.

``LabData`` bundles train / val / test splits with what long-tail analysis needs: the
training count of each class and the many / medium / few class groups.

Example:
    >>> x, y = torch.rand(6, 1, 8, 8), torch.tensor([0, 0, 0, 1, 1, 2])
    >>> s = Split.from_tensors(x, y)
    >>> len(s), s.class_counts(3).tolist(), s.in_memory
    (6, [3, 2, 1], True)
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

__all__ = ["Split", "LabData"]


class Split:
    """One split of a dataset: ``dataset[i] -> (image CxHxW float, label int)`` and ``targets``."""

    def __init__(self, dataset: Dataset, targets: Sequence[int] | Tensor | np.ndarray) -> None:
        self.dataset = dataset
        self.targets = torch.as_tensor(np.asarray(targets), dtype=torch.long)
        if len(self.targets) != len(dataset):  # type: ignore[arg-type]
            raise ValueError(f"{len(self.targets)} targets for a dataset of {len(dataset)} items")  # type: ignore[arg-type]
        self._tensors: tuple[Tensor, Tensor] | None = None
        self._on_device: dict[str, tuple[Tensor, Tensor]] = {}

    @classmethod
    def from_tensors(cls, x: Tensor, y: Tensor) -> Split:
        """A split held in memory; :meth:`tensors` is then free."""
        s = cls(TensorDataset(x, y), y)
        s._tensors = (x, torch.as_tensor(y, dtype=torch.long))
        return s

    def __len__(self) -> int:
        return len(self.targets)

    def __repr__(self) -> str:
        return f"Split(n={len(self)}, classes={int(self.targets.max()) + 1 if len(self) else 0})"

    @property
    def in_memory(self) -> bool:
        """True when the items are held as two tensors, so :meth:`tensors` costs nothing.

        Splits made by :meth:`from_tensors` (the embedded digits, CIFAR) are in memory from the
        start; a streamed split (ImageNet-LT, Flowers, an image folder) becomes so only after a
        first :meth:`tensors` call has stacked every item. Training and evaluation batch an
        in-memory split by indexing its tensors and stream the others through a ``DataLoader``.
        """
        return self._tensors is not None

    def class_counts(self, num_classes: int) -> np.ndarray:
        """Number of items of each class, shape ``(num_classes,)``."""
        return np.bincount(self.targets.numpy(), minlength=num_classes)

    def tensors(self, device: str | torch.device | None = None) -> tuple[Tensor, Tensor]:
        """All items stacked as ``(x, y)``; computed once, then cached (also per device)."""
        if self._tensors is None:
            xs = [self.dataset[i][0] for i in range(len(self))]
            self._tensors = (torch.stack([torch.as_tensor(v) for v in xs]), self.targets.clone())
        if device is None:
            return self._tensors
        key = str(torch.device(device))
        if key not in self._on_device:
            self._on_device[key] = (self._tensors[0].to(device), self._tensors[1].to(device))
        return self._on_device[key]

    def loader(self, batch_size: int = 256, shuffle: bool = False,
               generator: torch.Generator | None = None, num_workers: int = 0,
               pin_memory: bool = False) -> DataLoader:
        """A ``DataLoader`` over the split (seeded through ``generator`` when shuffling).

        ``pin_memory=True`` (CUDA: :attr:`labkit.runtime.DevicePolicy.pin_memory`) returns
        page-locked batches, so a ``non_blocking`` copy to the GPU overlaps with compute.
        """
        return DataLoader(self.dataset, batch_size=batch_size, shuffle=shuffle,
                          generator=generator, num_workers=num_workers, pin_memory=pin_memory)

    def subset(self, indices: Sequence[int] | Tensor | np.ndarray) -> Split:
        """The items at ``indices`` (in-memory splits stay in memory)."""
        idx = torch.as_tensor(np.asarray(indices), dtype=torch.long)
        if self._tensors is not None:
            x, y = self._tensors
            return Split.from_tensors(x[idx], y[idx])
        return Split(Subset(self.dataset, idx.tolist()), self.targets[idx])


@dataclass
class LabData:
    """A dataset as labkit sees it.

    Attributes:
        name: registry name, e.g. ``"digits-lt"``.
        train, val, test: the splits (val and test are class-balanced for long-tailed sets).
        classes: class names, index = label.
        class_counts: training images per class, shape ``(C,)``: what "many/few" refers to.
        groups: ``{"many": [...], "medium": [...], "few": [...]}`` class indices.
        input_shape: ``(C, H, W)`` of one image.
        meta: how it was made (imbalance factor, class order, seed, source path ...).
    """

    name: str
    train: Split
    val: Split
    test: Split
    classes: list[str]
    class_counts: np.ndarray
    groups: dict[str, list[int]]
    input_shape: tuple[int, int, int]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __repr__(self) -> str:
        g = ", ".join(f"{k}={len(v)}" for k, v in self.groups.items())
        return (f"LabData({self.name!r}, train={len(self.train)}, val={len(self.val)}, "
                f"test={len(self.test)}, classes={self.num_classes}, groups: {g})")
