"""fit_summary: how well the Weibull fits describe every drawn point of the survival curves."""
from __future__ import annotations

import numpy as np
import pytest

from labkit.analysis.weibull import fit_summary
from labkit.criteria.influence.weibull import fit_weibull, weibull_sf


def test_exact_weibull_curves_score_one() -> None:
    t = np.arange(8.0)
    S = np.stack([weibull_sf(t, 0.8, 2.5), weibull_sf(t, 1.5, 4.0)])
    s = fit_summary(S, fit_weibull(S))
    assert s["channels"] == 2 and s["kinds"] == {"fit": 2} and s["points"] == 7
    np.testing.assert_allclose(s["r2_s"], [1.0, 1.0], atol=1e-9)
    assert s["share_r2_s_09"] == 1.0 and s["above_one"] == 0.0


def test_points_above_one_count_and_lower_the_fit() -> None:
    t = np.arange(6.0)
    amplified = weibull_sf(t, 1.0, 3.0)
    amplified[1] = 1.3  # the influence grows one depth later (a residual path adds it back)
    S = np.stack([weibull_sf(t, 1.0, 3.0), amplified])
    fits = fit_weibull(S)
    s = fit_summary(S, fits)
    assert s["above_one"] == pytest.approx(0.5)
    oracle = []
    for c in np.flatnonzero(fits.kind == "fit"):
        y, f = S[c, 1:], fits.sf(t)[c, 1:]
        oracle.append(1 - ((y - f) ** 2).sum() / ((y - y.mean()) ** 2).sum())
    np.testing.assert_allclose(s["r2_s"], oracle)
    assert s["median_r2_s"] == pytest.approx(float(np.median(oracle)))


def test_no_fitted_channel_gives_nan_summaries() -> None:
    S = np.zeros((2, 4))  # dead channels only
    s = fit_summary(S, fit_weibull(S))
    assert s["kinds"] == {"dead": 2} and len(s["r2_s"]) == 0
    assert np.isnan(s["median_r2_s"]) and np.isnan(s["share_r2_s_09"])
