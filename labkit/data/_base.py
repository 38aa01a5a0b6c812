"""The data containers every stage of labkit receives: ``Split`` and ``LabData``.

A ``Split`` is a dataset plus its label vector. Small datasets (the embedded digits, CIFAR)
can be materialised once as two tensors and kept on the device, which is how the lab
evaluates without DataLoader overhead (docs/design.md §4). Large ones (ImageNet-LT) stream
through a ``DataLoader``.

``LabData`` bundles train / val / test splits with what long-tail analysis needs: the
training count of each class and the many / medium / few class groups. Your own data becomes
one with :meth:`LabData.from_tensors` (``(x, y)`` pairs) or :meth:`LabData.from_datasets`
(torch ``Dataset`` objects): class counts come from the training labels and the groups from
:func:`~labkit.data.longtail.class_groups`; without a validation split one is cut from the
training items (per class, seeded).

Example:
    >>> x, y = torch.rand(6, 1, 8, 8), torch.tensor([0, 0, 0, 1, 1, 2])
    >>> s = Split.from_tensors(x, y)
    >>> len(s), s.class_counts(3).tolist(), s.in_memory
    (6, [3, 2, 1], True)
    >>> d = LabData.from_tensors(train=(x, y), test=(x, y), val=(x, y), classes=["cat", "dog", "owl"])
    >>> d.class_counts.tolist(), d.groups, d.input_shape
    ([3, 2, 1], {'many': [0], 'medium': [1, 2], 'few': []}, (1, 8, 8))
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

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

    @classmethod
    def from_tensors(cls, train: tuple[Any, Any], test: tuple[Any, Any], val: tuple[Any, Any] | None = None, *,
                     classes: Sequence[str] | None = None, name: str = "tensors", groups: str = "auto",
                     val_fraction: float = 0.1, seed: int = 0) -> LabData:
        """Your own data held in memory: ``(x, y)`` pairs of tensors (or arrays) per split.

        Args:
            train, test: ``(x, y)`` with ``x`` of shape ``(N, C, H, W)`` (or ``(N, ...)``) and
                integer labels ``y`` in ``[0, num_classes)``.
            val: the validation split data-driven criteria score on; default: ``val_fraction``
                of each class's training items (at least one, and never a class's last one).
            classes: class names, index = label; default ``"0" .. "C-1"``.
            name: what the lab and reports call the data.
            groups: the many / medium / few rule of :func:`~labkit.data.longtail.class_groups`.
            seed: seeds the validation cut.
        """
        parts = {"train": train, "test": test, **({"val": val} if val is not None else {})}
        splits = {}
        for part, pair in parts.items():
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f"{part} must be an (x, y) pair of tensors, got {type(pair).__name__}")
            x, y = (torch.as_tensor(np.asarray(v)) if not isinstance(v, Tensor) else v for v in pair)
            if x.dim() < 2 or len(x) != len(y) or len(y) == 0:
                raise ValueError(f"{part}: x must be (N, ...) items and y (N,) labels with N > 0, got x "
                                 f"{tuple(x.shape)} and y {tuple(y.shape)}")
            if x.is_floating_point() is False:
                x = x.float()
            splits[part] = Split.from_tensors(x, y.long())
        return cls._assemble(splits, classes, name, groups, val_fraction, seed, {"source": "tensors"})

    @classmethod
    def from_datasets(cls, train: Dataset, test: Dataset, val: Dataset | None = None, *,
                      classes: Sequence[str] | None = None, name: str | None = None, groups: str = "auto",
                      val_fraction: float = 0.1, seed: int = 0) -> LabData:
        """Your own torch ``Dataset`` objects (``ds[i] -> (image tensor, label)``), streamed.

        Labels are read from ``ds.targets`` when the dataset has them (torchvision's do), else by
        one pass over the items; class names from ``classes`` or ``train.classes``. Other
        arguments as :meth:`from_tensors`. Example with torchvision (``transform=ToTensor()``)::

            LabData.from_datasets(CIFAR10(root, train=True, transform=T), CIFAR10(root, train=False, transform=T))
        """
        splits = {}
        for part, ds in (("train", train), ("test", test), ("val", val)):
            if ds is None:
                continue
            n = len(ds)  # type: ignore[arg-type]
            if n == 0:
                raise ValueError(f"{part} is empty")
            first = ds[0]
            if not isinstance(first, (tuple, list)) or not isinstance(first[0], Tensor):
                raise ValueError(f"{part}[0] must be an (image tensor, label) pair, got {type(first).__name__} of "
                                 f"{type(first[0]).__name__ if isinstance(first, (tuple, list)) else '?'}; "
                                 "give the dataset a transform that returns tensors (e.g. ToTensor())")
            targets = getattr(ds, "targets", None)
            if targets is None or len(targets) != n:
                targets = [int(ds[i][1]) for i in range(n)]
            splits[part] = Split(ds, targets)
        names = classes if classes is not None else getattr(train, "classes", None)
        return cls._assemble(splits, names, name or type(train).__name__, groups, val_fraction, seed,
                             {"source": "datasets"})

    @classmethod
    def _assemble(cls, splits: dict[str, Split], classes: Sequence[str] | None, name: str, groups: str,
                  val_fraction: float, seed: int, meta: dict[str, Any]) -> LabData:
        from .longtail import class_groups

        top = max(int(s.targets.max()) for s in splits.values()) + 1
        if min(int(s.targets.min()) for s in splits.values()) < 0:
            raise ValueError("labels must be 0 .. num_classes - 1; found a negative label")
        names = [str(c) for c in classes] if classes is not None else [str(i) for i in range(top)]
        if len(names) < top:
            raise ValueError(f"{len(names)} class names for labels up to {top - 1}; give one name per class")
        shapes = {p: tuple(s.dataset[0][0].shape) for p, s in splits.items()}
        if len(set(shapes.values())) != 1:
            raise ValueError(f"the splits' items differ in shape: {shapes}; resize them to one shape")
        if "val" not in splits:
            train, val = _cut(splits["train"], val_fraction, seed)
            splits = {**splits, "train": train, "val": val}
            meta = {**meta, "val": f"{val_fraction:g} of each class's training items (seed {seed})"}
        counts = splits["train"].class_counts(len(names))
        return cls(name, splits["train"], splits["val"], splits["test"], names, counts,
                   class_groups(counts, mode=groups), cast(tuple[int, int, int], shapes["train"]),
                   {**meta, "groups": groups})

    def __repr__(self) -> str:
        g = ", ".join(f"{k}={len(v)}" for k, v in self.groups.items())
        return (f"LabData({self.name!r}, train={len(self.train)}, val={len(self.val)}, "
                f"test={len(self.test)}, classes={self.num_classes}, groups: {g})")


def _cut(train: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """``(rest, val)``: ``round(fraction * n)`` items of each class (at least 1, never all) go to val."""
    if not 0 < fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {fraction}; or pass val=")
    rng = np.random.default_rng(seed)
    y = train.targets.numpy()
    val: list[np.ndarray] = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        val.append(idx[:min(max(1, round(fraction * len(idx))), len(idx) - 1)])
    v = np.sort(np.concatenate(val))
    rest = np.setdiff1d(np.arange(len(y)), v)
    return train.subset(rest), train.subset(v)
