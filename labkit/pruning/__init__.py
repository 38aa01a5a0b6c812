"""From scores to pruned models: allocation, masks, merging, the ranking cache, apply, compact.

Data flow (docs/design.md §1): ``scores -> allocate -> make_masks -> (merge_masks) -> apply_masks``
and, for filter masks, ``compact`` (a physically smaller model through Torch-Pruning).
Method 3's rescue searches (:mod:`.rescue`) produce masks too; importing this package
registers their ``optimized`` criterion.

Example:
    >>> import torchvision, labkit.criteria as lc, labkit.pruning as lp
    >>> net = torchvision.models.resnet18(num_classes=10)
    >>> masks = lp.Ranking(lc.score(net, "magnitude")).masks(0.5, mode="global")
    >>> round(masks.sparsity, 3)
    0.5
"""
from __future__ import annotations

# Registers the "optimized" criterion (its searches produce masks, so it lives after allocation).
from . import rescue as rescue  # noqa: E402
from .allocate import Allocation as Allocation
from .allocate import AllocationWarning as AllocationWarning
from .allocate import allocate as allocate
from .apply import apply_masks as apply_masks
from .apply import expand_masks as expand_masks
from .compact import compact as compact
from .coupling import register_opaque as register_opaque
from .groups import couple_scores as couple_scores
from .groups import coupled_groups as coupled_groups
from .masks import Masks as Masks
from .masks import make_masks as make_masks
from .masks import overlap as overlap
from .merge import MergeResult as MergeResult
from .merge import get_merge_mode as get_merge_mode
from .merge import list_merge_modes as list_merge_modes
from .merge import merge_candidates as merge_candidates
from .merge import merge_masks as merge_masks
from .merge import overlap_matrix as overlap_matrix
from .merge import register_merge_mode as register_merge_mode
from .ranking import Ranking as Ranking

__all__ = [
    "Allocation", "AllocationWarning", "allocate", "apply_masks", "expand_masks", "compact", "register_opaque",
    "couple_scores", "coupled_groups", "Masks", "make_masks", "overlap", "get_merge_mode",
    "list_merge_modes", "merge_masks", "register_merge_mode", "Ranking",
    "MergeResult", "merge_candidates", "overlap_matrix",
]
