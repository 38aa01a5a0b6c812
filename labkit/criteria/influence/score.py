"""The domino score of a channel: its total downstream influence, smoothed by the Weibull fit.

    D_i = Δ_1(i) · Σ_{t=0}^{T−1} S_fit(t)       (``mode="sum"``, the default)
    D_i = Δ_1(i) · λ Γ(1 + 1/k)                  (``mode="closed"``: the area under S_fit)

``Δ_1`` is the effect one depth after the layer; ``S_fit`` the fitted survival
(:func:`~labkit.criteria.influence.weibull.fit_weibull`), ``T`` the number of depths down to
the logits. The fit smooths noisy curves and extrapolates a curve measured to a short horizon.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .weibull import WeibullFits, weibull_mean

__all__ = ["domino_scores", "SCORE_MODES"]

SCORE_MODES = ("sum", "closed")


def domino_scores(deltas: Tensor, fits: WeibullFits, mode: str = "sum", depths: int | None = None) -> Tensor:
    """``D_i = Δ_1(i) · Σ_{t=0}^{T−1} S_fit(t)`` (``mode="sum"``) or ``Δ_1 · λΓ(1 + 1/k)`` (``"closed"``).

    ``depths`` is ``T``, the number of layers down to the logits (default: the measured depths,
    ``fits.horizon``); with a shorter measured horizon the fit extrapolates. Dead channels
    (``Δ_1 = 0``) score 0.

    Example:
        >>> from labkit.criteria.influence import fit_weibull, survival
        >>> d = torch.tensor([[0.5, 0.25, 0.125]])
        >>> float(domino_scores(d, fit_weibull(survival(d))))   # 0.5 * (1 + 0.5 + 0.25)
        0.875
    """
    if mode not in SCORE_MODES:
        raise ValueError(f"mode must be 'sum' or 'closed', got {mode!r}")
    T = fits.horizon if depths is None else int(depths)
    d1 = np.asarray(torch.as_tensor(deltas)[:, 0].double().cpu().numpy())
    if mode == "sum":
        total = fits.sf(np.arange(T)).sum(axis=1)
    else:
        total = weibull_mean(fits.k, fits.lam)
    out = np.where(np.isfinite(total) & (d1 > 0), d1 * np.nan_to_num(total), 0.0)
    return torch.as_tensor(out, dtype=torch.float32)
