"""Channel-to-block pruning for residual networks with a MACs target (docs/methods.md §5.3–5.4, **[inferred]**).

In a ResNet stage every block adds its branch to the same *residual stream*, so the output
channels of each block's ``conv2`` (and of the shortcut and stem) are coupled: removing one of
them in a single block leaves the addition with mismatched channel counts (the mismatch the
DOMINOS thesis fixes with *channel-to-block* pruning). The rule used here:

1. **Global ranking.** Importance scores are L2-normalised per layer (``S / ||S||₂``, as in §4.2)
   and optionally divided by ``MACs_i^β`` (cost-aware, β = 0 by default). All channels of the
   blocks' ``conv1`` (internal, free) and ``conv2`` (residual, ranked but never cut one by one)
   go into one ascending list.
2. **Cut.** The ``n`` lowest channels are *below the cut*. A ``conv1`` loses its channels below
   the cut, but keeps at least ``floor`` (20%) of them.
3. **Channel-to-block.** Block ``b`` with an identity shortcut (stride 1, same width) is removed
   (branch := 0) when a fraction ``q_b >= τ_blk`` (0.5) of its ``conv2`` channels is below the
   cut, or when the cut alone would leave its ``conv1`` fewer than ``max(2, 0.1·C_mid)``
   channels. Otherwise all its ``conv2`` outputs stay. Down-sampling blocks are never removed.
4. **Target.** ``n`` is the smallest cut whose network has at most ``(1 − target)`` of the dense
   MACs (analytic: ``H_out·W_out·C_out·C_in·k²`` per conv, docs/methods.md §0.1). The MACs only fall as
   ``n`` grows, so a binary search finds it.

``structure="internal"`` is the ablation without the rule: residual channels are never ranked
and no block is removed, so the whole target falls on the ``conv1`` channels (Li et al. 2017's
choice for ResNets).

:func:`slim` builds the physically smaller network: removed blocks become
:class:`RemovedBlock` (``relu(x)``: the block with its branch set to 0, which is the identity
on the non-negative output of the previous block) and the remaining ``conv1`` channels are
removed with :func:`labkit.pruning.compact` (Torch-Pruning). :func:`masked` is the same network
as a dense copy with zeros (``apply_masks``); their outputs agree.

Example:
    >>> from labkit import load_model, score
    >>> from labkit.pruning.blocks import select_blocks, slim
    >>> net = load_model("resnet20", num_classes=10, in_channels=1)
    >>> sc = score(net, "magnitude", granularity="filter")
    >>> plan = select_blocks(net, sc, macs_reduction=0.6, input_shape=(1, 16, 16))
    >>> plan.reduction >= 0.6, len(plan.removed_blocks) >= 0
    (True, True)
    >>> small = slim(net, plan)
"""
from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from ..models._base import prunable_parameters
from ..models.resnet_cifar import BasicBlock
from .apply import apply_masks
from .compact import compact
from .masks import Masks

__all__ = ["ResidualBlock", "BlockPlan", "RemovedBlock", "residual_blocks", "layer_macs", "select_blocks",
           "slim", "masked", "STRUCTURES"]

STRUCTURES = ("blocks", "internal")


@dataclass(frozen=True)
class ResidualBlock:
    """A basic block: its module name, its two convs' weight names, widths, and whether it may go."""

    name: str
    conv1: str
    conv2: str
    c_in: int
    c_mid: int
    c_out: int
    identity: bool  # stride 1 and C_in = C_out: the block can be replaced by its shortcut

    @property
    def removable(self) -> bool:
        return self.identity


def residual_blocks(model: nn.Module) -> list[ResidualBlock]:
    """The :class:`~labkit.models.resnet_cifar.BasicBlock` s of ``model`` in forward order."""
    out = []
    for name, m in model.named_modules():
        if isinstance(m, BasicBlock):
            out.append(ResidualBlock(name, f"{name}.conv1.weight", f"{name}.conv2.weight", m.conv1.in_channels,
                                     m.conv1.out_channels, m.conv2.out_channels,
                                     isinstance(m.shortcut, nn.Identity) and m.conv1.stride in (1, (1, 1))))
    return out


class RemovedBlock(nn.Module):
    """A residual block whose branch is 0: ``act(shortcut(x)) = act(x)`` (identity shortcut only).

    On the non-negative output of the previous block (a ReLU) this is the identity; keeping the
    activation makes it exact for any input.
    """

    def __init__(self, act: nn.Module | None = None) -> None:
        super().__init__()
        self.act = act if act is not None else nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(x)


def layer_macs(model: nn.Module, input_shape: Sequence[int]) -> dict[str, int]:
    """Analytic MACs of every conv / linear for one item: ``H_out·W_out·C_out·(C_in/g)·k²`` or ``in·out``.

    Keys are weight names (``"layer1.0.conv1.weight"``). One eval-mode forward pass records shapes.
    """
    macs: dict[str, int] = {}
    hooks = []
    for n, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(
                lambda mod, _i, o, n=n: macs.__setitem__(f"{n}.weight", int(
                    o.shape[-2] * o.shape[-1] * mod.out_channels * (mod.in_channels // mod.groups)
                    * mod.kernel_size[0] * mod.kernel_size[1]))))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(
                lambda mod, i, _o, n=n: macs.__setitem__(f"{n}.weight", int(
                    i[0].numel() // i[0].shape[0] // mod.in_features * mod.in_features * mod.out_features))))
    was = model.training
    model.eval()
    try:
        dev = next(model.parameters()).device
        with torch.no_grad():
            model(torch.zeros(1, *tuple(input_shape), device=dev))
    finally:
        model.train(was)
        for h in hooks:
            h.remove()
    return macs


@dataclass
class BlockPlan:
    """The outcome of :func:`select_blocks`.

    Attributes:
        masks: filter :class:`Masks` for every prunable layer of the model: the kept ``conv1``
            channels of remaining blocks, all False for both convs of removed blocks, all True
            elsewhere. ``apply_masks(model, masks)`` is the masked network.
        removed_blocks: module names of the removed blocks (``"layer1.1"``).
        macs_dense, macs_pruned: analytic MACs per item of the dense and pruned networks.
        target: the requested MACs reduction (fraction).
        blocks: per-block table (name, q, conv1 kept, removed, why).
        cut: the global threshold on normalised scores (channels at or below it are below the cut).
        layer_cut: the same threshold in each layer's own (unnormalised) score units, for plots.
    """

    masks: Masks
    removed_blocks: list[str]
    macs_dense: int
    macs_pruned: int
    target: float
    blocks: pd.DataFrame
    cut: float
    layer_cut: dict[str, float] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def reduction(self) -> float:
        """Achieved MACs reduction, ``1 − pruned / dense``."""
        return 1.0 - self.macs_pruned / self.macs_dense

    def kept(self) -> pd.DataFrame:
        """One row per prunable layer: ``layer, channels, kept, block, role, removed_block``."""
        role = {}
        for b in self.blocks.itertuples():
            role[f"{b.block}.conv1.weight"] = (b.block, "internal")
            role[f"{b.block}.conv2.weight"] = (b.block, "residual")
        rows = [{"layer": n, "channels": m.numel(), "kept": int(m.sum()),
                 "block": role.get(n, ("", ""))[0], "role": role.get(n, ("", "other"))[1],
                 "removed_block": role.get(n, ("", ""))[0] in self.removed_blocks}
                for n, m in self.masks.items()]
        return pd.DataFrame(rows)


def _normalised(scores: Mapping[str, Tensor], names: list[str], cost: dict[str, float], beta: float,
                normalize: str) -> dict[str, np.ndarray]:
    out = {}
    for n in names:
        s = scores[n].detach().reshape(-1).double().cpu().numpy()
        if normalize == "l2":
            d = float(np.linalg.norm(s))
            s = s / d if d > 0 else s
        elif normalize != "none":
            raise ValueError(f"normalize must be 'l2' or 'none', got {normalize!r}")
        if beta:
            s = s / cost[n] ** float(beta)
        out[n] = s
    return out


def select_blocks(model: nn.Module, scores: Mapping[str, Tensor], macs_reduction: float, *,
                  input_shape: Sequence[int], floor: float = 0.2, tau_blk: float = 0.5, normalize: str = "l2",
                  beta: float = 0.0, structure: str = "blocks") -> BlockPlan:
    """Pick the channels and blocks to remove so that MACs drop by ``macs_reduction`` (module docstring).

    Args:
        model: a network with :class:`~labkit.models.resnet_cifar.BasicBlock` s (CIFAR ResNets).
        scores: filter scores (higher = more important) for at least every block's ``conv1``
            and, with ``structure="blocks"``, ``conv2``; other layers are ignored.
        macs_reduction: the target fraction of MACs to remove, in (0, 1).
        input_shape: one item's shape, e.g. ``(1, 16, 16)``.
        floor: fraction of each ``conv1``'s channels always kept (≥ 1 channel).
        tau_blk: remove a removable block when this fraction of its ``conv2`` channels is below the cut.
        normalize: ``"l2"`` (per layer, default) or ``"none"`` before the global ranking.
        beta: cost-aware ranking ``score / MACs_i^β`` (0 = off).
        structure: ``"blocks"`` (channel-to-block rule) or ``"internal"`` (no rule: only ``conv1``
            channels, no block removed).

    Raises:
        ValueError: a model without basic blocks, a target outside (0, 1), missing scores, or a
        target that cannot be met under the floor (the message gives the largest reachable one).
    """
    if structure not in STRUCTURES:
        raise ValueError(f"structure must be one of {STRUCTURES}, got {structure!r}")
    if not 0.0 < float(macs_reduction) < 1.0:
        raise ValueError(f"macs_reduction must be a fraction in (0, 1), e.g. 0.4 for -40% MACs; got {macs_reduction}")
    if not 0.0 <= float(floor) < 1.0:
        raise ValueError(f"floor must be a fraction in [0, 1), got {floor}")
    blocks = residual_blocks(model)
    if not blocks:
        raise ValueError("select_blocks needs a residual network made of labkit BasicBlocks (resnet20/32/56); "
                         "for plain CNNs use lk.allocate(scores, sparsity, mode='global')")
    free = [b.conv1 for b in blocks]
    ranked = free + ([b.conv2 for b in blocks] if structure == "blocks" else [])
    missing = [n for n in ranked if n not in scores]
    if missing:
        raise KeyError(f"scores are missing layer(s) {missing[:4]}{' ...' if len(missing) > 4 else ''}; score the "
                       f"blocks' conv1 and conv2 with granularity='filter'")
    per = layer_macs(model, input_shape)
    dense = sum(per.values())
    # MACs one channel is responsible for (cost-aware ranking): its own row and the next conv's column.
    unit: dict[str, float] = {}
    for b in blocks:
        unit[b.conv1] = per[b.conv1] / b.c_mid + per[b.conv2] / b.c_mid
        unit[b.conv2] = per[b.conv2] / b.c_out
    norm = _normalised(scores, ranked, unit, beta, normalize)
    layer_idx = np.concatenate([np.full(len(norm[n]), i) for i, n in enumerate(ranked)])
    chan_idx = np.concatenate([np.arange(len(norm[n])) for n in ranked])
    vals = np.concatenate([norm[n] for n in ranked])
    order = np.argsort(vals, kind="stable")
    fixed = dense - sum(per[b.conv1] + per[b.conv2] for b in blocks)
    keep_min = {b.conv1: max(1, math.ceil(floor * b.c_mid)) for b in blocks}

    def config(n: int) -> tuple[int, dict[str, Any]]:
        below = np.bincount(layer_idx[order[:n]], minlength=len(ranked))
        total = fixed
        info = {}
        for i, b in enumerate(blocks):
            cut1 = int(below[i])
            q = float(below[len(blocks) + i]) / b.c_out if structure == "blocks" else 0.0
            few = (b.c_mid - cut1) < max(2, 0.1 * b.c_mid)
            remove = structure == "blocks" and b.identity and (q >= tau_blk or few)
            m = b.c_mid - min(cut1, b.c_mid - keep_min[b.conv1])
            if not remove:
                total += per[b.conv1] * m // b.c_mid + per[b.conv2] * m // b.c_mid
            why = ("q >= tau" if q >= tau_blk else "conv1 too thin") if remove else ""
            info[b.name] = {"block": b.name, "q": q, "conv1_below": cut1, "conv1_kept": 0 if remove else m,
                            "c_mid": b.c_mid, "identity": b.identity, "removed": remove, "why": why}
        return total, info

    goal = (1.0 - float(macs_reduction)) * dense
    lo, hi = 0, len(order)
    if config(hi)[0] > goal:
        best = 1.0 - config(hi)[0] / dense
        raise ValueError(f"a {macs_reduction:.0%} MACs reduction cannot be met with floor={floor} "
                         f"(structure={structure!r}): at most {best:.1%}; lower the target or the floor")
    while lo < hi:  # smallest n with macs(n) <= goal (macs falls as n grows)
        mid = (lo + hi) // 2
        if config(mid)[0] <= goal:
            hi = mid
        else:
            lo = mid + 1
    total, info = config(lo)
    masks: dict[str, Tensor] = {}
    for n in prunable_parameters(model):
        masks[n] = torch.ones(model.get_parameter(n).shape[0], dtype=torch.bool)
    removed = [name for name, i in info.items() if i["removed"]]
    below_sets: dict[str, list[int]] = {n: [] for n in ranked}
    for j in order[:lo]:
        below_sets[ranked[layer_idx[j]]].append(int(chan_idx[j]))
    for b in blocks:
        if b.name in removed:
            masks[b.conv1] = torch.zeros(b.c_mid, dtype=torch.bool)
            masks[b.conv2] = torch.zeros(b.c_out, dtype=torch.bool)
        else:
            drop = below_sets[b.conv1][: b.c_mid - keep_min[b.conv1]]
            masks[b.conv1][drop] = False
    cut = float(vals[order[lo - 1]]) if lo > 0 else float("-inf")
    layer_cut = {}
    for n in ranked:
        s = scores[n].detach().reshape(-1).double()
        d = float(s.norm()) if normalize == "l2" else 1.0
        layer_cut[n] = cut * (d if d > 0 else 1.0) if beta == 0 else float("nan")
    opts = {"floor": floor, "tau_blk": tau_blk, "normalize": normalize, "beta": beta, "structure": structure,
            "input_shape": list(input_shape), "n_below": lo}
    meta = {**dict(getattr(scores, "meta", {}) or {}), "selection": {"macs_reduction": float(macs_reduction), **opts,
                                                                    "removed_blocks": removed}}
    return BlockPlan(Masks(masks, "filter", meta), removed, int(dense), int(total), float(macs_reduction),
                     pd.DataFrame(list(info.values())), cut, layer_cut, opts)


def masked(model: nn.Module, plan: BlockPlan) -> nn.Module:
    """The pruned network as a dense copy with zeros (removed blocks: both convs zeroed, branch = 0)."""
    return apply_masks(model, plan.masks)


def slim(model: nn.Module, plan: BlockPlan, example_inputs: Tensor | None = None, *,
         check: bool = True) -> nn.Module:
    """The physically smaller network: removed blocks -> :class:`RemovedBlock`, other channels compacted.

    ``model`` is not modified. With ``check`` the output is compared with :func:`masked` on
    ``example_inputs`` (default: 4 random items of ``plan.options["input_shape"]``) and a
    mismatch raises ``RuntimeError``.
    """
    if example_inputs is None:
        shape = plan.options.get("input_shape")
        if not shape:
            raise ValueError("pass example_inputs=torch.randn(1, C, H, W): the plan has no input_shape")
        g = torch.Generator().manual_seed(0)
        example_inputs = torch.rand(4, *shape, generator=g).to(next(model.parameters()).device)
    work = copy.deepcopy(model)
    for name in plan.removed_blocks:
        block = work.get_submodule(name)
        work.set_submodule(name, RemovedBlock(copy.deepcopy(getattr(block, "relu2", nn.ReLU()))))
    gone = tuple(f"{n}." for n in plan.removed_blocks)
    rest = {n: m for n, m in plan.masks.items() if not n.startswith(gone) and not bool(m.all())}
    small = compact(work, Masks(rest, "filter", plan.masks.meta), example_inputs, check=check) if rest else work
    if check:
        ref = masked(model, plan)
        ref.eval()
        was = small.training
        small.eval()
        try:
            with torch.no_grad():
                a, b = ref(example_inputs), small(example_inputs)
        finally:
            small.train(was)
        scale = max(1.0, float(a.abs().max()))
        if not torch.allclose(a, b, rtol=1e-4, atol=1e-5 * scale):
            raise RuntimeError(f"slimmed and masked networks differ (max |diff| {float((a - b).abs().max()):.3g}); "
                               f"a removed block may not have an identity shortcut")
    small.train(model.training)
    return small
