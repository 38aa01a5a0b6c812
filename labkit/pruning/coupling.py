"""Which channels can go together: Torch-Pruning's dependency graph, made safe for any classifier.

:func:`~labkit.pruning.compact` removes a channel only when Torch-Pruning's ``DependencyGraph``
(Fang et al., DepGraph, CVPR 2023) says which layers share it. Three kinds of coupling need more
than the plain graph, and this module supplies them:

**Grouped convolutions** (ResNeXt, RegNet). A conv with ``groups = g`` (``1 < g < C_out``) splits
its input and output channels into ``g`` equal chunks; chunk ``i`` of the output sees only chunk
``i`` of the input. After pruning, every chunk must still have the same width, so a coupled group
may remove only ``m`` channels from each chunk, ``m`` = the smallest number of removable channels
any chunk has (:func:`balance_grouped`; the other masked channels stay, zeroed). The chunks need
not lose the *same* channels: :func:`grouped_conv_pruner` slices each chunk's weight columns on its
own, where Torch-Pruning's own conv pruner assumes the same offsets in every chunk (which its
pruners guarantee by averaging importance over chunks, but arbitrary masks do not).

**Layers whose channels must not change** (:func:`fixed_reason`), whose whole group is kept:

- the model's output (any classifier: a linear, SqueezeNet's final 1x1 conv, a residual sum);
- ``nn.MultiheadAttention`` (ViT): its embedding width is split into heads;
- modules listed in a parent's ``labkit_fixed_width`` (labkit's own attention blocks);
- **opaque** modules and functions (:func:`register_opaque`): window attention (Swin, MaxViT) and
  channel shuffle (ShuffleNet V2). Their reshapes and permutes are what Torch-Pruning cannot
  index (a ``ZeroDivisionError`` on the shuffle; more than 12 GB of index maps on Swin's shifted
  windows). While the graph is traced each module (or each call of the function, through a
  temporary ``_Wall`` module) runs inside one autograd node (``_FixedChannels``) and becomes one
  Torch-Pruning node with separate input and output handlers (``_WallPruner``), the way
  Torch-Pruning's ``customized_pruners`` expect: the graph stays small, coupled groups stop at
  the wall, and the wall's input and output channels are kept. The layers *around* them (the
  MLPs, the inverted-residual expansions) are still pruned. Swin's qkv / proj weights, used
  only inside the protected attention, are not in the graph; their masked rows stay zeroed.

Example:
    >>> import torchvision
    >>> net = torchvision.models.shufflenet_v2_x0_5(num_classes=10).eval()
    >>> DG = dependency_graph(net, torch.randn(1, 3, 32, 32))   # no ZeroDivisionError
    >>> sorted({str(fixed_reason(DG, g)) for g in DG.get_all_groups(root_module_types=(nn.Conv2d, nn.Linear))})
    ['None', 'model output (classifier)', 'protected channel shuffle']
"""
from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeGuard

import torch
from torch import Tensor, nn

__all__ = ["dependency_graph", "all_groups", "register_opaque", "opaque_layers", "fixed_reason", "balance_grouped",
           "grouped_conv_pruner"]

# (module path, attribute, what it is): classes are protected module by module, functions at their
# call sites (the attribute is swapped while the graph is traced).
_OPAQUE: list[tuple[str, str, str]] = [
    ("torchvision.models.swin_transformer", "ShiftedWindowAttention", "shifted window attention"),
    ("torchvision.models.swin_transformer", "ShiftedWindowAttentionV2", "shifted window attention"),
    ("torchvision.models.maxvit", "PartitionAttentionLayer", "window / grid attention"),
    ("torchvision.models.shufflenetv2", "channel_shuffle", "channel shuffle"),
]


def register_opaque(module_path: str, attr: str, what: str) -> None:
    """Protect a module class or a module-level function from channel pruning.

    ``module_path.attr`` is a ``nn.Module`` subclass (every instance is protected) or a
    function called by a model's ``forward`` through its module's globals (swapped while tracing).
    It must return a tensor with the channels of its first argument.

    Example:
        >>> register_opaque("torchvision.models.shufflenetv2", "channel_shuffle", "channel shuffle")
    """
    entry = (module_path, attr, what)
    if entry not in _OPAQUE:
        _OPAQUE.append(entry)


def _resolve(module_path: str, attr: str) -> Any:
    try:
        return getattr(importlib.import_module(module_path), attr)
    except (ImportError, AttributeError):
        return None  # an older torchvision without it: nothing to protect


def opaque_layers(model: nn.Module) -> dict[str, str]:
    """``{module name: what}`` for the protected module instances in ``model``."""
    out = {}
    for path, attr, what in _OPAQUE:
        obj = _resolve(path, attr)
        if isinstance(obj, type) and issubclass(obj, nn.Module):
            out.update({n: what for n, m in model.named_modules() if type(m) is obj})
    return out


class _FixedChannels(torch.autograd.Function):
    """One autograd node standing for a whole protected computation (trace only: no backward)."""

    @staticmethod
    def forward(ctx: Any, fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
        return fn(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Any:
        raise RuntimeError("labkit's fixed-channel wrapper exists only to trace a dependency graph")


class _Wall(nn.Module):
    """Stands for one call of a protected function while the graph is traced."""

    def __init__(self, fn: Callable[..., Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: Tensor, *args: Any, **kw: Any) -> Tensor:
        self.labkit_channels = int(x.shape[1])
        return _FixedChannels.apply(lambda t: self.fn(t, *args, **kw), x)


class _WallPruner:
    """Torch-Pruning pruner of a protected layer: separate in / out handlers (so coupled groups
    stop at it), its channel count for shape inference, and no pruning at all."""

    def prune_out_channels(self, layer: nn.Module, idxs: Sequence[int]) -> nn.Module:
        raise RuntimeError(f"labkit protects {type(layer).__name__}: its output channels cannot be pruned")

    def prune_in_channels(self, layer: nn.Module, idxs: Sequence[int]) -> nn.Module:
        raise RuntimeError(f"labkit protects {type(layer).__name__}: its input channels cannot be pruned")

    def get_out_channels(self, layer: nn.Module) -> int | None:
        return getattr(layer, "labkit_channels", None)

    def get_in_channels(self, layer: nn.Module) -> int | None:
        return getattr(layer, "labkit_channels", None)

    def get_in_channel_groups(self, layer: nn.Module) -> int:
        return 1

    def get_out_channel_groups(self, layer: nn.Module) -> int:
        return 1


def _channel_dim(x: Tensor, mod: nn.Module) -> int:
    """Channels of a protected module's input: the last axis for channels-last blocks (Swin)."""
    return int(x.shape[-1] if "swin" in type(mod).__module__ else x.shape[1])


@contextlib.contextmanager
def _opaque(model: nn.Module, example_inputs: Any, DG: Any) -> Iterator[dict[nn.Module, str]]:
    """Inside the ``with`` block every protected module / function call is one autograd node
    and one Torch-Pruning node of its own (a :class:`_WallPruner`); yields ``{node module: what}``."""
    pruner = _WallPruner()
    patched_mods: list[nn.Module] = []
    patched_fns: list[tuple[Any, str, Any]] = []
    walls: list[_Wall] = []
    tags: dict[nn.Module, str] = {}
    try:
        for path, attr, what in _OPAQUE:
            obj = _resolve(path, attr)
            if obj is None:
                continue
            if isinstance(obj, type) and issubclass(obj, nn.Module):
                found = [m for m in model.modules() if type(m) is obj]
                if found:
                    DG.register_customized_layer(obj, pruner)
                for m in found:
                    def fwd(x: Tensor, *a: Any, _f: Callable = m.forward, _m: nn.Module = m, **k: Any) -> Tensor:
                        # torch's stub: Module.__setattr__ takes Tensor | Module, the runtime any value
                        _m.labkit_channels = _channel_dim(x, _m)  # type: ignore[assignment]
                        return _FixedChannels.apply(lambda t: _f(t, *a, **k), x)
                    m.forward = fwd
                    patched_mods.append(m)
                    tags[m] = what
            elif callable(obj) and any(type(m).__module__ == path for m in model.modules()):
                mod = importlib.import_module(path)
                calls = [0]

                def counting(*a: Any, _f: Callable = obj, _calls: list[int] = calls, **k: Any) -> Tensor:
                    _calls[0] += 1
                    return _f(*a, **k)
                setattr(mod, attr, counting)
                patched_fns.append((mod, attr, obj))
                with torch.no_grad():  # one dry run: how many calls need a wall of their own
                    _run(model, example_inputs)
                new = [_Wall(obj) for _ in range(calls[0])]
                walls.extend(new)
                tags.update({w: what for w in new})
                it = iter(new)
                setattr(mod, attr, lambda x, *a, _it=it, **k: next(_it)(x, *a, **k))
        if walls:
            DG.register_customized_layer(_Wall, pruner)
            model.add_module("_labkit_walls", nn.ModuleList(walls))
        yield tags
    finally:
        for m in patched_mods:
            del m.forward
        for mod, attr, obj in patched_fns:
            setattr(mod, attr, obj)
        if "_labkit_walls" in model._modules:
            del model._modules["_labkit_walls"]


def _run(model: nn.Module, x: Any) -> Any:
    return model(*x) if isinstance(x, (tuple, list)) else model(x)


def _grouped(module: Any) -> TypeGuard[nn.Conv2d]:
    """A grouped conv that is not depthwise (Torch-Pruning couples depthwise in and out itself)."""
    return (isinstance(module, nn.Conv2d) and module.groups > 1 and module.groups != module.out_channels)


def grouped_conv_pruner() -> Any:
    """Torch-Pruning's ``ConvPruner`` that also slices grouped convs chunk by chunk (see module doc)."""
    import torch_pruning as tp

    class _GroupedConvPruner(tp.pruner.function.ConvPruner):
        """Torch-Pruning's conv pruner, with chunk-wise input slicing for grouped convs."""

        def prune_out_channels(self, layer: nn.Module, idxs: Sequence[int]) -> nn.Module:
            if _grouped(layer):
                _check_balanced(layer, idxs, layer.out_channels, "output")
            return super().prune_out_channels(layer, idxs)

        def prune_in_channels(self, layer: nn.Module, idxs: Sequence[int]) -> nn.Module:
            if not _grouped(layer):
                return super().prune_in_channels(layer, idxs)
            g = layer.groups
            per_in, per_out = layer.in_channels // g, layer.out_channels // g
            _check_balanced(layer, idxs, layer.in_channels, "input")
            drop = set(int(i) for i in idxs)
            w = layer.weight
            cols = [torch.tensor([j for j in range(per_in) if c * per_in + j not in drop], dtype=torch.long)
                    for c in range(g)]
            with torch.no_grad():
                new = torch.cat([w.data[c * per_out:(c + 1) * per_out].index_select(1, cols[c].to(w.device))
                                 for c in range(g)])
            layer.weight = nn.Parameter(new, requires_grad=w.requires_grad)
            layer.in_channels -= len(drop)
            return layer

    return _GroupedConvPruner()


def _check_balanced(layer: nn.Conv2d, idxs: Sequence[int], n: int, side: str) -> None:
    per = n // layer.groups
    counts = torch.bincount(torch.as_tensor(list(idxs), dtype=torch.long) // per, minlength=layer.groups)
    if len(idxs) and int(counts.min()) != int(counts.max()):
        raise ValueError(f"a grouped conv ({layer}) must lose the same number of {side} channels in each of its "
                         f"{layer.groups} groups; got {counts.tolist()} (balance_grouped fixes the plan)")


def dependency_graph(model: nn.Module, example_inputs: Any) -> Any:
    """``torch_pruning.DependencyGraph`` of ``model`` with labkit's grouped-conv pruner and protections.

    Traced in eval mode with every parameter trainable (untrainable ones drop out of the trace,
    TP#211) and the opaque layers wrapped (see module doc). ``DG.labkit_opaque`` lists them.
    """
    import torch_pruning as tp

    DG = tp.DependencyGraph()
    DG.REGISTERED_PRUNERS = dict(DG.REGISTERED_PRUNERS)
    DG.REGISTERED_PRUNERS[tp.ops.OPTYPE.CONV] = grouped_conv_pruner()
    pruners = [p for p in DG.REGISTERED_PRUNERS.values() if p is not None]
    DG._in_channel_pruning_fn = {p.prune_in_channels for p in pruners}
    DG._out_channel_pruning_fn = {p.prune_out_channels for p in pruners}
    was = model.training
    for p in model.parameters():
        p.requires_grad_(True)
    model.eval()
    try:
        with _opaque(model, example_inputs, DG) as tags, torch.enable_grad():
            DG.build_dependency(model, example_inputs=example_inputs, verbose=False)
    finally:
        model.train(was)
    DG.labkit_opaque = tags
    return DG


def all_groups(DG: Any, root_module_types: tuple[type, ...] = (nn.Conv2d, nn.Conv1d, nn.Linear)) -> list[Any]:
    """``DG.get_all_groups(...)`` as a list, with the index maps computed once.

    Torch-Pruning refreshes every concat / split / reshape index map for each group it builds,
    which is right after a pruning step but wasted before any (DenseNet-121: 120 groups x 58
    concats). Nothing is pruned while the groups are listed, so the refresh is skipped.
    """
    from torch_pruning.dependency import index_mapping

    update = index_mapping.update_index_mapping
    index_mapping.update_index_mapping = lambda graph: None
    try:
        return list(DG.get_all_groups(root_module_types=root_module_types))
    finally:
        index_mapping.update_index_mapping = update


def fixed_reason(DG: Any, group: Any, fixed_width: frozenset[nn.Module] = frozenset()) -> str | None:
    """Why a coupled group must keep all its channels, or ``None`` if it may shrink.

    ``fixed_width`` are modules whose output width a parent declares fixed (``labkit_fixed_width``).
    """
    import torch_pruning as tp

    for item in group:
        mod = item.dep.target.module
        node = DG.module2node.get(mod)
        if isinstance(mod, tp.ops._OutputOp) or (node is not None and not node.outputs
                                                 and DG.is_out_channel_pruning_fn(item.dep.handler)):
            return "model output (classifier)"  # the traced output, or a layer nothing consumes
        if isinstance(mod, nn.MultiheadAttention):
            return "multi-head attention (nn.MultiheadAttention)"
        what = getattr(DG, "labkit_opaque", {}).get(mod)
        if what is not None:
            return f"protected {what}"
        if mod in fixed_width and DG.is_out_channel_pruning_fn(item.dep.handler):
            return "fixed-width layer (labkit_fixed_width)"
    return None


def balance_grouped(DG: Any, group: Any, removable: Tensor) -> Tensor:
    """``removable`` (root channels) cut down so every grouped conv of ``group`` loses as many
    channels from each of its chunks (see module doc). Lower channel indices go first."""
    removable = removable.clone()
    members = [item for item in group if _grouped(item.dep.target.module)]
    changed = bool(members)
    while changed:
        changed = False
        for item in members:
            conv = item.dep.target.module
            n = conv.out_channels if DG.is_out_channel_pruning_fn(item.dep.handler) else conv.in_channels
            per = n // conv.groups
            idxs = torch.as_tensor(list(item.idxs), dtype=torch.long)
            root = torch.as_tensor(list(item.root_idxs), dtype=torch.long)
            chunk = idxs // per
            sel = removable[root]
            counts = torch.bincount(chunk[sel], minlength=conv.groups)
            m = int(counts.min())
            for c in range(conv.groups):
                if int(counts[c]) > m:
                    here = root[(chunk == c) & sel]
                    removable[here[torch.argsort(idxs[(chunk == c) & sel])][m:]] = False
                    changed = True
    return removable
