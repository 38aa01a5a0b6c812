"""Merging candidate masks into one, keeping every layer's budget (docs/methods.md §1.4) [inferred].

Given masks ``M_1..M_K`` (e.g. from criteria or auxiliary trainers) with weights ``alpha_k``
(normalised to sum 1; docs/methods.md §1.4 suggests ``softmax(tau * val_acc_k)``), every layer keeps
exactly ``round(sum_k alpha_k * kept_k)`` units (the shared budget when all candidates used the
same allocation), chosen by a *priority* per unit:

- ``weighted`` (default): ``V = sum_k alpha_k M_k + 1e-3 * sum_k alpha_k S^_k``, where
  ``S^_k = S_k / max|S_k|`` per layer is a tie-break only (when ``scores`` are given).
- ``majority``: units kept by at least half of the candidates (one mask, one vote) first, then
  fill by ``V``. With equal weights it equals ``weighted``; with unequal weights a unit two weak
  candidates keep beats one a single strong candidate keeps.
- ``intersection-first``: units every candidate keeps first (COLT-like), then fill by the
  weighted normalised scores ``sum_k alpha_k S^_k`` (by ``V`` without scores). Note the
  intersection always has the top ``V``, so without scores this equals ``weighted``.

Modes live in a strict registry: ``register_merge_mode(name)`` on a function
``(votes (K, n) float, alpha (K,), scores_hat (K, n) or None) -> priority (n,)``.

:func:`merge_candidates` merges *named* candidates (a trainer's or a criterion's mask each) and
reports the weights by name and the best candidate; :func:`overlap_matrix` is how much they agree.

Example:
    >>> a = Masks({"w": torch.tensor([True, True, False, False])})
    >>> b = Masks({"w": torch.tensor([True, False, True, False])})
    >>> merge_masks([a, b], weights=[0.7, 0.3])["w"].tolist()
    [True, True, False, False]
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from .._registry import Registry
from ..errors import MismatchError, OptionError
from .masks import Masks, overlap

__all__ = ["merge_masks", "register_merge_mode", "get_merge_mode", "list_merge_modes", "MergeResult",
           "merge_candidates", "overlap_matrix"]

MergeMode = Callable[[Tensor, Tensor, "Tensor | None"], Tensor]
_MODES: Registry[MergeMode] = Registry("merge mode")
_TIE = 1e-3


def register_merge_mode(name: str) -> Callable[[MergeMode], MergeMode]:
    """Decorator: register a priority function as merge mode ``name`` (duplicates raise)."""
    return _MODES.register(name)


def get_merge_mode(name: str) -> MergeMode:
    """The priority function of merge mode ``name`` (unknown -> ``KeyError`` with close matches)."""
    return _MODES.get(name)


def list_merge_modes() -> list[str]:
    """Registered merge modes, sorted."""
    return _MODES.names()


def _vote(votes: Tensor, alpha: Tensor, shat: Tensor | None) -> Tensor:
    v = alpha @ votes
    return v + _TIE * (alpha @ shat) if shat is not None else v


@register_merge_mode("weighted")
def weighted(votes: Tensor, alpha: Tensor, shat: Tensor | None) -> Tensor:
    """``V = sum alpha_k M_k (+ 1e-3 sum alpha_k S^_k)``."""
    return _vote(votes, alpha, shat)


@register_merge_mode("majority")
def majority(votes: Tensor, alpha: Tensor, shat: Tensor | None) -> Tensor:
    """Units kept by >= half the candidates first (unweighted vote), then by ``V``."""
    first = (votes.mean(dim=0) >= 0.5).to(votes.dtype)
    return 4.0 * first + _vote(votes, alpha, shat)


@register_merge_mode("intersection-first")
def intersection_first(votes: Tensor, alpha: Tensor, shat: Tensor | None) -> Tensor:
    """Units every candidate keeps first, then by weighted normalised scores (or ``V``)."""
    first = votes.prod(dim=0)
    fill = alpha @ shat if shat is not None else _vote(votes, alpha, None)
    return 4.0 * first + fill


def merge_masks(masks: Sequence[Masks], weights: Sequence[float] | None = None,
                mode: str | MergeMode = "weighted",
                scores: Sequence[Mapping[str, Tensor]] | None = None) -> Masks:
    """Merge candidate masks into one with each layer's budget preserved (see module doc).

    Args:
        masks: two or more :class:`Masks` of the same granularity, layers and shapes.
        weights: one non-negative weight per mask (normalised to sum 1); default equal.
        mode: a registered merge mode (:func:`list_merge_modes`) or a priority function.
        scores: optional scores each mask was made from (tie-break and intersection fill).
    """
    masks = list(masks)
    if not masks:
        raise OptionError("merge_masks needs at least one Masks; pass a list such as [masks_a, masks_b]")
    wrong = [f"masks[{i}] is a {type(m).__name__}" for i, m in enumerate(masks) if not isinstance(m, Masks)]
    if wrong:
        raise OptionError(f"merge_masks takes a list of labkit Masks; {', '.join(wrong)}: "
                          f"wrap plain dicts as Masks(d, granularity=...)")
    ref = masks[0]
    for i, m in enumerate(masks[1:], 1):
        if m.granularity != ref.granularity:
            raise MismatchError(f"masks[{i}] is {m.granularity}-level but masks[0] is {ref.granularity}-level")
        if list(m) != list(ref):
            raise MismatchError(f"masks[{i}] covers different layers than masks[0]: "
                             f"{sorted(set(m) ^ set(ref))}; make all candidates on the same layers")
        for n in ref:
            if m[n].shape != ref[n].shape:
                raise MismatchError(f"mask shape mismatch for {n!r}: masks[{i}] {tuple(m[n].shape)} vs "
                                 f"masks[0] {tuple(ref[n].shape)}")
    K = len(masks)
    w = torch.ones(K, dtype=torch.float64) if weights is None else torch.as_tensor(list(weights), dtype=torch.float64)
    if w.shape != (K,):
        raise OptionError(f"weights has {w.numel()} entries for {K} masks; give one weight per mask")
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()) or float(w.sum()) <= 0:
        raise OptionError(f"weights must be finite, non-negative and not all zero, got {w.tolist()}")
    alpha = w / w.sum()
    if scores is not None and len(scores) != K:
        raise OptionError(f"scores has {len(scores)} entries for {K} masks; give one Scores per mask or None")
    fn = get_merge_mode(mode) if isinstance(mode, str) else mode
    out: dict[str, Tensor] = {}
    for n in ref:
        shape = ref[n].shape
        votes = torch.stack([m[n].reshape(-1).cpu().to(torch.float64) for m in masks])
        shat = None
        if scores is not None:
            rows = []
            for k, s in enumerate(scores):
                if n not in s or s[n].numel() != votes.shape[1]:
                    raise MismatchError(f"scores[{k}] has no matching scores for layer {n!r} of shape {tuple(shape)}")
                t = s[n].detach().reshape(-1).cpu().to(torch.float64)
                top = t.abs().max()
                rows.append(t / top if top > 0 else t)
            shat = torch.stack(rows)
        keep = int(round(float(alpha @ votes.sum(dim=1))))
        priority = fn(votes, alpha, shat)
        order = torch.argsort(-priority, stable=True)
        mask = torch.zeros(votes.shape[1], dtype=torch.bool)
        mask[order[:keep]] = True
        out[n] = mask.view(shape)
    meta = {**ref.meta, "merge": {"mode": mode if isinstance(mode, str) else getattr(mode, "__name__", "custom"),
                                  "weights": alpha.tolist(), "candidates": K}}
    return Masks(out, ref.granularity, meta)


@dataclass
class MergeResult:
    """A merge of named candidates: the candidates, their weights ``alpha`` (sum 1), the merged mask and
    ``best``, the candidate with the largest weight (``k* = argmax α_k``, the first on a tie)."""

    candidates: dict[str, Masks]
    alpha: dict[str, float]
    merged: Masks
    best: str


def _alpha(weights: Sequence[float] | np.ndarray | Mapping[str, float] | None, names: Sequence[str]) -> np.ndarray:
    k = len(names)
    if weights is None:
        return np.full(k, 1.0 / k)
    if isinstance(weights, Mapping):
        missing = [n for n in names if n not in weights]
        if missing:
            raise KeyError(f"no weight for candidate(s) {missing}; weights are given for {list(weights)}")
        weights = [weights[n] for n in names]
    w = np.asarray(weights, dtype=float)
    if w.shape != (k,) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise OptionError(f"weights must be {k} non-negative numbers, not all zero; got {list(weights)}")
    return w if abs(w.sum() - 1.0) <= 1e-9 else w / w.sum()


def merge_candidates(candidates: Mapping[str, Masks],
                     weights: Sequence[float] | np.ndarray | Mapping[str, float] | None = None,
                     *, mode: str | MergeMode = "weighted",
                     scores: Mapping[str, Mapping[str, Tensor]] | None = None) -> MergeResult:
    """Merge named candidate masks with weights (docs/methods.md §1.4): :func:`merge_masks` by name.

    Args:
        candidates: name -> :class:`Masks` (e.g. one per auxiliary trainer or criterion), all on the
            same layers; merging keeps every layer's budget.
        weights: one non-negative weight per candidate (a sequence or array in ``candidates`` order, or a
            mapping by name); default equal. Weights that already sum to 1 (within 1e-9, e.g.
            ``softmax(τ a_k)``) are kept as given, others divided by their sum: that is ``alpha``.
        mode: a registered merge mode (:func:`list_merge_modes`) or a priority function.
        scores: name -> the scores each mask was made from (tie-break and intersection fill).

    The merged mask's ``meta`` records ``merge_alpha`` and ``best``.

    Example:
        >>> a = Masks({"w": torch.tensor([True, True, False, False])})
        >>> b = Masks({"w": torch.tensor([True, False, True, False])})
        >>> r = merge_candidates({"a": a, "b": b}, [3, 1])
        >>> r.alpha, r.best, r.merged["w"].tolist()
        ({'a': 0.75, 'b': 0.25}, 'a', [True, True, False, False])
    """
    names = list(candidates)
    if not names:
        raise OptionError("merge_candidates needs at least one candidate mask")
    w = _alpha(weights, names)
    merged = merge_masks([candidates[n] for n in names], weights=w.tolist(), mode=mode,
                         scores=[scores[n] for n in names] if scores is not None else None)
    alpha = {n: float(a) for n, a in zip(names, w)}
    best = names[int(np.argmax(w))]
    merged.meta.update(merge_alpha=alpha, best=best)
    return MergeResult(dict(candidates), alpha, merged, best)


def overlap_matrix(masks: Mapping[str, Masks]) -> pd.DataFrame:
    """K × K Jaccard overlap of the kept sets, pooled over all layers (``overlap(a, b).attrs["total"]``).

    Example:
        >>> a = Masks({"w": torch.tensor([True, True, False, False])})
        >>> b = Masks({"w": torch.tensor([True, False, True, False])})
        >>> overlap_matrix({"a": a, "b": b}).round(3).values.tolist()
        [[1.0, 0.333], [0.333, 1.0]]
    """
    names = list(masks)
    mat = [[overlap(masks[a], masks[b]).attrs["total"]["jaccard"] for b in names] for a in names]
    return pd.DataFrame(mat, index=names, columns=names)
