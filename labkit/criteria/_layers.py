"""Where a layer's output channel lives: the conv, the BatchNorm after it, and a safe working copy.

Data-driven criteria and filter masks need to agree on *which tensor is output channel k of
layer l*. labkit's rule, used everywhere (criteria, ``apply_masks``, ``compact``):

- The **paired norm** of a conv / linear is the module registered right after it in
  ``model.named_modules()`` when that module is a ``BatchNorm`` with ``num_features ==
  out_channels`` (conv1 -> bn1 in ResNets, ``features.0 -> features.1`` in VGG-BN).
- The **measurement point** of a layer is the output of its paired norm, or of the layer itself
  when it has none. Activation criteria measure ``ReLU(measurement point)``: the channel's
  post-ReLU activation. In a residual block's last conv this is the branch's own contribution
  *before* the skip is added, because that is exactly what a filter mask switches off.

Example:
    >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 2, 3))
    >>> paired_norm(net, "0.weight") is net[1], paired_norm(net, "3.weight")
    (True, None)
"""
from __future__ import annotations

import copy

from torch import nn

__all__ = ["paired_norm", "paired_norms", "measure_module", "working_copy", "out_channel_dim"]

_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def _module_name(param_name: str) -> str:
    return param_name.rsplit(".", 1)[0] if "." in param_name else ""


def paired_norm(model: nn.Module, param_name: str) -> nn.Module | None:
    """The BatchNorm that normalises ``param_name``'s output channels, or ``None``."""
    layer = model.get_submodule(_module_name(param_name))
    mods = list(model.named_modules())
    idx = next(i for i, (_, m) in enumerate(mods) if m is layer)
    if idx + 1 < len(mods):
        nxt = mods[idx + 1][1]
        out = getattr(layer, "out_channels", getattr(layer, "out_features", None))
        if isinstance(nxt, _NORMS) and nxt.num_features == out:
            return nxt
    return None


def paired_norms(model: nn.Module, param_names: list[str] | tuple[str, ...]) -> dict[str, nn.Module | None]:
    """:func:`paired_norm` of many layers, listing the modules once (large models have thousands)."""
    mods = list(model.named_modules())
    where = {id(m): i for i, (_, m) in enumerate(mods)}
    out: dict[str, nn.Module | None] = {}
    for name in param_names:
        layer = model.get_submodule(_module_name(name))
        i = where[id(layer)] + 1
        width = getattr(layer, "out_channels", getattr(layer, "out_features", None))
        nxt = mods[i][1] if i < len(mods) else None
        out[name] = nxt if isinstance(nxt, _NORMS) and nxt.num_features == width else None
    return out


def measure_module(model: nn.Module, param_name: str) -> nn.Module:
    """The module whose forward output is layer ``param_name``'s measurement point."""
    norm = paired_norm(model, param_name)
    return norm if norm is not None else model.get_submodule(_module_name(param_name))


def out_channel_dim(model: nn.Module, param_name: str) -> int:
    """Channel axis of the layer's output: 1 for convs (N, C, H, W), -1 for linears (N, ..., C)."""
    return -1 if isinstance(model.get_submodule(_module_name(param_name)), nn.Linear) else 1


def working_copy(model: nn.Module) -> nn.Module:
    """A deep copy in eval mode, with in-place ReLUs turned off and every parameter trainable.

    Criteria hook intermediate tensors and differentiate through them; an in-place ReLU would
    overwrite the hooked tensor (autograd error, or silently wrong captum attributions). The
    user's model is left exactly as it was.
    """
    work = copy.deepcopy(model).eval()
    for m in work.modules():
        if isinstance(m, (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.Hardtanh, nn.SiLU)) and getattr(m, "inplace", False):
            m.inplace = False
    for p in work.parameters():
        p.requires_grad_(True)
    return work
