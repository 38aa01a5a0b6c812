"""The Weibull survival model of a decaying influence, and its fit (docs/methods.md §5.2).

DOMINOS models how a channel's influence dies out with depth as a Weibull survival curve

    S(t) = exp(−(t/λ)^k),    t = 0, 1, 2, ...   (S(0) = 1)

with *shape* ``k`` (k < 1: a fast early drop then a long tail; k = 1: a constant hazard,
exponential decay; k > 1: the influence holds, then collapses) and *scale* ``λ`` (the depth by
which a share 1 − 1/e of it is gone). Taking logs twice makes it a straight line, the *Weibull
plot*: ``ln(−ln S) = k ln t − k ln λ``, so a least-squares line through the measured points
gives ``k`` (slope) and ``λ`` (from the intercept). :func:`fit_weibull` does this per curve,
with the fallbacks of §5.2 for curves that do not decay, vanish at once or have too few points.

The same ``k, λ`` parametrise scipy's ``weibull_min(c=k, scale=λ)``: ``weibull_sf`` equals its
``sf``, and the tests check our fit against ``scipy.stats.weibull_min.fit`` on sampled lifetimes.
It is pure math (NumPy), kept next to the domino criterion that needs it; how well the fits
describe a plotted curve is analysis (:func:`labkit.analysis.weibull.fit_summary`).

Example:
    >>> import numpy as np
    >>> S = weibull_sf(np.arange(6.0), k=0.8, lam=2.5)
    >>> f = fit_weibull(S)
    >>> round(float(f.k[0]), 3), round(float(f.lam[0]), 3), f.kind[0]
    (0.8, 2.5, 'fit')
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from torch import Tensor

__all__ = ["FIT_KINDS", "WeibullFits", "fit_weibull", "weibull_sf", "weibull_hazard", "weibull_mean"]

FIT_KINDS = ("fit", "one_point", "no_decay", "vanished", "short", "dead")
"""How a channel's Weibull parameters were obtained (see :func:`fit_weibull`)."""


def weibull_sf(t: ArrayLike, k: ArrayLike, lam: ArrayLike) -> np.ndarray:
    """Survival ``S(t) = exp(−(t/λ)^k)`` (= ``scipy.stats.weibull_min.sf(t, c=k, scale=λ)``).

    Example:
        >>> float(weibull_sf(2.0, 1.0, 2.0))  # exp(-1)
        0.36787944117144233
    """
    t, k, lam = np.asarray(t, float), np.asarray(k, float), np.asarray(lam, float)
    return np.exp(-np.power(np.clip(t, 0, None) / lam, k))


def weibull_hazard(t: ArrayLike, k: ArrayLike, lam: ArrayLike) -> np.ndarray:
    """Hazard ``h(t) = (k/λ)(t/λ)^{k−1}``: the rate at which the influence dies at depth ``t``."""
    t, k, lam = np.asarray(t, float), np.asarray(k, float), np.asarray(lam, float)
    return (k / lam) * np.power(t / lam, k - 1)


def weibull_mean(k: ArrayLike, lam: ArrayLike) -> np.ndarray:
    """Mean lifetime ``λ Γ(1 + 1/k)`` (the area under ``S``)."""
    from scipy.special import gamma

    return np.asarray(lam, float) * gamma(1.0 + 1.0 / np.asarray(k, float))


@dataclass
class WeibullFits:
    """One Weibull fit per curve: arrays of shape ``(C,)``.

    ``kind`` says how each was obtained (:data:`FIT_KINDS`): ``fit`` (regression on >= 2 points),
    ``one_point`` (``k = 1``), ``no_decay`` (``λ = λ_max``), ``vanished`` (gone at ``t = 1``),
    ``short`` (no ``t >= 1`` point: a layer next to the logits), ``dead`` (``Δ_1 = 0``).
    ``r2`` is the regression's R² on the Weibull plot, NaN unless ``n_points >= 3`` (a line
    through two points always fits).
    """

    k: np.ndarray
    lam: np.ndarray
    r2: np.ndarray
    n_points: np.ndarray
    kind: np.ndarray
    horizon: int

    def __len__(self) -> int:
        return len(self.k)

    def sf(self, t: ArrayLike) -> np.ndarray:
        """``S_fit(t)`` for every curve: shape ``(C, len(t))``."""
        t = np.atleast_1d(np.asarray(t, float))
        return weibull_sf(t[None, :], self.k[:, None], self.lam[:, None])


def fit_weibull(S: ArrayLike | Tensor, t: ArrayLike | None = None, *, eps: float = 1e-4,
                lam_max: float | None = None) -> WeibullFits:
    """Fit ``S(t) = exp(−(t/λ)^k)`` to each row of ``S`` by Weibull-plot regression (docs/methods.md §5.2).

    On the points with ``t >= 1`` and ``S ∈ (eps, 1 − eps)``, regress ``y = ln(−ln S)`` on
    ``x = ln t``: ``k`` = slope, ``λ = exp(−intercept / k)``. Fallbacks:

    - no usable point and ``S`` never drops below ``1 − eps``, a slope ``<= 0`` (the
      influence does not decay: amplification through residual paths), or a fitted
      ``λ > λ_max`` (a decay too slow to tell from none): ``k = 1``, ``λ = λ_max``
      (default ``10 · T``, ``T`` = number of depths);
    - exactly one usable point: ``k = 1`` and ``λ = t / (−ln S(t))`` through it;
    - no usable point because ``S`` falls to ``<= eps`` at once: ``k = 1`` and ``λ`` such that
      ``S_fit(1) = eps``;
    - no ``t >= 1`` at all: ``k = 1, λ = λ_max`` (no evidence either way); ``Δ_1 = 0``
      (an all-zero row): ``dead``, ``k = λ = NaN``.

    Args:
        S: ``(C, T)`` or ``(T,)`` survival values (from :func:`~labkit.criteria.influence.survival`).
        t: the times of the columns; default ``0, 1, ..., T − 1``.

    Example:
        >>> t = np.arange(8.0)
        >>> f = fit_weibull(weibull_sf(t, 1.7, 3.0))
        >>> round(float(f.k[0]), 6), round(float(f.lam[0]), 6)
        (1.7, 3.0)
    """
    S = np.asarray(S.detach().cpu().numpy() if isinstance(S, Tensor) else S, dtype=float)
    if S.ndim == 1:
        S = S[None]
    if S.ndim != 2:
        raise ValueError(f"S must be (channels, depths) or (depths,), got shape {S.shape}")
    T = S.shape[1]
    t = np.arange(T, dtype=float) if t is None else np.asarray(t, float)
    if t.shape != (T,):
        raise ValueError(f"t has shape {t.shape} but S has {T} columns")
    lam_max = float(lam_max) if lam_max is not None else 10.0 * max(T, 1)
    C = len(S)
    k, lam = np.ones(C), np.full(C, lam_max)
    r2, npts = np.full(C, np.nan), np.zeros(C, dtype=int)
    kind = np.empty(C, dtype=object)
    later = t >= 1
    for c in range(C):
        s = S[c]
        if not np.isfinite(s).all() or (np.all(s == 0)):
            k[c], lam[c], kind[c] = np.nan, np.nan, "dead"
            continue
        use = later & (s > eps) & (s < 1 - eps)
        npts[c] = int(use.sum())
        if not later.any():
            kind[c] = "short"
        elif npts[c] == 0:
            tail = s[later]
            if tail[-1] <= eps:
                lam[c], kind[c] = float(t[later][0]) / math.log(1 / eps), "vanished"
            else:
                kind[c] = "no_decay"
        elif npts[c] == 1:
            tt, ss = float(t[use][0]), float(s[use][0])
            lam[c], kind[c] = tt / -math.log(ss), "one_point"
        else:
            x, y = np.log(t[use]), np.log(-np.log(s[use]))
            slope, icpt = np.polyfit(x, y, 1)
            if slope <= 0 or -icpt / slope > math.log(lam_max):
                kind[c] = "no_decay"  # rising, or decaying too slowly to tell from no decay
                continue
            k[c], lam[c], kind[c] = slope, math.exp(-icpt / slope), "fit"
            if npts[c] >= 3:
                resid = y - (slope * x + icpt)
                tot = float(((y - y.mean()) ** 2).sum())
                r2[c] = 1.0 - float((resid ** 2).sum()) / tot if tot > 0 else 1.0
    return WeibullFits(k, lam, r2, npts, kind, T)
