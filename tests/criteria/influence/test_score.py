"""The domino score: Δ_1 times the fitted survival summed over the depths (or its closed form)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from labkit.criteria.influence import domino_scores, fit_weibull, survival
from labkit.criteria.influence.weibull import weibull_mean, weibull_sf


def test_domino_score_sum_and_closed_form():
    d = torch.tensor([[0.5, 0.25, 0.125], [0.2, 0.2, 0.2]])
    f = fit_weibull(survival(d))
    D = domino_scores(d, f)
    assert float(D[0]) == pytest.approx(0.5 * 1.75)
    assert float(D[1]) == pytest.approx(0.2 * np.exp(-np.arange(3) / 30).sum())
    longer = domino_scores(d, f, depths=5)  # extrapolated by the fit beyond the measured depths
    assert float(longer[0]) == pytest.approx(0.5 * weibull_sf(np.arange(5), f.k[0], f.lam[0]).sum())
    closed = domino_scores(d, f, "closed")
    assert float(closed[0]) == pytest.approx(0.5 * weibull_mean(f.k[0], f.lam[0]), rel=1e-5)
    with pytest.raises(ValueError, match="mode"):
        domino_scores(d, f, "mean")


def test_dead_channels_score_zero() -> None:
    d = torch.tensor([[0.0, 0.0, 0.0], [0.4, 0.2, 0.1]])
    f = fit_weibull(survival(d))
    assert f.kind[0] == "dead"
    D = domino_scores(d, f)
    assert float(D[0]) == 0.0 and float(D[1]) > 0.0
