"""``ga``: a genetic algorithm over rescue sets, seeded with the magnitude solution (docs/methods.md §3.1).

An individual is one gene tensor per segment (``B`` pool positions). Each generation keeps the
``elite`` best individuals by calibration loss and breeds the rest of the population from
them: *crossover* draws ``B`` members from the union of two elite parents, *mutation* swaps
``ceil(mutation · B)`` of them for non-members. Individual 0 of the first population is the
magnitude solution and elitism never drops the best, so the GA's best ``L_cal`` can never be
worse than magnitude pruning's.

Example:
    >>> GAOptions(generations=5)
    GAOptions(population=24, generations=5, elite=6, mutation=0.02, init='uniform')
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

from .problem import RescueProblem
from .search import Found, HistoryRow, Progress, SearchOptions, register_search, sample_members, swap_members

__all__ = ["GAOptions", "GeneticSearch", "INITS"]

INITS = ("uniform", "saliency")


@dataclass(frozen=True)
class GAOptions(SearchOptions):
    """Settings of the genetic algorithm.

    Attributes:
        population: individuals per generation.
        generations: generations after the first.
        elite: individuals kept unchanged each generation, in ``1 .. population − 1``.
        mutation: share of ``B`` swapped out in every child (at least one swap when ``B > 0``).
        init: the first individuals (besides the magnitude one): ``"uniform"`` draws from the
            pool, ``"saliency"`` draws proportional to Wanda's ``|w| ‖x‖`` (converges faster).
    """

    search: ClassVar[str] = "ga"
    population: int = 24
    generations: int = 60
    elite: int = 6
    mutation: float = 0.02
    init: str = "uniform"

    def __post_init__(self) -> None:
        if self.init not in INITS:
            raise ValueError(f"init must be 'uniform' or 'saliency', got {self.init!r}")
        if not 1 <= int(self.elite) < int(self.population):
            raise ValueError(f"elite must be in 1..population-1, got elite={self.elite}, population={self.population}")


def _crossover(a: Tensor, b: Tensor, budget: int, gen: torch.Generator) -> Tensor:
    """``budget`` members drawn from the union of two parents."""
    union = torch.unique(torch.cat([a, b]))
    return union[torch.randperm(len(union), generator=gen)[:budget]]


class GeneticSearch:
    """Genetic algorithm of docs/methods.md §3.1; individual 0 is the magnitude solution."""

    name = "ga"
    Options = GAOptions

    def search(self, problem: RescueProblem, options: GAOptions, gen: torch.Generator,
               progress: bool = False) -> Found:
        size, n_elite, gens = int(options.population), int(options.elite), int(options.generations)
        segs = problem.segments
        sal = problem.saliency("wanda") if options.init == "saliency" else None
        pop = [problem.magnitude()] + [[sample_members(len(s.pool), s.budget, gen, None if sal is None else sal[s.pool])
                                        for s in segs] for _ in range(size - 1)]
        fit = [problem.loss(ind) for ind in pop]
        history: list[HistoryRow] = [{"generation": 0, "best_fitness": -min(fit), "mean_fitness": -float(np.mean(fit))}]
        bar = Progress(progress, gens, "GA", "gen")
        for g in range(1, gens + 1):
            order = np.argsort(fit, kind="stable")[:n_elite]
            elite, elite_fit = [pop[i] for i in order], [fit[i] for i in order]
            children = []
            for _ in range(size - n_elite):
                i, j = torch.randperm(n_elite, generator=gen)[:2].tolist() if n_elite > 1 else (0, 0)
                children.append([swap_members(_crossover(a, b, s.budget, gen), len(s.pool),
                                              math.ceil(options.mutation * s.budget), gen)
                                 for a, b, s in zip(elite[i], elite[j], segs)])
            pop, fit = elite + children, elite_fit + [problem.loss(c) for c in children]
            history.append({"generation": g, "best_fitness": -min(fit), "mean_fitness": -float(np.mean(fit))})
            bar.tick(min(fit))
        bar.close()
        return Found(pop[int(np.argmin(fit))], history)


register_search(GeneticSearch())
