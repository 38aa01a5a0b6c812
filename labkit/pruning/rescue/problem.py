"""The rescue problem: weights, the large set, the candidate pools and the calibration loss.

Magnitude pruning at sparsity ``s`` keeps ``K = n − round(s n)`` weights of a layer (or of all
layers, scope ``"global"``). A rescue keeps the ``L = K − B`` largest of them for sure and lets
a search choose the other ``B = floor(ρ K)`` from a *pool*: every weight outside the large set
(``pool="all"``) or only the next ``γ B`` by magnitude (``pool="band"``). One independent choice
per layer (or one for the whole model) is a :class:`Segment`.

A candidate solution is a list of *genes*, one index tensor per segment: positions in that
segment's pool, sorted by descending ``|w|``, so ``torch.arange(B)`` is the magnitude solution.
Its fitness is the cross-entropy ``L_cal`` of the masked model on the calibration batch,
evaluated with ``torch.func.functional_call`` (``w * mask`` swapped in, the model untouched).

Example:
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    >>> p = RescueProblem(net, ["0.weight"], torch.randn(16, 4), torch.randint(0, 3, (16,)), 0.75,
    ...                   rho=0.25, scope="layer", pool="all", gamma=10.0)
    >>> int(p.large.sum()), [(len(s.pool), s.budget) for s in p.segments]    # K = 8: L = 6, B = 2
    (6, [(26, 2)])
    >>> p.loss(p.magnitude()) > 0
    True
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from ...criteria import score
from .saliency import wanda_saliency

__all__ = ["RescueProblem", "Segment", "SCOPES", "POOLS", "SALIENCIES"]

SCOPES = ("layer", "global")
POOLS = ("all", "band")
SALIENCIES = ("wanda", "taylor")


@dataclass
class Segment:
    """One independent choice: pick ``budget`` of ``pool`` (flat indices, by descending |w|)."""

    pool: Tensor
    budget: int


class RescueProblem:
    """Weights, the large set, the pools and the calibration loss of one rescue search.

    Args:
        model: the dense model (read, never modified; the caller puts it in eval mode).
        layers: the parameter names to prune.
        x, y: the calibration batch, on the model's device.
        sparsity: the fraction of weights removed; ``K`` is counted as ``make_masks`` counts it.
        rho: the share of ``K`` chosen by search.
        scope: ``"layer"`` (one segment per layer) or ``"global"`` (one over all layers).
        pool: ``"all"`` or ``"band"`` (the next ``gamma * B`` weights by magnitude).
    """

    def __init__(self, model: nn.Module, layers: list[str], x: Tensor, y: Tensor, sparsity: float, *,
                 rho: float, scope: str, pool: str, gamma: float) -> None:
        self.model, self.layers = model, layers
        self.weights = [model.get_parameter(n).detach() for n in layers]
        self.sizes = [w.numel() for w in self.weights]
        self.absw = torch.cat([w.abs().reshape(-1).cpu() for w in self.weights])
        self.x, self.y = x, y
        groups = ([torch.arange(sum(self.sizes))] if scope == "global" else
                  list(torch.arange(sum(self.sizes)).split(self.sizes)))
        self.large = torch.zeros(sum(self.sizes), dtype=torch.bool)
        self.segments: list[Segment] = []
        for idx in groups:
            n = idx.numel()
            k = n - round(sparsity * n)          # kept, as make_masks(uniform/global) counts them
            b = math.floor(rho * k)
            order = idx[torch.argsort(self.absw[idx], descending=True, stable=True)]
            self.large[order[:k - b]] = True
            rest = order[k - b:]
            if pool == "band":
                rest = rest[:max(b, math.ceil(gamma * b))]
            self.segments.append(Segment(rest, b))
        self._saliency: dict[str, Tensor] = {}

    def magnitude(self) -> list[Tensor]:
        """The next-largest ``B`` of each pool: plain magnitude pruning."""
        return [torch.arange(s.budget) for s in self.segments]

    def flat_mask(self, genes: Sequence[Tensor]) -> Tensor:
        """The keep mask over all weights (flat, concatenated by layer): the large set plus the genes."""
        m = self.large.clone()
        for seg, g in zip(self.segments, genes):
            m[seg.pool[g]] = True
        return m

    def params(self, flat: Tensor) -> dict[str, Tensor]:
        """``{layer: w * mask}`` for ``functional_call`` (``flat`` may be float, for gradients)."""
        dev = self.weights[0].device
        parts = flat.to(dev, self.weights[0].dtype).split(self.sizes)
        return {n: w * p.view_as(w) for n, w, p in zip(self.layers, self.weights, parts)}

    @torch.no_grad()
    def loss(self, genes: Sequence[Tensor]) -> float:
        """``L_cal`` of the solution ``genes``: cross-entropy of the masked model on the calibration batch."""
        out = functional_call(self.model, self.params(self.flat_mask(genes)), (self.x,))
        return float(F.cross_entropy(out, self.y))

    def saliency(self, kind: str) -> Tensor:
        """A per-weight saliency over all weights (flat), computed once: ``"wanda"`` or ``"taylor"``.

        ``wanda``: ``|w| · ‖x_in‖₂`` (:func:`~.saliency.wanda_saliency`); ``taylor``:
        ``|w · ∂L/∂w|`` (the ``taylor`` criterion at weight granularity), both on the calibration batch.
        """
        if kind not in SALIENCIES:
            raise ValueError(f"saliency must be one of {SALIENCIES}, got {kind!r}")
        if kind not in self._saliency:
            sal = (wanda_saliency(self.model, self.layers, self.x) if kind == "wanda" else
                   score(self.model, "taylor", data=(self.x, self.y), granularity="weight", layers=self.layers))
            self._saliency[kind] = torch.cat([sal[n].reshape(-1).float() for n in self.layers])
        return self._saliency[kind]
