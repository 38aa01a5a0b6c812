"""The ``optimized`` criterion: :func:`~.run.rescue`'s masks as weight scores.

Registered in the criteria registry like any other criterion, so ``score(model, "optimized",
data=cal, sparsity=0.9, method="ga", generations=20)`` and the lab's criterion menus work. It
lives here, after allocation, because it *produces masks*: the scores only encode them, and
allocating the same sparsity gives them back (``mode="uniform"`` for scope ``"layer"``,
``mode="global", normalize="none"`` for scope ``"global"``). Importing :mod:`labkit.pruning`
registers it.
"""
from __future__ import annotations

from torch import Tensor, nn

from ...criteria import register_criterion
from ...data.batches import Batches
from .run import rescue
from .search import search_options

__all__ = ["optimized"]


@register_criterion("optimized", needs_data=True, needs_labels=True, granularities=("weight",),
                    summary="large weights + small ones chosen by a GA / SA / learned mask "
                            "(docs/methods.md §3.1) [inferred]")
def optimized(model: nn.Module, layers: list[str], *, data: Batches, granularity: str = "weight",
              sparsity: float = 0.9, method: str = "ga", rho: float = 0.2, scope: str = "layer", pool: str = "all",
              gamma: float = 10.0, seed: int = 0, progress: bool = False,
              **settings: float | int | str) -> dict[str, Tensor]:
    """Scores encoding :func:`~.run.rescue`'s masks at ``sparsity``.

    ``method`` names the search and ``settings`` are its options (``generations=20``,
    ``population=8`` for ``"ga"``; ``steps=600`` for ``"sa"`` ...; see
    :func:`~.search.search_options`, which refuses a setting the search does not have).
    """
    options = search_options(method, **settings)
    return rescue(model, data, sparsity, options, rho=rho, scope=scope, pool=pool, gamma=gamma, layers=layers,
                  seed=seed, progress=progress).scores()
