"""Importance criteria: ``score(model, name, data=..., granularity=...)`` -> :class:`Scores`.

Higher = more important, always. One family per file:

- :mod:`.magnitude`: ``magnitude`` (L1), ``magnitude_l2``, ``min_weight``, ``avg_weight``.
- :mod:`.random`: ``random`` (seeded baseline).
- :mod:`.activation`: ``mean_activation``, ``apoz`` (need data).
- :mod:`.taylor`: ``taylor`` (needs labelled data).
- :mod:`.attribution`: ``conductance``, ``grad_x_activation``, ``internal_influence`` (captum).
- :mod:`.dominos`: ``representativeness``, ``domino``, ``dominos`` (docs/methods.md §5), with the
  influence engine in :mod:`.influence`.
- ``optimized`` (search-based weight retention, docs/methods.md §3) produces masks, so it lives
  after allocation: :mod:`labkit.pruning.rescue` registers it when ``labkit.pruning`` is imported.

Example:
    >>> import labkit.criteria as lc
    >>> "magnitude" in lc.list_criteria()
    True
"""
from __future__ import annotations

# Importing the family modules registers their criteria.
from . import activation as activation
from . import attribution as attribution
from . import dominos as dominos
from . import magnitude as magnitude
from . import random as random
from . import taylor as taylor
from ._core import Criterion as Criterion
from ._core import check_layers as check_layers
from ._core import get_criterion as get_criterion
from ._core import list_criteria as list_criteria
from ._core import register_criterion as register_criterion
from ._core import score as score
from .scores import Scores as Scores

__all__ = [
    "Criterion", "Scores", "check_layers", "get_criterion", "list_criteria", "register_criterion", "score",
]
