"""``magnitude``: rescue the next-largest ``B`` weights, i.e. plain magnitude pruning (the baseline).

Every other search is compared with it; it needs no calibration loss and no randomness.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from .problem import RescueProblem
from .search import Found, SearchOptions, register_search

__all__ = ["MagnitudeOptions", "MagnitudeSearch"]


@dataclass(frozen=True)
class MagnitudeOptions(SearchOptions):
    """``magnitude`` has no settings."""

    search: ClassVar[str] = "magnitude"


class MagnitudeSearch:
    """Keep the ``K`` largest ``|w|``: the first ``B`` members of every pool."""

    name = "magnitude"
    Options = MagnitudeOptions

    def search(self, problem: RescueProblem, options: MagnitudeOptions, gen: torch.Generator,
               progress: bool = False) -> Found:
        return Found(problem.magnitude(), [])


register_search(MagnitudeSearch())
