"""How well Weibull fits describe the survival curves a plot shows (docs/methods.md §5.2).

The Weibull model and its fit are part of the domino criterion
(:mod:`labkit.criteria.influence.weibull`); this module judges the fits for the views and the
lab: :func:`fit_summary` scores the fitted curves on every drawn point, including the points a
Weibull plot cannot use (``S >= 1``, an influence amplified downstream).

Example:
    >>> from labkit.criteria.influence.weibull import fit_weibull, weibull_sf
    >>> S = weibull_sf(np.arange(6.0), 1.2, 2.0)[None]
    >>> summary = fit_summary(S, fit_weibull(S))
    >>> summary["kinds"], round(summary["median_r2_s"], 6), summary["above_one"]
    ({'fit': 1}, 1.0, 0.0)
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from torch import Tensor

from ..criteria.influence.weibull import WeibullFits

__all__ = ["fit_summary"]


def fit_summary(S: ArrayLike | Tensor, fits: WeibullFits) -> dict[str, Any]:
    """How well the fits describe the points a plot of ``S`` shows (every ``t >= 1``).

    :func:`fit_weibull` regresses only on points with ``S`` strictly between 0 and 1 (the Weibull
    plot needs ``ln(−ln S)``), so its ``r2`` ignores points at or above 1, which a survival curve
    can never reach: there the influence is *amplified* downstream (a residual path adds it back).
    This summary scores the fitted curves on all drawn points instead, in survival units:
    ``R²_S = 1 − Σ(S − S_fit)² / Σ(S − mean S)²`` per channel of kind ``fit``.

    Returns a dict: ``channels``, ``kinds`` (count per
    :data:`~labkit.criteria.influence.weibull.FIT_KINDS` entry present),
    ``r2_s`` (per fitted channel, on the drawn points), ``median_r2_s``, ``share_r2_s_09``
    (share of fitted channels with ``R²_S >= 0.9``), ``above_one`` (share of channels with a
    point ``S > 1``) and ``points`` (drawn points per channel).

    Example:
        >>> from labkit.criteria.influence.weibull import fit_weibull, weibull_sf
        >>> S = weibull_sf(np.arange(6.0), 1.2, 2.0)[None]
        >>> round(fit_summary(S, fit_weibull(S))["median_r2_s"], 6)
        1.0
    """
    S = np.asarray(S.detach().cpu().numpy() if isinstance(S, Tensor) else S, dtype=float)
    S = S[None] if S.ndim == 1 else S
    t = np.arange(S.shape[1], dtype=float)
    later = t >= 1
    fitted = np.flatnonzero(fits.kind == "fit")
    pred = fits.sf(t)
    r2s = []
    for c in fitted:
        y, f = S[c, later], pred[c, later]
        tot = float(((y - y.mean()) ** 2).sum())
        r2s.append(1.0 - float(((y - f) ** 2).sum()) / tot if tot > 0 else 1.0)
    r2s_arr = np.asarray(r2s, float)
    kinds, counts = np.unique(fits.kind.astype(str), return_counts=True)
    return {"channels": len(S), "kinds": dict(zip(kinds.tolist(), counts.tolist())), "r2_s": r2s_arr,
            "median_r2_s": float(np.median(r2s_arr)) if len(r2s_arr) else float("nan"),
            "share_r2_s_09": float((r2s_arr >= 0.9).mean()) if len(r2s_arr) else float("nan"),
            "above_one": float((np.nan_to_num(S[:, later], nan=0.0) > 1.0).any(1).mean()) if later.any() else 0.0,
            "points": int(later.sum())}
