"""Masks during training: pruned weights start at zero and stay exactly zero.

``fit`` multiplies every masked parameter by its 0/1 mask before training (:func:`reapply`),
zeroes the gradients of pruned weights after each backward pass (:func:`mask_gradients`), and
re-multiplies after each optimizer step. The last step matters: Adam's moment estimates (and
weight decay) would otherwise move pruned weights away from zero again.

Example:
    >>> net = nn.Linear(3, 2)
    >>> masked = prepare_masks(net, {"weight": torch.tensor([True, False])})   # a filter mask
    >>> reapply(masked); net.weight[1].abs().sum().item()
    0.0
"""
from __future__ import annotations

import difflib
from collections.abc import Mapping

import torch
from torch import Tensor, nn

from ..pruning.apply import expand_masks

__all__ = ["MaskLike", "MaskedParam", "prepare_masks", "reapply", "mask_gradients"]

#: Parameter name -> bool tensor (True = kept), shaped like the parameter or ``(out_channels,)``.
MaskLike = Mapping[str, Tensor]
#: ``(name, parameter, 0/1 mask in the parameter's dtype and device)``.
MaskedParam = tuple[str, nn.Parameter, Tensor]


def prepare_masks(model: nn.Module, masks: MaskLike | None) -> list[MaskedParam]:
    """Check ``masks`` against ``model``; return the masked parameters with multiplicative masks.

    Filter-level :class:`~labkit.pruning.Masks` are first expanded so that a removed filter's
    bias and paired BatchNorm stay zero too (:func:`~labkit.pruning.expand_masks`); a plain dict
    of ``(out_channels,)`` flags covers only the parameters it names.

    Raises:
        TypeError: not a mapping, or a non-bool mask. KeyError: a name that is not a
        parameter. ValueError: a shape that fits neither the parameter nor its output channels.
    """
    if masks is None:
        return []
    if getattr(masks, "granularity", None) == "filter":
        masks = expand_masks(model, masks)  # type: ignore[arg-type]
    if not hasattr(masks, "items"):
        raise TypeError(f"masks must map parameter names to bool tensors, got {type(masks).__name__}")
    params = dict(model.named_parameters())
    out = []
    for name, m in masks.items():
        if name not in params:
            close = difflib.get_close_matches(name, list(params), n=3)
            raise KeyError(f"mask for {name!r}, which is not a parameter of the model"
                           + (f"; did you mean {close}?" if close else ""))
        p, m = params[name], torch.as_tensor(m)
        if m.dtype != torch.bool:
            raise TypeError(f"mask {name!r} has dtype {m.dtype}; masks are bool (True = kept): "
                            "pass mask.bool()")
        if m.shape != p.shape:
            if p.ndim >= 1 and m.shape == (p.shape[0],):  # filter mask: one flag per output channel
                m = m.view(-1, *([1] * (p.ndim - 1))).expand_as(p)
            else:
                raise ValueError(f"mask {name!r} has shape {tuple(m.shape)} but the parameter has "
                                 f"{tuple(p.shape)} (or ({p.shape[0]},) for a filter mask)")
        out.append((name, p, m.to(device=p.device, dtype=p.dtype)))
    return out


@torch.no_grad()
def reapply(masked: list[MaskedParam]) -> None:
    """Multiply every masked parameter by its mask, in place (pruned weights back to exactly 0)."""
    for _, p, m in masked:
        p.mul_(m)


def mask_gradients(masked: list[MaskedParam]) -> None:
    """Zero the gradients of pruned weights, so the optimizer step leaves them alone."""
    for _, p, m in masked:
        if p.grad is not None:
            p.grad.mul_(m)
