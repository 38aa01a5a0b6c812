"""``ste``: a learned score mask (edge-popup, Ramanujan et al. 2020, arXiv 1911.13299).

Every pool member gets a real score, initialised to ``|w| / max|w|``. The forward pass keeps
the hard top-``B`` of each pool; the backward pass treats that selection as the identity
(the straight-through estimator: ``mask = hard + s − s.detach()``), so the calibration loss
has a gradient with respect to the scores. Adam updates the scores; the weights stay frozen.
The search starts from magnitude's loss and returns the best selection seen.

Example:
    >>> STEOptions(steps=150)
    STEOptions(steps=150, lr=0.01)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch.func import functional_call

from .problem import RescueProblem
from .search import Found, HistoryRow, Progress, SearchOptions, register_search

__all__ = ["STEOptions", "ScoreMaskSearch"]


@dataclass(frozen=True)
class STEOptions(SearchOptions):
    """Settings of the learned score mask.

    Attributes:
        steps: Adam steps on the scores.
        lr: Adam's learning rate.
    """

    search: ClassVar[str] = "ste"
    steps: int = 300
    lr: float = 0.01


class ScoreMaskSearch:
    """Learned score mask: hard top-B forward, straight-through backward, Adam on the scores."""

    name = "ste"
    Options = STEOptions

    def search(self, problem: RescueProblem, options: STEOptions, gen: torch.Generator,
               progress: bool = False) -> Found:
        p = problem
        top = float(p.absw.max()) or 1.0
        dev = p.weights[0].device
        scores = [(p.absw[s.pool] / top).to(dev).clone().requires_grad_(True) for s in p.segments]
        opt = torch.optim.Adam(scores, lr=float(options.lr))
        steps = int(options.steps)
        best = p.magnitude()
        best_loss = p.loss(best)   # start from magnitude: never worse on L_cal
        history: list[HistoryRow] = []
        bar = Progress(progress, steps, "STE", "step")
        for step in range(steps + 1):
            flat = p.large.to(dev, p.weights[0].dtype).clone()
            genes = []
            for seg, sc in zip(p.segments, scores):
                idx = (torch.topk(sc.detach(), seg.budget).indices if seg.budget
                       else torch.zeros(0, dtype=torch.long, device=dev))
                hard = torch.zeros_like(sc).index_fill(0, idx, 1.0)
                flat = flat.index_put((seg.pool.to(dev),), hard + sc - sc.detach())  # value = hard, grad = identity
                genes.append(idx.cpu())
            loss = F.cross_entropy(functional_call(p.model, p.params(flat), (p.x,)), p.y)
            value = float(loss.detach())
            if value < best_loss:
                best, best_loss = genes, value
            history.append({"generation": step, "best_fitness": -best_loss, "mean_fitness": -value})
            if step < steps:
                opt.zero_grad()
                loss.backward()
                opt.step()
            bar.tick(best_loss)
        bar.close()
        return Found(best, history)


register_search(ScoreMaskSearch())
