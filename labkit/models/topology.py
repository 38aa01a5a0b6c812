"""Model topology: where a layer's output channel lives, and the network as a chain of segments.

Data-driven criteria, filter masks and the domino influence all need to agree on *which tensor
is output channel k of layer l*. labkit's rule, used everywhere (criteria, ``apply_masks``,
``compact``, influence):

- The **paired norm** of a conv / linear is the module registered right after it in
  ``model.named_modules()`` when that module is a ``BatchNorm`` with ``num_features ==
  out_channels`` (conv1 -> bn1 in ResNets, ``features.0 -> features.1`` in VGG-BN).
- The **measurement point** of a layer is the output of its paired norm, or of the layer itself
  when it has none. Activation criteria measure ``ReLU(measurement point)``: the channel's
  post-ReLU activation. In a residual block's last conv this is the branch's own contribution
  *before* the skip is added, because that is exactly what a filter mask switches off.

For effects that travel *through* the network (docs/methods.md §5.2) the model is also read as
a chain: its **segments** are the :func:`~labkit.models.stages` with plain ``nn.Sequential``
unrolled (so ``run_segments(segments(m), x) == m(x)``), and its **depth sites** are the
activation modules that run once per forward pass (a reused one: its block), in execution order,
then the logits.

Example:
    >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 2, 3))
    >>> paired_norm(net, "0.weight") is net[1], paired_norm(net, "3.weight")
    (True, None)
    >>> len(segments(net)), depth_sites(net, torch.zeros(1, 3, 8, 8))
    (4, ['2', 'logits'])
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ._base import prunable_parameters, stages

__all__ = ["paired_norm", "paired_norms", "measure_module", "working_copy", "out_channel_dim",
           "segments", "run_segments", "segment_of", "depth_sites", "ACTIVATIONS", "LOGITS"]

_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)

#: Module types whose outputs are depth sites (:func:`depth_sites`).
ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.Hardswish, nn.ELU)
#: The name of the last depth site, the model's output.
LOGITS = "logits"


# --- where a channel lives ----------------------------------------------------------------------
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


# --- the network as a chain of segments and a list of depth sites ----------------------------------
def _flatten(module: nn.Module) -> list[nn.Module]:
    if type(module) is nn.Sequential:
        return [s for child in module for s in _flatten(child)]
    return [module]


def segments(model: nn.Module) -> list[nn.Module]:
    """Modules whose composition is ``model(x)``: the stages, with plain ``nn.Sequential`` unrolled.

    Re-running a model from segment ``i`` on the cached input of segment ``i`` reproduces its
    output without recomputing what comes before: the trick behind exact ablation.
    """
    return [s for st in stages(model) for s in _flatten(st)]


def run_segments(segs: Sequence[nn.Module], x: Any, start: int = 0) -> Any:
    """``x`` through ``segs[start:]`` one after another."""
    for seg in segs[start:]:
        x = seg(x)
    return x


def segment_of(segs: Sequence[nn.Module]) -> dict[nn.Module, int]:
    """Every submodule of the segments -> the index of the first segment that contains it."""
    out: dict[nn.Module, int] = {}
    for i, seg in enumerate(segs):
        for m in seg.modules():
            out.setdefault(m, i)
    return out


def _trace(model: nn.Module, x: Tensor, watch: dict[str, nn.Module]) -> list[str]:
    """Names in ``watch`` in the order their modules run on ``x`` (one event per call)."""
    events: list[str] = []
    handles = [m.register_forward_hook(lambda _m, _i, _o, n=n: events.append(n)) for n, m in watch.items()]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return events


def depth_sites(model: nn.Module, example: Tensor) -> list[str]:
    """Names of the depth sites of ``model`` in execution order, ending with ``"logits"``.

    The sites are the activation modules (``ReLU``, ``GELU`` ...) that run exactly once per
    forward pass. An activation module called more than once (torchvision's ``BasicBlock`` and
    ``Bottleneck`` reuse one ``relu``) cannot tell its calls apart by a hook, so its *block*
    stands in for it: the nearest enclosing module that runs once (not the model itself), whose
    output is the block's output after its last activation. A model without any activation
    module uses the measurement points (the BatchNorm after each conv / linear, see
    :func:`measure_module`).

    Example:
        >>> from labkit.models import load_model
        >>> depth_sites(load_model("resnet20", in_channels=1), torch.zeros(1, 1, 16, 16))[:3]
        ['stem.relu', 'layer1.0.relu1', 'layer1.0.relu2']
        >>> import torchvision
        >>> depth_sites(torchvision.models.resnet18(num_classes=3), torch.zeros(1, 3, 32, 32))[:3]
        ['relu', 'layer1.0', 'layer1.1']
    """
    named: dict[str, nn.Module] = {n: m for n, m in model.named_modules() if isinstance(m, ACTIVATIONS)}
    if not named:
        names = prunable_parameters(model, exclude_first=False, exclude_last=True)
        inv = {m: n for n, m in model.named_modules()}
        named = {inv[measure_module(model, p)]: measure_module(model, p) for p in names}
    mods = dict(model.named_modules())
    # every enclosing module of an activation may stand in for it (the model itself, "", never)
    parents = {p: mods[p] for n in named for p in _ancestors(n) if p in mods}
    was = model.training
    model.eval()
    try:
        events = _trace(model, example, {**named, **parents})
    finally:
        model.train(was)
    once = {n for n in dict.fromkeys(events) if events.count(n) == 1}
    stand_in = {n: next((p for p in reversed(_ancestors(n)) if p in once), None)
                for n in named if n not in once and n in events}
    keep = {n for n in named if n in once} | {p for p in stand_in.values() if p is not None}
    return [n for n in dict.fromkeys(events) if n in keep] + [LOGITS]


def _ancestors(name: str) -> list[str]:
    """``"layer1.0.relu"`` -> ``["layer1", "layer1.0"]`` (outermost first; the model itself left out)."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]
