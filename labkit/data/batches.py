"""``Batches``: any form of data a model can be run on, as ``(x, y)`` batches on a device.

Criteria, the influence engine, the sensitivity scan and the rescue searches accept data in
whatever form a notebook has at hand (:data:`DataLike`): a :class:`~labkit.data.Split`, an
``(x, y)`` pair of tensors, a bare input tensor ``x`` (no labels), or any iterable of
``(x, y)`` batches such as a ``DataLoader``. :class:`Batches` turns each of them into the same
thing: iterate to get ``(x, y)`` batches on ``device``, with ``y = None`` when there are no
labels. Tensor data stays available as ``.x`` / ``.y`` (whole, on the CPU) for code that wants
it in one piece.

Example:
    >>> x, y = torch.arange(10.0).view(5, 2), torch.tensor([0, 1, 0, 1, 1])
    >>> [tuple(xb.shape) for xb, _ in Batches((x, y), batch_size=2)]
    [(2, 2), (2, 2), (1, 2)]
    >>> b = Batches((x, y), classes=[0])          # only the items of class 0
    >>> b.y.tolist(), b.has_labels
    ([0, 0], True)
    >>> next(iter(Batches(x)))[1] is None         # bare inputs: no labels
    True
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import torch
from torch import Tensor

from ._base import Split

__all__ = ["Batches", "DataLike"]

#: What ``data=`` accepts: a :class:`~labkit.data.Split`, an ``(x, y)`` pair of tensors,
#: a bare input tensor ``x`` (no labels), or any iterable of ``(x, y)`` batches (a DataLoader).
DataLike = Split | tuple | Tensor | Iterable


class Batches:
    """Data normalised for running a model: iterate to get ``(x, y)`` batches on ``device``.

    Args:
        data: a :data:`DataLike`.
        batch_size: items per batch for tensor data (a loader keeps its own batches).
        device: where the batches go (default the CPU).
        classes: keep only the items whose label is in it (tensor data with labels only);
            that is how an attribution targets the few-shot classes.

    Raises:
        TypeError: ``data`` of another kind. ValueError: ``(x, y)`` of different lengths,
        a class filter without labels or that matches nothing, or empty data.
    """

    def __init__(self, data: DataLike, batch_size: int = 128, device: torch.device | None = None,
                 classes: Sequence[int] | None = None) -> None:
        self.batch_size = int(batch_size)
        self.device = device if device is not None else torch.device("cpu")
        self._loader: Iterable | None = None
        self.x: Tensor | None = None
        self.y: Tensor | None = None
        if isinstance(data, Split):
            self.x, self.y = data.tensors()
        elif isinstance(data, Tensor):
            self.x = data
        elif isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[0], Tensor):
            self.x, self.y = data[0], torch.as_tensor(data[1], dtype=torch.long)
            if len(self.x) != len(self.y):
                raise ValueError(f"data=(x, y) has {len(self.x)} inputs but {len(self.y)} labels")
        elif isinstance(data, Iterable):
            self._loader = data
        else:
            raise TypeError(f"data must be a Split, an (x, y) pair, a tensor or a DataLoader; "
                            f"got {type(data).__name__}")
        if classes is not None:
            if self.y is None:
                raise ValueError("a class target needs labelled data: pass a Split or an (x, y) pair")
            keep = torch.isin(self.y, torch.as_tensor(list(classes), dtype=torch.long))
            if not bool(keep.any()):
                raise ValueError(f"data has no items of classes {list(classes)}; pass a split that contains them")
            assert self.x is not None
            self.x, self.y = self.x[keep], self.y[keep]
        if self.x is not None and len(self.x) == 0:
            raise ValueError("data is empty; pass at least one item")

    @property
    def has_labels(self) -> bool:
        """True for labelled tensors and for loaders (whose batches are assumed to be ``(x, y)``)."""
        return self._loader is not None or self.y is not None

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor | None]]:
        if self._loader is not None:
            for batch in self._loader:
                x, y = (batch[0], batch[1]) if isinstance(batch, (tuple, list)) else (batch, None)
                yield x.to(self.device), (y.to(self.device) if y is not None else None)
            return
        assert self.x is not None
        for i in range(0, len(self.x), self.batch_size):
            x = self.x[i:i + self.batch_size].to(self.device)
            y = self.y[i:i + self.batch_size].to(self.device) if self.y is not None else None
            yield x, y
