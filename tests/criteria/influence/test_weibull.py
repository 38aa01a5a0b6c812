"""The Weibull fit recovers known parameters, keeps the §5.2 fallbacks and agrees with scipy."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from labkit.criteria.influence.weibull import fit_weibull, weibull_hazard, weibull_mean, weibull_sf


@pytest.mark.parametrize("k,lam", [(0.5, 2.0), (1.0, 4.0), (1.7, 3.0), (3.0, 6.5), (0.8, 40.0)])
def test_fit_recovers_k_and_lambda_on_synthetic_curves(k, lam):
    t = np.arange(19.0)
    f = fit_weibull(weibull_sf(t, k, lam))
    assert f.kind[0] == "fit"
    np.testing.assert_allclose([f.k[0], f.lam[0]], [k, lam], rtol=1e-6)
    assert f.r2[0] == pytest.approx(1.0)


def test_fit_works_row_by_row_and_with_noise():
    t = np.arange(12.0)
    rng = np.random.default_rng(0)
    S = np.stack([weibull_sf(t, k, lam) for k, lam in [(1.2, 3.0), (2.0, 5.0)]])
    noisy = S * np.exp(rng.normal(0, 0.01, S.shape))
    noisy[:, 0] = 1.0
    f = fit_weibull(noisy)
    np.testing.assert_allclose(f.k, [1.2, 2.0], rtol=0.05)
    np.testing.assert_allclose(f.lam, [3.0, 5.0], rtol=0.05)
    assert (f.r2 > 0.99).all()


def test_fit_agrees_with_scipy_maximum_likelihood_on_sampled_lifetimes():
    """Fit the empirical survival curve of 20,000 Weibull lifetimes; scipy fits the samples by MLE.

    Tolerance: 3% on k and on λ. The two estimators differ (least squares on the Weibull plot vs
    maximum likelihood) and both carry sampling error of about 1/sqrt(n) (< 1%).
    """
    for k, lam in [(1.5, 5.0), (0.9, 3.0), (2.5, 8.0)]:
        samples = stats.weibull_min.rvs(k, scale=lam, size=20_000, random_state=np.random.default_rng(1))
        t = np.linspace(0.0, 2.5 * lam, 26)
        S = (samples[None, :] > t[:, None]).mean(axis=1)
        ours = fit_weibull(S, t)
        c, loc, scale = stats.weibull_min.fit(samples, floc=0)
        assert loc == 0
        np.testing.assert_allclose(ours.k[0], c, rtol=0.03)
        np.testing.assert_allclose(ours.lam[0], scale, rtol=0.03)


def test_fallbacks_of_methods_5_2():
    S = np.array([
        [1.0, 1.2, 1.3, 1.1],        # amplified: never decays -> lambda_max = 10 T
        [1.0, 0.9, 0.99995, 1.0],    # one usable point (t = 1) -> k = 1 through it
        [1.0, 0.0, 0.0, 0.0],        # gone at once -> S_fit(1) = eps
        [1.0, 0.5, 0.6, 0.7],        # rises after a drop: slope <= 0 -> no decay
        [1.0, 0.99, 0.985, 0.984],   # fitted lambda ~ 1e8 > lambda_max: too slow to tell from none
        [0.0, 0.0, 0.0, 0.0],        # dead channel
    ])
    f = fit_weibull(S)
    assert list(f.kind) == ["no_decay", "one_point", "vanished", "no_decay", "no_decay", "dead"]
    assert f.k[0] == 1.0 and f.lam[0] == 40.0 and f.lam[3] == 40.0 and f.lam[4] == 40.0
    assert f.lam[1] == pytest.approx(1.0 / -np.log(0.9)) and f.k[1] == 1.0
    assert weibull_sf(1.0, f.k[2], f.lam[2]) == pytest.approx(1e-4)
    assert np.isnan(f.k[5]) and np.isnan(f.r2).all()  # no regression with >= 3 points here
    short = fit_weibull(np.array([[1.0]]))
    assert short.kind[0] == "short" and short.lam[0] == 10.0


def test_weibull_helpers_match_scipy():
    t = np.array([0.5, 1.0, 3.0])
    np.testing.assert_allclose(weibull_sf(t, 1.4, 2.0), stats.weibull_min.sf(t, 1.4, scale=2.0))
    np.testing.assert_allclose(weibull_hazard(t, 1.4, 2.0),
                               stats.weibull_min.pdf(t, 1.4, scale=2.0) / stats.weibull_min.sf(t, 1.4, scale=2.0))
    assert weibull_mean(1.4, 2.0) == pytest.approx(stats.weibull_min.mean(1.4, scale=2.0))
