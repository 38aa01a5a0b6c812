"""``random``: rescue ``B`` uniformly random pool members. Is it the choice, or just the count?

If a search beats magnitude pruning but random rescue does too, the gain comes from keeping
some small weights at all, not from choosing them well.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from .problem import RescueProblem
from .search import Found, SearchOptions, register_search, sample_members

__all__ = ["RandomOptions", "RandomSearch"]


@dataclass(frozen=True)
class RandomOptions(SearchOptions):
    """``random`` has no settings (the seed of :func:`~labkit.pruning.rescue.rescue` decides)."""

    search: ClassVar[str] = "random"


class RandomSearch:
    """``B`` members of every pool, uniformly at random."""

    name = "random"
    Options = RandomOptions

    def search(self, problem: RescueProblem, options: RandomOptions, gen: torch.Generator,
               progress: bool = False) -> Found:
        return Found([sample_members(len(s.pool), s.budget, gen) for s in problem.segments], [])


register_search(RandomSearch())
