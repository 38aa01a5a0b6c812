"""One layer's ablation job and the channel mask both engines use.

An engine (:mod:`.exact`, :mod:`.jvp`) measures ``Δ_d(i)`` for every channel ``i`` of one
layer. It does so ``K`` channels at a time: the cached input of the layer's segment is repeated
``K`` times along the batch axis, and copy ``j`` gets channel ``c0 + j`` zeroed at the layer's
measurement point by a 0/1 multiplier from :func:`channel_mask`. A :class:`LayerAblation`
says everything an engine needs about the layer; the :class:`~.reference.Reference` says
everything about the clean pass.

Example:
    >>> m = channel_mask(2, 1, 3, torch.Size([3, 1, 1]), 1, torch.ones(1))   # copies 0, 1 drop channels 1, 2
    >>> m.reshape(2, 3).tolist()
    [[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]]
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .reference import Reference

__all__ = ["LayerAblation", "Engine", "channel_mask", "StopForward"]


@dataclass(frozen=True)
class LayerAblation:
    """What an engine needs to ablate the channels of one layer.

    Attributes:
        point: the measurement module whose output channel is zeroed (the BatchNorm after a
            conv, :func:`labkit.models.topology.measure_module`).
        start: index of the segment to re-run from (the one containing ``point``).
        channels: number of output channels ``C``.
        dim: channel axis of ``point``'s batched output (1 for ``(N, C, H, W)``, -1 for ``(N, C)``).
        down: the depth sites to record, ``d = 1..T`` (the last may be ``"logits"``).
        per_pass: channels ablated per forward pass (``K``; memory grows with ``K · B``).
    """

    point: nn.Module
    start: int
    channels: int
    dim: int
    down: list[str]
    per_pass: int


#: ``engine(reference, job) -> (C, T) float tensor`` of ``Δ_d(i)``.
Engine = Callable[[Reference, LayerAblation], Tensor]


class StopForward(Exception):
    """Raised by a hook once the last needed site has been recorded: the rest need not run."""


def channel_mask(k: int, c0: int, channels: int, item_shape: torch.Size, dim: int, like: Tensor) -> Tensor:
    """A ``(k, 1, *item_shape)``-broadcastable 0/1 multiplier: copy ``j`` has channel ``c0 + j`` zeroed.

    ``dim`` is the channel axis of the batched output (1 for ``(N, C, H, W)``, -1 for ``(N, C)``);
    the mask takes ``like``'s dtype and device.
    """
    nd = len(item_shape)
    axis = (dim - 1 if dim > 0 else dim) % nd  # channel axis within one item
    view = [k, 1] + [1] * nd
    view[2 + axis] = channels
    m = torch.ones(view, dtype=like.dtype, device=like.device)
    j = torch.arange(k, device=like.device)
    sel = [j] + [torch.zeros_like(j)] * (nd + 1)
    sel[2 + axis] = c0 + j
    m[tuple(sel)] = 0
    return m
