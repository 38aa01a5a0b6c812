"""An epoch's batches: its order, how the items are fetched, and the validation pass.

The order of epoch ``e`` is a pure function of the run's seed and ``e``: a shuffle drawn from
the epoch's generator, or the draw of a :class:`~labkit.training.samplers.ClassBalancedSampler`.
An in-memory split (:attr:`labkit.data.Split.in_memory`) is batched by indexing tensors that
live on the device, with no ``DataLoader``; other splits stream through a ``DataLoader``. Under
``torchrun`` every rank cuts the same order into the same global batches and keeps its slice
(:func:`labkit.training.distributed.shard`).

Example:
    >>> x, y = torch.arange(10.0).view(5, 2), torch.arange(5)
    >>> [(xb[:, 0].tolist(), n) for xb, _, n in tensor_batches(x, y, torch.tensor([4, 0, 2, 1, 3]), 2)]
    [([8.0, 0.0], 2), ([4.0, 2.0], 2), ([6.0], 1)]
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Sampler

from ..data import Split
from ..runtime import DevicePolicy
from .distributed import shard
from .samplers import ClassBalancedSampler

__all__ = ["epoch_order", "tensor_batches", "loader_batches", "first_input", "val_accuracy"]


def epoch_order(sampler: Sampler | None, n: int, epoch: int, gen: torch.Generator) -> Tensor:
    """The item order of epoch ``epoch``: the sampler's, or a shuffle of ``0..n-1`` drawn from ``gen``."""
    if sampler is not None and hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)
    if isinstance(sampler, ClassBalancedSampler):
        return torch.from_numpy(sampler.indices(epoch))
    if sampler is not None:
        return torch.as_tensor(list(sampler), dtype=torch.long)
    return torch.randperm(n, generator=gen)


def tensor_batches(x: Tensor, y: Tensor, order: Tensor, batch_size: int,
                   rank: int = 0, world: int = 1) -> Iterator[tuple[Tensor, Tensor, int]]:
    """Batches of ``order``: ``(x, y, global batch size)``; under DDP this rank's slice of each."""
    order = order.to(x.device)
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        mine = shard(idx, rank, world)
        yield x[mine], y[mine], len(idx)


def loader_batches(dataset: Dataset, order: Tensor, batch_size: int, rank: int,
                   world: int, pin_memory: bool = False) -> Iterator[tuple[Any, Any, int]]:
    """Like :func:`tensor_batches` for a dataset on disk (a ``DataLoader`` over this rank's slices).

    ``pin_memory`` (CUDA) returns page-locked batches for non-blocking copies to the device.
    """
    glob = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    loader = DataLoader(dataset, batch_sampler=[shard(g, rank, world).tolist() for g in glob],
                        pin_memory=pin_memory)
    for (xb, yb), g in zip(loader, glob):
        yield xb, yb, len(g)


def first_input(split: Split) -> Tensor:
    """The first item of ``split`` as a batch of one (for a probe forward pass)."""
    if split.in_memory:
        return split.tensors()[0][:1]
    return torch.as_tensor(split.dataset[0][0]).unsqueeze(0)


@torch.no_grad()
def val_accuracy(model: nn.Module, split: Split, device: torch.device | DevicePolicy,
                 batch_size: int) -> tuple[float, float]:
    """(accuracy, mean per-class accuracy) on ``split``; the model is left in the mode it had.

    ``device`` may be a :class:`~labkit.runtime.DevicePolicy` (autocast, pinned, channels-last).
    """
    policy = device if isinstance(device, DevicePolicy) else DevicePolicy(device)
    was = model.training
    model.eval()
    preds, ys = [], []
    with policy.autocast():
        if split.in_memory:
            x, y = split.tensors(policy.device)
            for i in range(0, len(y), batch_size):
                preds.append(model(policy.batch(x[i:i + batch_size])).argmax(1))
            ys.append(y)
        else:
            for xb, yb in split.loader(batch_size, pin_memory=policy.pin_memory):
                preds.append(model(policy.batch(xb)).argmax(1))
                ys.append(torch.as_tensor(yb).to(policy.device))
    model.train(was)
    p, t = torch.cat(preds).cpu().numpy(), torch.cat(ys).cpu().numpy()
    hit = p == t
    per_class = [hit[t == c].mean() for c in np.unique(t)]
    return float(hit.mean()), float(np.mean(per_class))
