"""``wanda`` and ``taylor``: greedy top-``B`` of a saliency, one pass, no search.

- ``wanda``: ``|w_ij| · ‖x_j‖₂`` (Sun et al. 2023, arXiv 2306.11695): a small weight on a
  loud input can matter more than a larger one on a quiet input;
- ``taylor``: ``|w · ∂L/∂w|``, the first-order change of the calibration loss when the weight
  is removed (Molchanov et al. 2017).

Both saliencies are computed once on the calibration batch (:meth:`RescueProblem.saliency`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from .problem import RescueProblem
from .search import Found, SearchOptions, register_search, top_members

__all__ = ["WandaOptions", "TaylorOptions", "GreedySearch"]


@dataclass(frozen=True)
class WandaOptions(SearchOptions):
    """``wanda`` has no settings."""

    search: ClassVar[str] = "wanda"


@dataclass(frozen=True)
class TaylorOptions(SearchOptions):
    """``taylor`` has no settings."""

    search: ClassVar[str] = "taylor"


class GreedySearch:
    """The ``B`` pool members of highest saliency ``kind`` (``"wanda"`` or ``"taylor"``)."""

    def __init__(self, kind: str, options: type[SearchOptions]) -> None:
        self.name, self.Options = kind, options

    def search(self, problem: RescueProblem, options: SearchOptions, gen: torch.Generator,
               progress: bool = False) -> Found:
        sal = problem.saliency(self.name)
        return Found([top_members(sal[s.pool], s.budget) for s in problem.segments], [])


register_search(GreedySearch("wanda", WandaOptions))
register_search(GreedySearch("taylor", TaylorOptions))
