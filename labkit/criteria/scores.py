"""``Scores``: importance per weight or per filter, and the checks every set of scores must pass.

A criterion's answer is a :class:`Scores`: a dict from parameter name to a float tensor,
**higher = more important, always** (docs/design.md §1). ``"weight"`` scores have the
parameter's shape; ``"filter"`` scores have shape ``(out_channels,)``, one per output channel.

The checks live here, next to the type they protect:

- :meth:`Scores.checked` builds scores from a criterion's raw output and refuses a missing
  layer, a wrong shape or a NaN (what :func:`~labkit.criteria.score` runs on every criterion);
- :func:`check_scores` refuses empty, non-tensor or non-finite scores handed to the pruning
  engine (``allocate``, ``make_masks``, ``Ranking``), which also accepts plain dicts;
- :func:`granularity_of` tells weight from filter scores, for plain dicts too.

Example:
    >>> sc = Scores({"fc.weight": torch.tensor([0.5, 2.0])}, granularity="filter", meta={"criterion": "l1"})
    >>> sc, granularity_of(sc), granularity_of({"fc.weight": torch.ones(2, 3)})
    (Scores('l1', granularity='filter', layers=1, units=2), 'filter', 'weight')
    >>> check_scores({"fc.weight": torch.tensor([float("nan")])})
    Traceback (most recent call last):
    ...
    ValueError: scores['fc.weight'] contain NaN/inf; recompute them (check the model weights and data)
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["GRANULARITIES", "Scores", "check_scores", "granularity_of"]

#: ``"weight"``: one score per weight; ``"filter"``: one per output channel.
GRANULARITIES = ("weight", "filter")


class Scores(dict):
    """Importance scores: ``{param_name: float tensor}``, higher = more important.

    A plain ``dict`` that also remembers how it was made, so masks built from it can record
    it. ``granularity`` is ``"weight"`` (tensor shaped like the parameter) or ``"filter"``
    (shape ``(out_channels,)``); ``meta`` holds the criterion name and its keyword arguments.
    """

    def __init__(self, data: Any = (), *, granularity: str = "weight",
                 meta: dict[str, Any] | None = None) -> None:
        super().__init__(data)
        if granularity not in GRANULARITIES:
            raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
        self.granularity = granularity
        self.meta: dict[str, Any] = dict(meta or {})

    def __repr__(self) -> str:
        n = sum(t.numel() for t in self.values())
        crit = self.meta.get("criterion", "?")
        return f"Scores({crit!r}, granularity={self.granularity!r}, layers={len(self)}, units={n})"

    @classmethod
    def checked(cls, raw: Mapping[str, Tensor], model: nn.Module, layers: Sequence[str], *, granularity: str,
                meta: dict[str, Any], criterion: str) -> Scores:
        """Scores of ``layers`` from a criterion's raw output, on the CPU as float32, after checking them.

        Every layer must have a score, shaped like the parameter (``"weight"``) or
        ``(out_channels,)`` (``"filter"``), and finite; ``criterion`` names the culprit otherwise.

        Raises:
            ValueError: a missing layer, a wrong shape, or NaN / inf scores.
        """
        out = cls(granularity=granularity, meta=meta)
        for n in layers:
            if n not in raw:
                raise ValueError(f"criterion {criterion!r} returned no score for layer {n!r}")
            t = raw[n].detach().to("cpu", torch.float32)
            p = model.get_parameter(n)
            want = tuple(p.shape) if granularity == "weight" else (p.shape[0],)
            if tuple(t.shape) != want:
                raise ValueError(f"criterion {criterion!r} returned shape {tuple(t.shape)} for {n!r}; "
                                 f"{granularity} scores must have shape {want}")
            if not bool(torch.isfinite(t).all()):
                raise ValueError(f"criterion {criterion!r} produced NaN/inf scores for {n!r}; check the data "
                                 f"for NaN inputs")
            out[n] = t.contiguous()
        return out


def granularity_of(scores: Mapping[str, Tensor]) -> str:
    """``scores.granularity`` if it has one; else ``"filter"`` when every tensor is 1-D."""
    g = getattr(scores, "granularity", None)
    if g is not None:
        return g
    return "filter" if scores and all(t.dim() == 1 for t in scores.values()) else "weight"


def check_scores(scores: Mapping[str, Tensor]) -> None:
    """Raise a clear error for empty, non-tensor or non-finite scores."""
    if not scores:
        raise ValueError("scores are empty; compute them with lk.score(model, criterion)")
    for n, t in scores.items():
        if not isinstance(t, Tensor):
            raise TypeError(f"scores[{n!r}] must be a tensor, got {type(t).__name__}")
        if t.numel() == 0:
            raise ValueError(f"scores[{n!r}] is empty")
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"scores[{n!r}] contain NaN/inf; recompute them (check the model weights and data)")
