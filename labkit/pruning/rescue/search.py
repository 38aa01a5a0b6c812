"""The contract every rescue search meets, its typed options, and the strict registry of searches.

A search is an object with a ``name``, an ``Options`` dataclass and one method::

    search(problem, options, gen, progress) -> Found(genes, history)

It receives the :class:`~.problem.RescueProblem` (pools, budgets, ``problem.loss(genes)``), its
own typed options, a seeded ``torch.Generator`` that must be its only source of randomness (the
same seed gives the same masks), and whether to show a progress bar. It returns the chosen
genes, one index tensor per segment, and a history of ``generation, best_fitness,
mean_fitness`` rows (fitness = ``−L_cal``), possibly empty.

Searches register themselves with :func:`register_search` (a duplicate name raises);
:func:`search_options` builds the options of a search by name, refusing settings it does not
have. Writing your own::

    @dataclass(frozen=True)
    class TopOptions(SearchOptions):
        search: ClassVar[str] = "top_saliency"

    class TopSaliency:
        name, Options = "top_saliency", TopOptions
        def search(self, problem, options, gen, progress=False):
            sal = problem.saliency("wanda")
            return Found([top_members(sal[s.pool], s.budget) for s in problem.segments], [])

    register_search(TopSaliency())

Example:
    >>> "ga" in list_searches(), search_options("ga", generations=5)
    (True, GAOptions(population=24, generations=5, elite=6, mutation=0.02, init='uniform'))
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Protocol, TypedDict

import torch
from torch import Tensor

from ..._registry import Registry

if TYPE_CHECKING:
    from .problem import RescueProblem

__all__ = ["SearchOptions", "Search", "Found", "HistoryRow", "register_search", "get_search", "list_searches",
           "search_options", "sample_members", "top_members", "swap_members", "Progress"]


@dataclass(frozen=True)
class SearchOptions:
    """Base of every search's options; ``search`` names the search they belong to."""

    search: ClassVar[str] = ""


class HistoryRow(TypedDict):
    """One row of a search's history (fitness = ``−L_cal``, higher is better)."""

    generation: int
    best_fitness: float
    mean_fitness: float


class Found(NamedTuple):
    """What a search returns: one gene tensor per segment, and its history."""

    genes: list[Tensor]
    history: list[HistoryRow]


class Search(Protocol):
    """A rescue search (see the module docstring)."""

    name: str

    @property
    def Options(self) -> type[SearchOptions]:  # read-only, so a search may give a subclass
        """Its options class (a class attribute of the search, e.g. ``Options = GAOptions``)."""
        ...

    def search(self, problem: RescueProblem, options: Any, gen: torch.Generator,
               progress: bool = False) -> Found: ...


_SEARCHES: Registry[Search] = Registry("rescue search")


def register_search(search: Search) -> Search:
    """Record ``search`` under ``search.name``; a duplicate name raises ``ValueError``."""
    if search.Options.search != search.name:
        raise ValueError(f"search {search.name!r} has options for {search.Options.search!r}; "
                         f"set {search.Options.__name__}.search = {search.name!r}")
    _SEARCHES.add(search.name, search)
    return search


def get_search(name: str) -> Search:
    """The search registered as ``name`` (unknown -> ``KeyError`` listing close matches)."""
    return _SEARCHES.get(name)


def list_searches() -> list[str]:
    """Names of the registered searches, sorted."""
    return _SEARCHES.names()


def search_options(name: str, **settings: Any) -> SearchOptions:
    """The options of search ``name`` with ``settings`` (the others keep their defaults).

    Raises:
        KeyError: an unknown search. TypeError: a setting the search does not have (the
        message lists the ones it has).
    """
    cls = get_search(name).Options
    fields = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(settings) - set(fields))
    if unknown:
        raise TypeError(f"search {name!r} has no setting(s) {unknown}; its settings: {fields or 'none'}")
    return cls(**settings)


# --- moves shared by several searches ------------------------------------------------------------
def sample_members(n: int, k: int, gen: torch.Generator, weights: Tensor | None = None) -> Tensor:
    """``k`` distinct positions of ``0..n-1``: uniform, or drawn proportional to ``weights``."""
    if k <= 0:
        return torch.zeros(0, dtype=torch.long)
    if weights is None or float(weights.sum()) <= 0:
        return torch.randperm(n, generator=gen)[:k]
    return torch.multinomial(weights.double().clamp_min(1e-12), k, replacement=False, generator=gen)


def top_members(values: Tensor, k: int) -> Tensor:
    """Positions of the ``k`` largest ``values`` (ties: the lower position first)."""
    return torch.argsort(values, descending=True, stable=True)[:k]


def swap_members(chosen: Tensor, pool_size: int, swaps: int, gen: torch.Generator) -> Tensor:
    """``chosen`` with ``swaps`` random members replaced by random non-members (a mutation)."""
    if swaps <= 0 or len(chosen) == 0:
        return chosen
    free = torch.ones(pool_size, dtype=torch.bool)
    free[chosen] = False
    outside = torch.nonzero(free).reshape(-1)
    swaps = min(swaps, len(outside), len(chosen))
    chosen = chosen.clone()
    incoming = outside[torch.randperm(len(outside), generator=gen)[:swaps]]  # drawn first, as the GA always did
    chosen[torch.randperm(len(chosen), generator=gen)[:swaps]] = incoming
    return chosen


class Progress:
    """A tqdm bar over generations or steps showing the best loss so far (nothing when disabled)."""

    def __init__(self, enabled: bool, total: int, desc: str, unit: str) -> None:
        self._bar: Any = None
        if enabled:
            from tqdm.auto import tqdm  # lazy: `import labkit` needs no tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, leave=False)

    def tick(self, best_loss: float) -> None:
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix(best_loss=f"{best_loss:.4f}", refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
