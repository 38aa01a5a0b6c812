"""``sa``: simulated annealing from the magnitude solution, one in/out swap per step.

A neighbour swaps one rescued member of a segment for a non-member (the segment drawn with
probability proportional to its budget). A worse neighbour is accepted with probability
``exp(−ΔL / T)``; the temperature starts at the median ``|ΔL|`` of 20 random swaps and is
multiplied by ``cooling`` after every step (Kirkpatrick et al. 1983). The best solution seen is
returned, so the result is never worse than magnitude pruning on ``L_cal``.

Example:
    >>> SAOptions(steps=600)
    SAOptions(steps=600, cooling=0.995)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

from .problem import RescueProblem
from .search import Found, HistoryRow, Progress, SearchOptions, register_search, swap_members

__all__ = ["SAOptions", "AnnealingSearch"]


@dataclass(frozen=True)
class SAOptions(SearchOptions):
    """Settings of simulated annealing.

    Attributes:
        steps: proposed swaps (each one calibration forward pass).
        cooling: temperature factor per step, in (0, 1].
    """

    search: ClassVar[str] = "sa"
    steps: int = 3000
    cooling: float = 0.995


class AnnealingSearch:
    """Simulated annealing from magnitude: swap one in/out pair; T0 = median |dloss| of 20 swaps."""

    name = "sa"
    Options = SAOptions

    def search(self, problem: RescueProblem, options: SAOptions, gen: torch.Generator,
               progress: bool = False) -> Found:
        steps, cooling = int(options.steps), float(options.cooling)
        segs = [i for i, s in enumerate(problem.segments) if 0 < s.budget < len(s.pool)]
        cur = problem.magnitude()
        cur_loss = problem.loss(cur)
        best, best_loss = cur, cur_loss
        history: list[HistoryRow] = [{"generation": 0, "best_fitness": -best_loss, "mean_fitness": -cur_loss}]
        if not segs:
            return Found(best, history)
        weights = torch.tensor([float(problem.segments[i].budget) for i in segs])

        def neighbour(genes: list[Tensor]) -> list[Tensor]:
            k = segs[int(torch.multinomial(weights, 1, generator=gen))]
            new = list(genes)
            new[k] = swap_members(genes[k], len(problem.segments[k].pool), 1, gen)
            return new

        t = float(np.median([abs(problem.loss(neighbour(cur)) - cur_loss) for _ in range(20)])) or 1e-6
        block = max(1, steps // 60)
        bar = Progress(progress, steps, "SA", "step")
        for step in range(1, steps + 1):
            cand = neighbour(cur)
            loss = problem.loss(cand)
            if loss < cur_loss or float(torch.rand(1, generator=gen)) < math.exp(-(loss - cur_loss) / max(t, 1e-12)):
                cur, cur_loss = cand, loss
                if loss < best_loss:
                    best, best_loss = cand, loss
            t *= cooling
            if step % block == 0 or step == steps:
                history.append({"generation": len(history), "best_fitness": -best_loss, "mean_fitness": -cur_loss})
            bar.tick(best_loss)
        bar.close()
        return Found(best, history)


register_search(AnnealingSearch())
