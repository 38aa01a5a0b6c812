"""The domino influence engine (docs/methods.md §5.2): ablation curves, their Weibull fit, the score.

What the ``domino`` and ``dominos`` criteria (:mod:`labkit.criteria.dominos`) compute, one
step per module:

- :mod:`.curves`: :func:`influence_curves`, ``Δ_d(i)`` for every channel ``i`` of each layer
  and every depth ``d`` after it, and :func:`survival`, ``S(t) = Δ_{t+1} / Δ_1``;
- :mod:`.reference`: the clean forward pass the ablations are compared with;
- :mod:`.exact` and :mod:`.jvp`: the two ablation engines (zero and re-run, or first order);
- :mod:`.weibull`: the Weibull survival model ``S(t) = exp(−(t/λ)^k)`` and its fit;
- :mod:`.score`: :func:`domino_scores`, ``D_i = Δ_1(i) Σ_t S_fit(t)``.

Tables of the curves for views are analysis (:func:`labkit.analysis.influence.influence_table`).

Example:
    >>> import torch
    >>> from labkit.models import load_model
    >>> net = load_model("resnet20", num_classes=10, in_channels=1)
    >>> curves = influence_curves(net, torch.rand(16, 1, 16, 16), layers=["layer3.1.conv1.weight"])
    >>> fits = fit_weibull(curves.survival("layer3.1.conv1.weight"))
    >>> domino_scores(curves.deltas["layer3.1.conv1.weight"], fits).shape
    torch.Size([64])
"""
from __future__ import annotations

from .curves import FIT_DEPTHS as FIT_DEPTHS
from .curves import METHODS as METHODS
from .curves import InfluenceCurves as InfluenceCurves
from .curves import influence_curves as influence_curves
from .curves import survival as survival
from .score import domino_scores as domino_scores
from .weibull import FIT_KINDS as FIT_KINDS
from .weibull import WeibullFits as WeibullFits
from .weibull import fit_weibull as fit_weibull
from .weibull import weibull_hazard as weibull_hazard
from .weibull import weibull_mean as weibull_mean
from .weibull import weibull_sf as weibull_sf

__all__ = [
    "FIT_DEPTHS", "METHODS", "InfluenceCurves", "influence_curves", "survival", "domino_scores",
    "FIT_KINDS", "WeibullFits", "fit_weibull", "weibull_hazard", "weibull_mean", "weibull_sf",
]
