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

Example:
    >>> a = Masks({"w": torch.tensor([True, True, False, False])})
    >>> b = Masks({"w": torch.tensor([True, False, True, False])})
    >>> merge_masks([a, b], weights=[0.7, 0.3])["w"].tolist()
    [True, True, False, False]
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import torch
from torch import Tensor

from .._registry import Registry
from .masks import Masks

__all__ = ["merge_masks", "register_merge_mode", "get_merge_mode", "list_merge_modes"]

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
        raise ValueError("merge_masks needs at least one Masks")
    ref = masks[0]
    for i, m in enumerate(masks[1:], 1):
        if m.granularity != ref.granularity:
            raise ValueError(f"masks[{i}] is {m.granularity}-level but masks[0] is {ref.granularity}-level")
        if list(m) != list(ref):
            raise ValueError(f"masks[{i}] covers different layers than masks[0]: "
                             f"{sorted(set(m) ^ set(ref))}; make all candidates on the same layers")
        for n in ref:
            if m[n].shape != ref[n].shape:
                raise ValueError(f"mask shape mismatch for {n!r}: masks[{i}] {tuple(m[n].shape)} vs "
                                 f"masks[0] {tuple(ref[n].shape)}")
    K = len(masks)
    w = torch.ones(K, dtype=torch.float64) if weights is None else torch.as_tensor(list(weights), dtype=torch.float64)
    if w.shape != (K,):
        raise ValueError(f"weights has {w.numel()} entries for {K} masks; give one weight per mask")
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()) or float(w.sum()) <= 0:
        raise ValueError(f"weights must be finite, non-negative and not all zero, got {w.tolist()}")
    alpha = w / w.sum()
    if scores is not None and len(scores) != K:
        raise ValueError(f"scores has {len(scores)} entries for {K} masks; give one Scores per mask or None")
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
                    raise ValueError(f"scores[{k}] has no matching scores for layer {n!r} of shape {tuple(shape)}")
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
