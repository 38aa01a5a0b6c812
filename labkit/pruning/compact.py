"""Compaction: turn filter masks into a physically smaller model (Torch-Pruning's DepGraph).

A masked model still runs every channel; only a model whose tensors are smaller is faster.
``compact(model, masks, example_inputs)``:

1. writes the masks into a copy (:func:`~labkit.pruning.apply_masks`): masked channels are
   exactly zero (conv row, bias, BatchNorm gamma and beta);
2. traces it with ``torch_pruning.DependencyGraph`` and, for every coupled group of channels
   (conv -> BN -> next conv's input; residual adds; flatten -> linear), removes the channels that
   **every producing layer of the group** has masked off, slicing all members at once;
3. checks that masked and compacted outputs agree (``allclose``) on ``example_inputs``.

**Coupled channels (our choice: the group's union of kept channels).** In a ResNet stage, the
last conv of each block, the downsample conv and the stem all write into the same channels
through the residual adds. If a mask cuts channel k in only some of them, that channel is not
zero after the add, so it cannot be removed. By default it is *kept* (the union of the members'
kept channels), its masked members stay zeroed, the outputs still agree, and an
``UserWarning`` reports how many masked channels could not be removed.
``strict=True`` raises instead. To cut residual channels, score coupled layers together with
:func:`~labkit.pruning.couple_scores` and a uniform allocation.

**Fixed-width layers.** A module whose forward reshapes a layer's output into a fixed layout
(multi-head attention splits ``q, k, v`` into ``heads x head_dim``) lists those children in a
``labkit_fixed_width`` attribute; their groups keep every channel (masked ones stay zeroed, and
the warning counts them), so the compacted model still runs and still agrees. The same holds,
without any attribute, for the model's output channels (the classifier, whatever its form),
``nn.MultiheadAttention``, window attention and channel shuffle, and grouped convolutions lose
the same number of channels in every group (:mod:`labkit.pruning.coupling`).

**Example inputs.** Without ``example_inputs`` the input size comes from what the model
declares (:func:`labkit.models.inputs.input_shape`: ``model.input_shape``, ViT's
``image_size``, torchvision's weights metadata); when nothing is known it raises, rather than
tracing a guessed size.

Example:
    >>> net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 4, 3))
    >>> keep = torch.tensor([True, False] * 4)
    >>> small = compact(net, Masks({"0.weight": keep}, "filter"), torch.randn(1, 3, 8, 8))
    >>> small[0].out_channels, small[3].in_channels
    (4, 4)
"""
from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..models.inputs import example_inputs as _known_inputs
from ..models.topology import paired_norms
from .apply import apply_masks, check_masks
from .coupling import all_groups, balance_grouped, fixed_reason
from .groups import _producer_names, dependency_graph
from .masks import Masks

__all__ = ["compact", "default_example_inputs"]


def default_example_inputs(model: nn.Module) -> Tensor:
    """One random input of the size the model declares (:func:`labkit.models.inputs.example_inputs`).

    Raises ``ValueError`` naming the fix when the size is not known.
    """
    return _known_inputs(model, 1)


def _norm_owners(model: nn.Module, masks: Masks) -> dict[nn.Module, str]:
    """``{BatchNorm: masked weight name}`` for the norms that filter masks zero (paired norms)."""
    return {norm: w for w, norm in paired_norms(model, list(masks)).items() if norm is not None}


def _removable(model: nn.Module, DG: Any, group: Any, masks: Masks, names: dict[nn.Module, str],
               norm_owner: dict[nn.Module, str]) -> tuple[Tensor, Tensor]:
    """Root-channel flags: ``removable`` (every producer masked it off) and ``cut`` (some did)."""
    n_root = len(group[0].idxs)
    removable = torch.ones(n_root, dtype=torch.bool)
    cut = torch.zeros(n_root, dtype=torch.bool)
    for item in group:
        mod = item.dep.target.module
        if not DG.is_out_channel_pruning_fn(item.dep.handler):
            continue
        has_params = isinstance(mod, nn.Parameter) or (isinstance(mod, nn.Module)
                                                       and any(True for _ in mod.parameters(recurse=False)))
        if not has_params:
            continue  # adds, reshapes, ReLUs: nothing to zero
        idxs = torch.as_tensor(list(item.idxs), dtype=torch.long)
        root = torch.as_tensor(list(item.root_idxs), dtype=torch.long)
        if isinstance(mod, (nn.Conv2d, nn.Conv1d, nn.Linear)):
            mname = names.get(mod, "")
            key = f"{mname}.weight" if mname else "weight"
        elif mod in norm_owner:
            key = norm_owner[mod]
        else:  # a norm or other parametric op no mask zeroes: its channels must stay
            removable[root] = False
            continue
        if key in masks:
            off = ~masks[key].cpu()[idxs]
            removable[root] &= off
            cut[root] |= off
        else:
            removable[root] = False
    return removable, cut


def compact(model: nn.Module, masks: Masks, example_inputs: Any = None, *, strict: bool = False,
            check: bool = True, rtol: float = 1e-4, atol: float = 1e-5,
            progress: bool | None = None) -> nn.Module:
    """A physically smaller copy of ``model`` with the masked filters removed (see module doc).

    Args:
        model: the dense model; not modified.
        masks: filter :class:`Masks` (``granularity="filter"``).
        example_inputs: an input batch for tracing and the agreement check; default
            :func:`default_example_inputs` (the size the model declares; raises if unknown).
        strict: raise when a coupled channel is masked in only some layers of its group,
            instead of keeping it (see module doc).
        check: compare masked and compacted outputs and raise if they differ.
        progress: a tqdm bar over the coupled groups; ``None`` shows it on a terminal only.

    Raises:
        ValueError: weight-level masks; unknown input size; a group whose every channel would
            go; with ``strict``, a partially cut coupled channel. RuntimeError: masked and
            compacted outputs differ.
    """
    if not isinstance(masks, Masks) or masks.granularity != "filter":
        raise ValueError("compact needs filter masks (one bool per output channel): weight-level zeros cannot "
                         "shrink a tensor; score with granularity='filter' and use apply_masks for weight masks")
    check_masks(model, masks)
    if example_inputs is None:
        example_inputs = default_example_inputs(model)
    small = apply_masks(model, masks)
    DG = dependency_graph(small, example_inputs)
    names = {m: n for n, m in small.named_modules()}
    owners = _norm_owners(small, masks)
    fixed_mods = frozenset(small.get_submodule(w.rsplit(".", 1)[0]) for w in _fixed_width(small))
    plan, partial, seen = [], [], set()
    groups = all_groups(DG)
    for group in tqdm(groups, desc="compact: plan", disable=None if progress is None else not progress,
                      leave=False):
        removable, cut = _removable(small, DG, group, masks, names, owners)
        members = list(dict.fromkeys(n for n, _, _ in _producer_names(small, DG, group)))
        seen.update(members)
        if bool(cut.any()):
            reason = fixed_reason(DG, group, fixed_mods)
            if reason is not None:
                removable = torch.zeros_like(removable)  # see module doc: these keep their width
            else:
                removable = balance_grouped(DG, group, removable)
            stuck = cut & ~removable
            if bool(stuck.any()):
                partial.append((members, int(stuck.sum()), reason))
        if bool(removable.any()):
            if bool(removable.all()):
                raise ValueError(f"the masks remove every channel of a coupled group ({', '.join(members)}); "
                                 f"keep at least one filter per layer (min_keep)")
            root = group[0].dep
            plan.append((root.target.module, root.handler, torch.nonzero(removable).reshape(-1).tolist()))
    untraced = {n: int((~masks[n]).sum()) for n in masks if n not in seen and bool((~masks[n]).any())}
    for n, k in untraced.items():
        partial.append(([n], k, "not in the traced graph (unused by this input, or inside a protected layer)"))
    if partial:
        msg = "; ".join(f"{n} channel(s) in group {m}" + (f" [{r}]" if r else "") for m, n, r in partial)
        if strict and any(r is None for _, _, r in partial):
            raise ValueError(f"masks cut residual-coupled channels in only some layers of their group: {msg}. "
                             f"Score coupled layers together (lk.couple_scores + a uniform allocation) or pass "
                             f"strict=False to keep those channels (zeroed) and compact the rest")
        warnings.warn(f"kept {sum(n for _, n, _ in partial)} masked channel(s) that their coupled group still uses "
                      f"(they stay zeroed, not removed): {msg}", UserWarning, stacklevel=2)
    for module, fn, idxs in tqdm(plan, desc="compact: prune", disable=None if progress is None else not progress,
                                 leave=False):
        DG.get_pruning_group(module, fn, idxs).prune()
    small.train(model.training)
    trainable = {n: p.requires_grad for n, p in model.named_parameters()}
    for n, p in small.named_parameters():  # the trace made every parameter trainable; restore
        p.requires_grad_(trainable.get(n, True))
    if check:
        _check_agree(apply_masks(model, masks), small, example_inputs, rtol, atol)
    return small


def _fixed_width(model: nn.Module) -> set[str]:
    """Weight names of the layers whose output width a parent module fixes (``labkit_fixed_width``)."""
    out = set()
    for name, mod in model.named_modules():
        for child in getattr(mod, "labkit_fixed_width", ()):
            out.add(f"{name}.{child}.weight" if name else f"{child}.weight")
    return out


def _describe(model: nn.Module, DG: Any, group: Any) -> str:
    return ", ".join(dict.fromkeys(n for n, _, _ in _producer_names(model, DG, group)))


def _check_agree(masked: nn.Module, small: nn.Module, x: Any, rtol: float, atol: float) -> None:
    wa, wb = masked.training, small.training
    masked.eval()
    small.eval()
    try:
        with torch.no_grad():
            args = x if isinstance(x, (tuple, list)) else (x,)
            ya, yb = masked(*args), small(*args)
    finally:
        masked.train(wa)
        small.train(wb)
    if not isinstance(ya, Tensor):
        return
    if ya.shape != yb.shape:
        raise RuntimeError(f"the compacted model's output has shape {tuple(yb.shape)}, the masked model's "
                           f"{tuple(ya.shape)}: a layer feeding the output lost channels. Report the architecture; "
                           f"until then exclude that layer from the masks")
    scale = float(ya.abs().max()) if ya.numel() else 0.0
    if not torch.allclose(ya, yb, rtol=rtol, atol=atol * max(1.0, scale)):
        raise RuntimeError(f"masked and compacted outputs differ (max |diff| {float((ya - yb).abs().max()):.3g}); "
                           f"a masked channel was not truly zero. Report the architecture: the BatchNorm pairing "
                           f"rule (the norm registered right after the conv) may not fit it")
