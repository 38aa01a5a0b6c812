"""``pso``: binary particle swarm with a fixed budget (Kennedy & Eberhart 1997).

Every particle has a real velocity per pool member, updated as
``v ← ω v + c₁r₁(p_best − x) + c₂r₂(g_best − x)`` and clamped to ``±4``, with ``x``,
``p_best`` and ``g_best`` the 0/1 membership vectors of the particle, its best and the swarm's
best. The new position keeps the ``B`` members whose ``σ(v) − u`` (``u ~ U(0, 1)``, the BPSO
coin) is largest, so every position respects the budget. Particle 0 starts at the magnitude
solution. ``ω = 0.7``, ``c₁ = c₂ = 1.5`` (Shi & Eberhart 1998); ``|v| ≤ 4`` keeps ``σ(v)`` in
[0.018, 0.982] so every member keeps a chance to flip.

Example:
    >>> PSOOptions(population=8)
    PSOOptions(population=8, generations=60)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

from .problem import RescueProblem
from .search import Found, HistoryRow, Progress, SearchOptions, register_search, sample_members, top_members

__all__ = ["PSOOptions", "SwarmSearch"]

INERTIA, C1, C2, VMAX = 0.7, 1.5, 1.5, 4.0


@dataclass(frozen=True)
class PSOOptions(SearchOptions):
    """Settings of the binary particle swarm.

    Attributes:
        population: particles.
        generations: iterations (every particle moves once per iteration).
    """

    search: ClassVar[str] = "pso"
    population: int = 24
    generations: int = 60

    def __post_init__(self) -> None:
        if int(self.population) < 1:
            raise ValueError(f"population must be >= 1, got {self.population}")


class SwarmSearch:
    """Binary PSO with a budget; ``population`` particles, ``generations`` iterations."""

    name = "pso"
    Options = PSOOptions

    def search(self, problem: RescueProblem, options: PSOOptions, gen: torch.Generator,
               progress: bool = False) -> Found:
        size, iters = int(options.population), int(options.generations)
        segs = problem.segments

        def onehot(genes: list[Tensor]) -> list[Tensor]:
            return [torch.zeros(len(s.pool)).index_fill_(0, g, 1.0) for s, g in zip(segs, genes)]

        def position(vel: list[Tensor]) -> list[Tensor]:
            return [top_members(torch.sigmoid(v) - torch.rand(len(v), generator=gen), s.budget)
                    for s, v in zip(segs, vel)]

        pos = [problem.magnitude()] + [[sample_members(len(s.pool), s.budget, gen) for s in segs]
                                       for _ in range(size - 1)]
        vel = [[2.0 * b - 1.0 for b in onehot(x)] for x in pos]  # leaning towards where each particle starts
        fit = [problem.loss(x) for x in pos]
        pbest, pfit = list(pos), list(fit)
        g = int(np.argmin(pfit))
        gbest, gfit = pbest[g], pfit[g]
        history: list[HistoryRow] = [{"generation": 0, "best_fitness": -gfit, "mean_fitness": -float(np.mean(fit))}]
        bar = Progress(progress, iters, "PSO", "gen")
        for it in range(1, iters + 1):
            gb = onehot(gbest)
            for i in range(size):
                x, pb = onehot(pos[i]), onehot(pbest[i])
                vel[i] = [(INERTIA * v + C1 * torch.rand(len(v), generator=gen) * (pbs - xs)
                           + C2 * torch.rand(len(v), generator=gen) * (gbs - xs)).clamp_(-VMAX, VMAX)
                          for v, xs, pbs, gbs in zip(vel[i], x, pb, gb)]
                pos[i] = position(vel[i])
                fit[i] = problem.loss(pos[i])
                if fit[i] < pfit[i]:
                    pbest[i], pfit[i] = pos[i], fit[i]
                if fit[i] < gfit:
                    gbest, gfit = pos[i], fit[i]
            history.append({"generation": it, "best_fitness": -gfit, "mean_fitness": -float(np.mean(fit))})
            bar.tick(gfit)
        bar.close()
        return Found(gbest, history)


register_search(SwarmSearch())
