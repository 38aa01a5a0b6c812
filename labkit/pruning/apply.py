"""Apply masks: write ``dense * mask`` into a copy. The dense model is never touched.

No forward hooks and no ``weight_orig`` re-parametrisation (contrast
``torch.nn.utils.prune``): the pruned copy is an ordinary module whose zeros are real weights,
so a masked forward costs exactly what a dense one does, and the lab can re-apply new masks into
the same working copy (``out=``) without allocating a model per slider move.

Filter masks switch the whole output channel off: the conv / linear row, its bias, and the
affine weight and bias of the BatchNorm right after it (:func:`labkit.models.topology.paired_norm`).
With ``gamma = beta = 0`` the normalised channel is exactly zero whatever its running
statistics, which is what lets :func:`~labkit.pruning.compact` remove it without changing the
output.

:func:`expand_masks` returns these parameter-shaped masks; a mask-preserving fine-tune
multiplies gradients (and, after each optimiser step, the weights) by them.

Example:
    >>> net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Conv2d(2, 2, 3))
    >>> pruned = apply_masks(net, Masks({"0.weight": torch.tensor([True, False])}, "filter"))
    >>> with torch.no_grad():
    ...     float(pruned[0].weight[1].abs().sum()), float(pruned[1].bias[1]), bool(net[0].weight[1].any())
    (0.0, 0.0, True)
"""
from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from ..errors import MismatchError, OptionError, UnknownNameError
from ..models.topology import paired_norms
from .masks import Masks

__all__ = ["apply_masks", "expand_masks", "check_masks"]


def check_masks(model: nn.Module, masks: Masks) -> None:
    """Every masked name is a parameter of ``model`` and every mask fits its shape."""
    if not isinstance(masks, Masks):
        raise OptionError(f"masks must be a labkit Masks, got {type(masks).__name__}; build them with lk.make_masks")
    params = dict(model.named_parameters())
    for name, m in masks.items():
        if name not in params:
            raise UnknownNameError(f"unknown layer {name!r}: the model has no such parameter (masks made for another "
                                   f"model?); parameters look like {', '.join(list(params)[:3])} ...")
        p = params[name]
        want = tuple(p.shape) if masks.granularity == "weight" else (p.shape[0],)
        if tuple(m.shape) != want:
            raise MismatchError(f"mask shape mismatch for {name!r}: mask {tuple(m.shape)}, but {masks.granularity} "
                                f"masks of this parameter need {want}; were the masks made for another model or "
                                f"granularity?")


def expand_masks(model: nn.Module, masks: Masks) -> dict[str, Tensor]:
    """Parameter-shaped bool masks for every parameter the masks touch, on the parameter's device.

    Weight masks map one to one. A filter mask on ``conv.weight`` also yields masks for
    ``conv.bias`` and the paired BatchNorm's ``weight`` and ``bias``.
    """
    check_masks(model, masks)
    names = {m: n for n, m in model.named_modules()}
    norms = paired_norms(model, list(masks)) if masks.granularity == "filter" else {}
    out: dict[str, Tensor] = {}
    for name, m in masks.items():
        p = model.get_parameter(name)
        m = m.to(p.device)
        if masks.granularity == "weight":
            out[name] = m
            continue
        out[name] = m.view(-1, *([1] * (p.dim() - 1))).expand_as(p)
        layer_name = name.rsplit(".", 1)[0] if "." in name else ""
        layer = model.get_submodule(layer_name)
        if getattr(layer, "bias", None) is not None:
            out[f"{layer_name}.bias" if layer_name else "bias"] = m
        norm = norms[name]
        if norm is not None and norm.affine:
            prefix = names[norm]
            out[f"{prefix}.weight"] = m
            out[f"{prefix}.bias"] = m
    return out


def apply_masks(model: nn.Module, masks: Masks, out: nn.Module | None = None) -> nn.Module:
    """A copy of ``model`` with ``dense * mask`` written into the masked parameters.

    Args:
        model: the dense reference; never modified.
        masks: :class:`Masks` (weight or filter granularity).
        out: optional working copy of the same architecture to write into instead of
            deep-copying (its state is first reset to ``model``'s): the cheap path for sliders.

    Raises:
        KeyError: a masked layer the model does not have. ValueError: a mask of the wrong shape.
    """
    if out is model:
        raise ValueError("out= must be a separate working copy: the dense model is never mutated; "
                         "make one with copy.deepcopy(model)")
    full = expand_masks(model, masks)
    if out is None:
        work = copy.deepcopy(model)
    else:
        work = out
        work.load_state_dict(model.state_dict())
        work.train(model.training)
    with torch.no_grad():
        for name, m in full.items():
            p = work.get_parameter(name)
            p.masked_fill_(~m.to(p.device), 0)  # dense * mask, without a float copy of the mask
    return work
