"""``rescue``: keep the large weights plus small ones a search picks, as masks.

The entry point of method 3 (docs/methods.md §3.1): build the :class:`~.problem.RescueProblem`
from the model, the calibration data and the budget, run the search named by the options, and
return a :class:`~.result.RescueResult` whose ``masks`` keep exactly as many weights per layer
(scope ``"layer"``) or in total (scope ``"global"``) as magnitude pruning at that sparsity.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import pandas as pd
import torch
from torch import Tensor, nn

from ...criteria import check_layers
from ...data.batches import Batches, DataLike
from ...models._base import prunable_parameters
from ..allocate import check_sparsity
from ..masks import Masks
from .ga import GAOptions
from .problem import POOLS, SCOPES, RescueProblem
from .result import RescueResult, Setting
from .search import SearchOptions, get_search, search_options

__all__ = ["rescue"]


def _labelled(data: DataLike) -> tuple[Tensor, Tensor]:
    """All of ``data`` as one ``(x, y)`` pair; the search minimises a cross-entropy, so labels are needed."""
    b = data if isinstance(data, Batches) else Batches(data)
    xs, ys = zip(*list(b))
    if any(y is None for y in ys):
        raise ValueError("the rescue search minimises a cross-entropy: pass labelled calibration data, "
                         "a Split or an (x, y) pair")
    return torch.cat(xs), torch.cat(ys)


def rescue(model: nn.Module, data: DataLike, sparsity: float, options: SearchOptions | str = GAOptions(), *,
           rho: float = 0.2, scope: str = "layer", pool: str = "all", gamma: float = 10.0,
           layers: Sequence[str] | None = None, exclude_first: bool = True, exclude_last: bool = True,
           seed: int = 0, progress: bool = False) -> RescueResult:
    """Keep the ``L`` largest weights plus ``B = floor(rho K)`` small ones chosen by a search.

    Args:
        model: the dense trained model (not modified; it runs in eval mode).
        data: labelled calibration items (a Split, an ``(x, y)`` pair or batches), disjoint
            from the test set; 300-512 items (docs/methods.md §3.1). Held on the model's device.
        sparsity: fraction of the prunable weights removed, in [0, 1).
        options: the search and its settings: :class:`~.ga.GAOptions` (default),
            :class:`~.sa.SAOptions`, :class:`~.pso.PSOOptions`, :class:`~.ste.STEOptions`, ...,
            or a search name from :func:`~.search.list_searches` for its default settings.
        rho: rescue budget, the share of the ``K`` kept weights chosen by search, in [0, 1).
        scope: ``"layer"`` (K, L, B per layer) or ``"global"`` (one ranking over all layers).
        pool: ``"all"`` or ``"band"`` (only the next ``gamma * B`` weights by magnitude).
        layers: parameter names; default the prunable layers (first conv, last linear excluded).
        seed: seeds every random choice; the same seed gives the same masks.
        progress: a tqdm bar per generation / step.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
        >>> x, y = torch.randn(64, 6), torch.randint(0, 3, (64,))
        >>> res = rescue(net, (x, y), 0.8, GAOptions(generations=5), seed=0)
        >>> res.loss <= res.magnitude_loss, res.rescued_per_layer()["rescued"].tolist()
        (True, [3, 10])
    """
    s = check_sparsity(sparsity)
    if not (0.0 <= float(rho) < 1.0):
        raise ValueError(f"rho is the share of kept weights chosen by search, a fraction in [0, 1) "
                         f"(docs/methods.md §3.1 uses 0..0.5, default 0.2); got {rho!r}")
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
    opts = search_options(options) if isinstance(options, str) else options
    search = get_search(opts.search)
    if not isinstance(opts, search.Options):
        raise TypeError(f"options must be a SearchOptions of a registered search, got {type(opts).__name__}")
    names = check_layers(model, list(layers) if layers is not None
                         else prunable_parameters(model, exclude_first, exclude_last))
    if not names:
        raise ValueError("no layers to prune; pass layers=[...] or exclude_first/exclude_last=False")
    dev = next(model.parameters()).device
    x, y = _labelled(data)
    x, y = x.to(dev), y.to(dev)
    was = model.training
    model.eval()
    try:
        p = RescueProblem(model, names, x, y, s, rho=float(rho), scope=scope, pool=pool, gamma=float(gamma))
        genes, history = search.search(p, opts, torch.Generator().manual_seed(int(seed)), progress)
        mag_loss = p.loss(p.magnitude())
        flat = p.flat_mask(genes)
        loss = p.loss(genes)
    finally:
        model.train(was)
    if not history:
        history = [{"generation": 0, "best_fitness": -loss, "mean_fitness": -loss}]
    settings: dict[str, Setting] = {"sparsity": s, "rho": float(rho), "method": search.name, "scope": scope,
                                    "pool": pool, "gamma": float(gamma), "seed": int(seed),
                                    "calibration_items": len(y), **dataclasses.asdict(opts)}

    def per_layer(t: Tensor) -> dict[str, Tensor]:
        return dict(zip(names, [part.view_as(w) for part, w in zip(t.split(p.sizes), p.weights)]))

    threshold = {n: float(w.abs().reshape(-1)[lg].min()) if bool(lg.any()) else math.inf
                 for n, w, lg in zip(names, p.weights, p.large.split(p.sizes))}
    return RescueResult(masks=Masks(per_layer(flat), "weight", {"criterion": "optimized", **settings}),
                        large=Masks(per_layer(p.large), "weight"), rescued=Masks(per_layer(flat & ~p.large), "weight"),
                        loss=loss, magnitude_loss=mag_loss, history=pd.DataFrame(history), threshold=threshold,
                        method=search.name, settings=settings, _weights=p.weights)
