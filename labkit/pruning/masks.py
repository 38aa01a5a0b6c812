"""Masks are data: per-parameter bool tensors (True = kept), made from scores and an allocation.

``make_masks(scores, alloc)`` keeps, in every layer, the ``n - k`` highest-scored units, where
``k = round(s_l * n)`` (Python's ``round``, the rule ``torch.nn.utils.prune`` uses, so weight
masks match it exactly). Ties are broken by position (a stable sort), so the same scores always
give the same mask.

A :class:`Masks` holds the tensors plus ``granularity``: ``"weight"`` masks have the
parameter's shape, ``"filter"`` masks have shape ``(out_channels,)``. Sparsity is the fraction
of *units* removed (weights, or filters). Save and load them as a safetensors container
(:mod:`labkit.io`, kind ``"masks"``) with JSON metadata (criterion, allocation, seed, versions);
:func:`overlap` compares two masks layer by layer.

Example:
    >>> sc = {"fc.weight": torch.tensor([[0.1, 0.9], [0.5, 0.3]])}
    >>> m = make_masks(sc, {"fc.weight": 0.5})
    >>> m["fc.weight"].tolist(), m.sparsity
    ([[False, True], [True, False]], 0.5)
"""
from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import torch
from torch import Tensor

from ..criteria.scores import GRANULARITIES, check_scores, granularity_of
from ..errors import MismatchError, OptionError, UnknownNameError
from ..io import load_container, save_container
from .allocate import check_sparsity

if TYPE_CHECKING:
    from typing_extensions import TypeIs

    from .ranking import Ranking

__all__ = ["Masks", "make_masks", "masks_meta", "overlap"]


class Masks(Mapping[str, Tensor]):
    """Per-parameter keep masks (True = kept) and their ``granularity``.

    Args:
        masks: ``{param_name: bool tensor}``; weight masks shaped like the parameter, filter masks
            shaped ``(out_channels,)``.
        granularity: ``"weight"`` or ``"filter"``.
        meta: how they were made (criterion, allocation, seed ...); saved with them.
    """

    def __init__(self, masks: Mapping[str, Tensor], granularity: str = "weight",
                 meta: Mapping[str, Any] | None = None) -> None:
        if granularity not in GRANULARITIES:
            raise OptionError(f"granularity must be 'weight' or 'filter', got {granularity!r}")
        self._m: dict[str, Tensor] = {}
        for name, t in masks.items():
            t = torch.as_tensor(t)
            if t.dtype != torch.bool:
                if not bool(((t == 0) | (t == 1)).all()):
                    raise OptionError(f"mask {name!r} must be boolean (True = kept), got values other than 0/1; "
                                      f"pass mask > 0 or a bool tensor")
                t = t.bool()
            if granularity == "filter" and t.dim() != 1:
                raise OptionError(f"filter mask {name!r} must have shape (out_channels,), got {tuple(t.shape)}")
            self._m[name] = t
        self.granularity = granularity
        self.meta: dict[str, Any] = dict(meta or {})

    # Mapping protocol -------------------------------------------------------------------
    def __getitem__(self, name: str) -> Tensor:
        try:
            return self._m[name]
        except KeyError:
            raise UnknownNameError(f"no mask for layer {name!r}; masked layers: {', '.join(self._m)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._m)

    def __len__(self) -> int:
        return len(self._m)

    def __repr__(self) -> str:
        return (f"Masks(granularity={self.granularity!r}, layers={len(self)}, "
                f"sparsity={self.sparsity:.4f})")

    # Sparsity ---------------------------------------------------------------------------
    @property
    def total(self) -> int:
        """Number of units (weights or filters) under a mask."""
        return sum(t.numel() for t in self._m.values())

    @property
    def kept(self) -> int:
        """Number of units kept."""
        return sum(int(t.sum()) for t in self._m.values())

    @property
    def sparsity(self) -> float:
        """Fraction of all masked units removed (0 for an empty set of masks)."""
        total = self.total
        return 1.0 - self.kept / total if total else 0.0

    @property
    def layer_sparsity(self) -> dict[str, float]:
        """Fraction removed in each layer."""
        return {n: 1.0 - int(t.sum()) / t.numel() for n, t in self._m.items()}

    def summary(self) -> pd.DataFrame:
        """One row per layer: ``layer``, ``units``, ``kept``, ``sparsity``."""
        rows = [{"layer": n, "units": t.numel(), "kept": int(t.sum()),
                 "sparsity": 1.0 - int(t.sum()) / t.numel()} for n, t in self._m.items()]
        return pd.DataFrame(rows, columns=["layer", "units", "kept", "sparsity"])

    # Conversions ------------------------------------------------------------------------
    def to(self, device: str | torch.device) -> Masks:
        """A copy with every tensor on ``device``."""
        return Masks({n: t.to(device) for n, t in self._m.items()}, self.granularity, self.meta)

    def equal(self, other: Masks) -> bool:
        """Same granularity, layers and values."""
        return (self.granularity == other.granularity and list(self) == list(other)
                and all(torch.equal(self._m[n].cpu(), other[n].cpu()) for n in self._m))

    # Files ------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, meta: Mapping[str, Any] | None = None) -> Path:
        """Write a ``.safetensors`` mask file atomically (:func:`labkit.io.save_container`, kind ``"masks"``).

        The metadata records ``granularity``, ``self.meta`` updated with ``meta`` (criterion,
        allocation, seed ... must be JSON-able) and the library versions.
        """
        from ..runtime import versions

        info = {**self.meta, **dict(meta or {})}
        info.setdefault("seed", None)  # explicit, so a reader sees "no seed was given" rather than nothing
        info.setdefault("versions", versions())
        return save_container(path, self._m, kind="masks", meta={"granularity": self.granularity, "meta": info})

    @classmethod
    def load(cls, path: str | os.PathLike) -> Masks:
        """Read a file written by :meth:`save` (safetensors: no code runs on load).

        Raises:
            labkit.io.ContainerError: missing (also a ``FileNotFoundError``), truncated,
                corrupted, or not a mask file.
        """
        tensors, info = load_container(path, kind="masks")
        return cls(tensors, info.get("granularity", "weight"), info.get("meta", {}))


def layer_keep_mask(flat: Tensor, k: int, order: Tensor | None = None,
                    sorted_vals: Tensor | None = None) -> Tensor:
    """Flat bool mask removing the ``k`` lowest of ``flat`` (ties: lower index removed first).

    With ``order`` (a stable ascending argsort) and ``sorted_vals`` precomputed this never sorts:
    when no tie straddles the cut, one comparison with ``sorted_vals[k-1]`` gives the mask;
    otherwise the first ``k`` indices of ``order`` are switched off.
    """
    n = flat.numel()
    if k <= 0:
        return torch.ones(n, dtype=torch.bool)
    if k >= n:
        return torch.zeros(n, dtype=torch.bool)
    if sorted_vals is not None and bool(sorted_vals[k] > sorted_vals[k - 1]):
        return flat > sorted_vals[k - 1]
    if order is None:
        order = torch.argsort(flat, stable=True)
    mask = torch.ones(n, dtype=torch.bool)
    mask[order[:k]] = False
    return mask


def _is_ranking(scores: Mapping[str, Tensor] | Ranking) -> TypeIs[Ranking]:
    """A :class:`~labkit.pruning.Ranking` (known by its sorted copies), not plain scores."""
    return hasattr(scores, "sorted_values") and hasattr(scores, "flat")


def make_masks(scores: Mapping[str, Tensor] | Ranking, alloc: Mapping[str, float]) -> Masks:
    """Keep the top ``(1 - s_l) * n_l`` units of every layer (``k = round(s_l * n_l)`` removed).

    Args:
        scores: :class:`~labkit.criteria.Scores` (or a :class:`~labkit.pruning.Ranking`, whose
            sorted copies are then reused instead of sorting again).
        alloc: per-layer sparsity in [0, 1), from :func:`~labkit.pruning.allocate` or a dict.
            Scored layers missing from ``alloc`` stay dense (all True).

    Raises:
        KeyError: a layer in ``alloc`` that has no scores.
        ValueError: a sparsity outside [0, 1), or NaN scores.
    """
    ranking: Ranking | None = None
    if _is_ranking(scores):
        ranking, table = scores, scores.scores
    else:
        table = scores
    if ranking is None:
        check_scores(table)
    unknown = [n for n in alloc if n not in table]
    if unknown:
        raise UnknownNameError(f"allocation names layer(s) {unknown} that have no scores; scored layers: "
                               f"{', '.join(table)}")
    out: dict[str, Tensor] = {}
    for name, t in table.items():
        s = check_sparsity(alloc.get(name, 0.0), f"sparsity of {name!r}")
        k = round(s * t.numel())
        if ranking is not None:
            mask = layer_keep_mask(ranking.flat(name), k, ranking.order(name), ranking.sorted_values(name))
        else:
            mask = layer_keep_mask(t.detach().reshape(-1).float().cpu(), k)
        out[name] = mask.view(t.shape)
    return Masks(out, granularity_of(table), masks_meta(table, alloc))


def masks_meta(scores: Mapping[str, Tensor], alloc: Mapping[str, float]) -> dict[str, Any]:
    """What masks record about their making: the scores' meta plus the allocation's."""
    meta = dict(getattr(scores, "meta", {}) or {})
    ameta = getattr(alloc, "meta", None)
    meta["allocation"] = dict(ameta) if ameta else {"mode": "dict"}
    return meta


def overlap(a: Masks, b: Masks) -> pd.DataFrame:
    """Per-layer Jaccard overlap of the kept sets, ``|A and B| / |A or B|`` (1.0 when both are empty).

    Returns one row per layer with columns ``layer``, ``units``, ``kept_a``, ``kept_b``,
    ``both``, ``either``, ``jaccard``; ``df.attrs["total"]`` holds the same over all layers.
    """
    if a.granularity != b.granularity:
        raise MismatchError(f"cannot compare {a.granularity} masks with {b.granularity} masks")
    if list(a) != list(b):
        raise MismatchError(f"masks cover different layers: only in a {sorted(set(a) - set(b))}, "
                         f"only in b {sorted(set(b) - set(a))}")
    rows = []
    for n in a:
        x, y = a[n].cpu(), b[n].cpu()
        if x.shape != y.shape:
            raise MismatchError(f"mask shape mismatch for {n!r}: {tuple(x.shape)} vs {tuple(y.shape)}")
        both, either = int((x & y).sum()), int((x | y).sum())
        rows.append({"layer": n, "units": x.numel(), "kept_a": int(x.sum()), "kept_b": int(y.sum()),
                     "both": both, "either": either})
    df = pd.DataFrame(rows, columns=["layer", "units", "kept_a", "kept_b", "both", "either"])
    df["jaccard"] = [1.0 if e == 0 else bo / e for bo, e in zip(df["both"], df["either"])]
    total: dict[str, float] = {k: int(df[k].sum()) for k in ("units", "kept_a", "kept_b", "both", "either")}
    total["jaccard"] = 1.0 if total["either"] == 0 else total["both"] / total["either"]
    df.attrs["total"] = total
    return df
