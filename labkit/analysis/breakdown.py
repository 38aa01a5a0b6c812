"""Where a model's MACs go: one row per costed unit, from the formulas (docs/methods.md §0.1, §2.5).

:func:`~labkit.analysis.cost.cost` counts a model's MACs with ``FlopCounterMode``; this module
splits the same total by where it is spent, analytically:

* modules with their own formula (:data:`FORMULA_UNITS`: CSASML's Split-and-Mixed module, Cross-Scale
  Attention and full MHSA) are costed by their ``.macs(height, width)`` at the map size they see,
  and their inner layers are not counted again;
* every other ``nn.Conv2d`` / ``nn.Linear`` by :func:`~labkit.analysis.cost.layer_macs` (output
  positions × weight elements), the rule ``cost`` uses too;
* normalisation layers hold parameters but no counted MACs (``kind="norm"``).

Each row is labelled with its ``stage`` (the first name part) and its ``kind``, from the nearest
enclosing module of :data:`KINDS` (``SMM``, ``CSA``, ``basic block`` ...), else ``conv`` / ``linear``.
The total equals ``cost(model, shape)["MACs"]`` when the formulas are right (the §2.5 check).

Example:
    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 8 * 8, 10))
    >>> cost_breakdown(net, (1, 8, 8))[["module", "kind", "macs", "params"]].values.tolist()
    [['0', 'conv', 2304, 40], ['3', 'linear', 2560, 2570], ['1', 'norm', 0, 8]]
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, cast

import pandas as pd
import torch
from torch import Tensor, nn

from ..models.csasml import CrossScaleAttention, CSABlock, FullSelfAttention, SplitMixed
from ..models.resnet_cifar import BasicBlock
from .cost import cost, layer_macs

__all__ = ["FORMULA_UNITS", "KINDS", "cost_breakdown", "analytic_macs", "counted_macs"]

FORMULA_UNITS: tuple[type[nn.Module], ...] = (SplitMixed, CrossScaleAttention, FullSelfAttention)
"""Modules costed by their own ``.macs(height, width)`` formula (their inner layers are not counted again)."""

KINDS: tuple[tuple[type[nn.Module], str], ...] = (
    (SplitMixed, "SMM"), (CrossScaleAttention, "CSA"), (FullSelfAttention, "MHSA"), (BasicBlock, "basic block"),
    (CSABlock, "MLP"))
"""Labels of the ``kind`` column: a row belongs to its nearest enclosing module of these types."""


def _kind(model: nn.Module, name: str, kinds: Sequence[tuple[type[nn.Module], str]]) -> str:
    """What a layer belongs to, from its nearest known ancestor (itself included)."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        m = model.get_submodule(".".join(parts[:i]))
        for cls, label in kinds:
            if isinstance(m, cls):
                return label
    return "conv" if isinstance(model.get_submodule(name), nn.Conv2d) else "linear"


class _Formula(Protocol):
    """A module of ``units``: it has its own MACs formula at a map size."""

    def macs(self, height: int, width: int) -> int: ...


def _formula_macs(mod: nn.Module, args: tuple[Any, ...]) -> int:
    """A formula unit's MACs at the map size it sees: an explicit ``size`` argument or its input's H, W."""
    size = args[1] if len(args) > 1 else args[0].shape[-2:]
    return int(cast(_Formula, mod).macs(*size))  # only units (with a .macs formula) reach here


def cost_breakdown(model: nn.Module, input_shape: Sequence[int], *,
                   units: tuple[type[nn.Module], ...] = FORMULA_UNITS,
                   kinds: Sequence[tuple[type[nn.Module], str]] = KINDS) -> pd.DataFrame:
    """One row per costed unit: ``module, stage, kind, macs, params`` (analytic MACs per item).

    One forward pass at batch 1 in eval mode records the shapes (the model's mode is restored).
    ``units`` are the module types costed by their own formula; ``kinds`` label the rows.
    """
    rows: list[dict[str, Any]] = []
    hooks = []
    formula = {n: m for n, m in model.named_modules() if isinstance(m, units)}

    def inside(n: str) -> bool:
        return any(n.startswith(u + ".") for u in formula)

    def hook_for(name: str) -> Callable:
        def hook(mod: nn.Module, args: tuple, out: Tensor) -> None:
            if name in formula:
                macs = _formula_macs(mod, args)
            else:
                assert isinstance(mod, (nn.Conv2d, nn.Linear))  # the only other modules hooked
                macs = layer_macs(mod, out)
            rows.append({"module": name, "macs": int(macs), "params": sum(p.numel() for p in mod.parameters())})
        return hook

    for name, m in model.named_modules():
        if name in formula or (isinstance(m, (nn.Conv2d, nn.Linear)) and not inside(name)):
            hooks.append(m.register_forward_hook(hook_for(name)))
    was = model.training
    model.eval()
    try:
        dev = next(model.parameters()).device
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, device=dev))
    finally:
        model.train(was)
        for h in hooks:
            h.remove()
    counted = {r["module"] for r in rows}
    for name, m in model.named_modules():
        if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.LayerNorm)) and not inside(name) and name not in counted:
            rows.append({"module": name, "macs": 0, "params": sum(p.numel() for p in m.parameters())})
    df = pd.DataFrame(rows)
    df["stage"] = df["module"].str.split(".").str[0]
    df["kind"] = [("norm" if r.macs == 0 and not isinstance(model.get_submodule(r.module), (nn.Conv2d, nn.Linear))
                   else _kind(model, r.module, kinds)) for r in df.itertuples()]
    return df[["module", "stage", "kind", "macs", "params"]]


def analytic_macs(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Total analytic MACs of ``model`` on one input of ``input_shape`` (C, H, W): the breakdown's sum."""
    return int(cost_breakdown(model, input_shape)["macs"].sum())


def counted_macs(model: nn.Module, input_shape: Sequence[int]) -> int:
    """MACs per item as :func:`~labkit.analysis.cost.cost` counts them (``FlopCounterMode`` FLOPs / 2)."""
    return int(cost(model, input_shape, latency=False)["MACs"])
