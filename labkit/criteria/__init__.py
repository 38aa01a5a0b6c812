"""Importance criteria: ``score(model, name, data=..., granularity=...)`` -> :class:`Scores`.

Higher = more important, always. One family per file:

- :mod:`.magnitude`: ``magnitude`` (L1), ``magnitude_l2``, ``min_weight``, ``avg_weight``.
- :mod:`.random`: ``random`` (seeded baseline).
- :mod:`.activation`: ``mean_activation``, ``apoz`` (need data).
- :mod:`.taylor`: ``taylor`` (needs labelled data).
- :mod:`.attribution`: ``conductance``, ``grad_x_activation``, ``internal_influence`` (captum).
- :mod:`.dominos`: ``representativeness``, ``domino``, ``dominos`` (docs/methods.md §5).
- :mod:`.optimized`: ``optimized`` (search-based weight retention, docs/methods.md §3).

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
from . import optimized as optimized
from . import random as random
from . import taylor as taylor
from ._core import Criterion as Criterion
from ._core import get_criterion as get_criterion
from ._core import list_criteria as list_criteria
from ._core import register_criterion as register_criterion
from ._core import score as score
from .scores import Scores as Scores
from ..models.topology import measure_module as measure_module
from ..models.topology import paired_norm as paired_norm

__all__ = [
    "Criterion", "Scores", "get_criterion", "list_criteria", "register_criterion", "score",
]
