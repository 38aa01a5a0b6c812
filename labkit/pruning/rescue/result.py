"""``RescueResult``: the masks a rescue search found, their two parts, and how it got there."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch
from torch import Tensor

from ...criteria.scores import Scores
from ..masks import Masks

__all__ = ["RescueResult", "Setting"]

#: A recorded setting: JSON-able scalars only.
Setting = float | int | str


@dataclass
class RescueResult:
    """What :func:`~labkit.pruning.rescue.rescue` found.

    Attributes:
        masks: weight masks, True = kept (large or rescued); ``masks.sparsity`` is the target.
        large, rescued: the two kept parts as weight masks (disjoint; their union is ``masks``).
        loss: calibration cross-entropy of ``masks``; ``magnitude_loss``: of plain magnitude.
        history: one row per generation (GA, PSO), per block of steps (SA) or per step (STE):
            ``generation``, ``best_fitness``, ``mean_fitness`` (fitness = ``-L_cal``; for SA and
            STE ``mean_fitness`` is the current solution's).
        threshold: per layer, the smallest |w| in the large set (the magnitude cut).
        method: the search's name; ``settings``: how it was run (also in ``masks.meta``).
    """

    masks: Masks
    large: Masks
    rescued: Masks
    loss: float
    magnitude_loss: float
    history: pd.DataFrame
    threshold: dict[str, float]
    method: str
    settings: dict[str, Setting] = field(default_factory=dict)
    _weights: list[Tensor] = field(default_factory=list, repr=False)

    def scores(self) -> Scores:
        """Weight scores that reproduce :attr:`masks` through the engine.

        Kept weights score in [2, 3], the others in [0, 1] (``|w| / max|w|`` keeps the magnitude
        order inside each part). So ``make_masks(sc, allocate(sc, s, mode="uniform"))`` (scope
        ``"layer"``) or ``allocate(sc, s, mode="global", normalize="none")`` (scope ``"global"``)
        gives back exactly these masks.
        """
        top = max(float(max(w.abs().max() for w in self._weights)), 1e-12)
        out = Scores(granularity="weight", meta={"criterion": "optimized", **self.settings})
        for n, w in zip(self.masks, self._weights):
            a = w.abs().cpu().float() / top
            out[n] = torch.where(self.masks[n], 2.0 + a, a)
        return out

    def rescued_per_layer(self) -> pd.DataFrame:
        """Columns ``layer, weights, kept, large, rescued``: where the search spent its budget."""
        rows = [{"layer": n, "weights": self.masks[n].numel(), "kept": int(self.masks[n].sum()),
                 "large": int(self.large[n].sum()), "rescued": int(self.rescued[n].sum())} for n in self.masks]
        return pd.DataFrame(rows, columns=["layer", "weights", "kept", "large", "rescued"])
