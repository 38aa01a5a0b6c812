"""``Plan`` (what decides a pruning) and ``Trial`` (one pruning and what it did).

A plan is plain data: it is saved next to the masks, so a result can be re-made, and it resolves
its own defaults (``normalize="auto"``, the allocation a sparsity sweep uses) so every host of the
lab (marimo, Jupyter, reports) reads the same answer from one place.

Example:
    >>> p = Plan(criterion="taylor", sparsity=0.6, granularity="filter")
    >>> p.resolved_normalize, p.sweep_mode
    ('l2', 'global')
    >>> Plan(mode="per-layer", layer_sparsity=(("conv.weight", 0.3),)).sweep_mode is None
    True
"""
from __future__ import annotations

import difflib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
from torch import Tensor, nn

from ..analysis.evaluate import ClassReport
from ..errors import OptionError, UnknownNameError
from ..pruning import Masks
from ..pruning.allocate import check_sparsity

__all__ = ["ALLOCATION_MODES", "Plan", "Trial", "make_plan"]

ALLOCATION_MODES = ("global", "uniform", "layered", "per-layer")
OptionValue = bool | int | float | str


@dataclass(frozen=True)
class Plan:
    """Everything that decides a pruning: saved next to the masks, so a result can be re-made."""

    criterion: str = "magnitude"  # a name from lk.list_criteria()
    sparsity: float = 0.5         # fraction of the prunable units removed, in [0, 1)
    mode: str = "global"          # global | uniform | layered | per-layer
    granularity: str = "weight"   # weight (unstructured) | filter (output channels)
    # per-layer score normalisation for global ranking: auto|none|l2|minmax|mean. "auto" is "none"
    # for weights (classic global magnitude pruning) and "l2" for filters: raw filter norms differ by
    # orders of magnitude between layers, so one global threshold would empty the early layers.
    normalize: str = "auto"
    depth_bias: float = 0.5       # delta of the layered profile (docs/methods.md §1.3)
    s_max: float = 0.95           # per-layer ceiling of the layered profile
    layer_sparsity: tuple[tuple[str, float], ...] = ()  # mode="per-layer": (layer, sparsity) pairs
    options: tuple[tuple[str, OptionValue], ...] = ()   # criterion options, e.g. (("p", 2),)

    def __post_init__(self) -> None:  # a string sparsity or mode typo is refused here, not stored
        object.__setattr__(self, "sparsity", check_sparsity(self.sparsity))
        if self.mode not in ALLOCATION_MODES:
            close = difflib.get_close_matches(str(self.mode), ALLOCATION_MODES, n=1)
            hint = f"; did you mean mode={close[0]!r}?" if close else ""
            raise OptionError(f"mode must be one of {', '.join(ALLOCATION_MODES)}, got {self.mode!r}{hint}")

    @property
    def resolved_normalize(self) -> str:
        """The normalisation actually used: ``"auto"`` resolved by granularity (see ``normalize``)."""
        if self.normalize != "auto":
            return self.normalize
        return "l2" if self.granularity == "filter" else "none"

    @property
    def sweep_mode(self) -> str | None:
        """The allocation of an accuracy-vs-sparsity sweep through this plan, ``None`` if there is none.

        A per-layer plan sets every layer's sparsity by hand: there is no single global sparsity to
        sweep, so views show its measured point alone (and reports fall back to ``"global"``).
        """
        return None if self.mode == "per-layer" else self.mode

    @property
    def ranking_mode(self) -> str:
        """The allocation the ranking runs: per-layer targets are exact per-layer budgets."""
        return "global" if self.mode == "per-layer" else self.mode

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["layer_sparsity"] = dict(self.layer_sparsity)
        d["options"] = dict(self.options)
        return d


def make_plan(layers: Sequence[str], **kw: Any) -> Plan:
    """A :class:`Plan` from keyword arguments, checked against the prunable ``layers``.

    Mappings are accepted for ``layer_sparsity`` and ``options``; bad input raises naming the fix.
    """
    if isinstance(kw.get("layer_sparsity"), Mapping):
        kw["layer_sparsity"] = tuple(sorted(kw["layer_sparsity"].items()))
    if isinstance(kw.get("options"), Mapping):
        kw["options"] = tuple(sorted(kw["options"].items()))
    fields = sorted(Plan.__dataclass_fields__)
    unknown_fields = sorted(set(kw) - set(fields))
    if unknown_fields:
        close = {k: difflib.get_close_matches(k, fields, n=1) for k in unknown_fields}
        hint = "; ".join(f"{k!r} -> did you mean {c[0]!r}?" for k, c in close.items() if c)
        raise OptionError(f"unknown plan field(s) {unknown_fields}{' (' + hint + ')' if hint else ''}; "
                          f"valid names: {', '.join(fields)}")
    p = Plan(**kw)
    if p.mode == "per-layer":
        unknown = [n for n, _ in p.layer_sparsity if n not in layers]
        if unknown:
            raise UnknownNameError(f"unknown layer(s) {unknown} in layer_sparsity; prunable layers: {', '.join(layers)}")
    return p


@dataclass
class Trial:
    """One pruning of the lab's dense model: the plan, the masks and what they did."""

    plan: Plan
    masks: Masks
    allocation: dict[str, float]
    report: ClassReport
    dense: ClassReport
    cost: dict[str, int]
    first_stage: int             # first stage re-run (len(stages) = nothing changed)
    eval_ms: float               # masks -> per-class report, wall time
    preview: bool = False        # report computed on the stratified preview only
    model: nn.Module | None = field(default=None, repr=False)  # set for fine-tuned trials
    pred: Tensor | None = field(default=None, repr=False)       # predicted labels of the live test items
    warnings: tuple[warnings.WarningMessage, ...] = field(default=(), repr=False)  # what making it warned

    def layers(self) -> pd.DataFrame:
        """Per-layer ``layer, sparsity, n_params`` (the sparsity-profile view's input)."""
        return pd.DataFrame([{"layer": n, "sparsity": 1.0 - float(m.float().mean()), "n_params": m.numel()}
                             for n, m in self.masks.items()])

    def summary(self) -> pd.DataFrame:
        """One row: plan, accuracies (pruned and dense), sparsity, params and MACs."""
        row: dict[str, Any] = {"criterion": self.plan.criterion, "mode": self.plan.mode,
                               "granularity": self.plan.granularity, "target": self.plan.sparsity,
                               "sparsity": self.masks.sparsity}
        for key in ("overall", "balanced"):
            row[key], row[f"dense_{key}"] = getattr(self.report, key), getattr(self.dense, key)
        for g, v in self.report.by_group.items():
            row[g], row[f"dense_{g}"] = v, self.dense.by_group.get(g, float("nan"))
        row.update({k: self.cost[k] for k in ("params", "nonzero_params", "MACs", "nonzero_MACs")})
        return pd.DataFrame([row])
