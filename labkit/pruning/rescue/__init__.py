"""Method 3 (docs/methods.md §3.1): keep the large weights *plus* small weights chosen by a search.

Magnitude pruning at sparsity ``s`` keeps the ``K`` largest weights. The thesis (Chung Yang,
NTNU 2021) argues that small weights are not always unimportant: keep ``L = K - B`` large
weights and let an optimization strategy pick the remaining ``B = floor(rho * K)``. Only the
abstract is public, so everything below the idea is **[inferred]** and exposed as an option:

* **rescue budget** ``rho`` (default 0.2): the share of the kept weights chosen by search;
* **scope** ``"layer"`` (default: ``K_l``, ``L_l``, ``B_l`` per layer, so every layer keeps
  exactly what uniform magnitude pruning keeps) or ``"global"`` (one ranking over all layers);
* **candidate pool** ``"all"`` (every weight not in the large set) or ``"band"`` (only the next
  ``gamma * B`` weights by magnitude, ``gamma = 10``);
* **the search**, one file each, chosen by its typed options (a strict registry,
  :func:`list_searches`):

  - ``magnitude`` (:mod:`.magnitude`): the next-largest ``B``, i.e. plain magnitude pruning;
  - ``random`` (:mod:`.random`): ``B`` uniformly random pool members;
  - ``wanda`` / ``taylor`` (:mod:`.greedy`): greedy top-``B`` of a saliency, ``|w| ‖x_in‖₂``
    or ``|w ∂L/∂w|``;
  - ``ga`` (:mod:`.ga`, the default): a genetic algorithm seeded with the magnitude solution,
    so its best calibration loss can never be worse than magnitude's;
  - ``sa`` (:mod:`.sa`): simulated annealing from the magnitude solution;
  - ``pso`` (:mod:`.pso`): binary particle swarm with a fixed budget;
  - ``ste`` (:mod:`.ste`): a learned score mask with straight-through gradients.

The objective is the cross-entropy ``L_cal`` of the masked model on a calibration split (300-512
training items, disjoint from test): a smoother fitness than accuracy (:mod:`.problem`). Every
search meets one contract (:mod:`.search`); :func:`rescue` (:mod:`.run`) runs one and returns a
:class:`RescueResult`. The ``optimized`` criterion (:mod:`.criterion`) exposes the result as
scores; importing this package registers it.

Example:
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
    >>> x, y = torch.randn(64, 6), torch.randint(0, 3, (64,))
    >>> res = rescue(net, (x, y), 0.8, GAOptions(generations=5), seed=0)
    >>> res.loss <= res.magnitude_loss, res.rescued_per_layer()["rescued"].tolist()
    (True, [3, 10])
"""
from __future__ import annotations

import torch  # noqa: F401  (the doctest example uses it)
from torch import nn  # noqa: F401

# Importing the search modules registers them; the criterion module registers "optimized".
from . import criterion as criterion
from . import ga as ga
from . import greedy as greedy
from . import magnitude as magnitude
from . import pso as pso
from . import random as random
from . import sa as sa
from . import ste as ste
from .ga import GAOptions as GAOptions
from .greedy import TaylorOptions as TaylorOptions
from .greedy import WandaOptions as WandaOptions
from .magnitude import MagnitudeOptions as MagnitudeOptions
from .problem import RescueProblem as RescueProblem
from .pso import PSOOptions as PSOOptions
from .random import RandomOptions as RandomOptions
from .result import RescueResult as RescueResult
from .run import rescue as rescue
from .sa import SAOptions as SAOptions
from .saliency import wanda_saliency as wanda_saliency
from .search import Search as Search
from .search import SearchOptions as SearchOptions
from .search import get_search as get_search
from .search import list_searches as list_searches
from .search import register_search as register_search
from .search import search_options as search_options
from .ste import STEOptions as STEOptions

__all__ = [
    "rescue", "RescueResult", "RescueProblem", "Search", "SearchOptions", "register_search", "get_search",
    "list_searches", "search_options", "wanda_saliency",
    "MagnitudeOptions", "RandomOptions", "WandaOptions", "TaylorOptions", "GAOptions", "SAOptions",
    "PSOOptions", "STEOptions",
]
