"""Influence curves as a table for the views: one row per channel with its fit and its score.

The influence engine itself (ablation curves, the Weibull fit, the domino score) is part of the
domino criterion, :mod:`labkit.criteria.influence`; this module lays its results out for the
views (:func:`labkit.views.dominos.weibull_scatter`) and the lab.

Example:
    >>> from labkit.criteria.influence import influence_curves
    >>> from labkit.models import load_model
    >>> net = load_model("resnet20", num_classes=10, in_channels=1)
    >>> curves = influence_curves(net, torch.rand(8, 1, 16, 16), layers=["layer3.2.conv1.weight"])
    >>> influence_table(curves).columns.tolist()[:5]
    ['layer', 'channel', 'depths', 'delta1', 'k']
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch  # noqa: F401  (the doctest example uses it)

from ..criteria.influence import InfluenceCurves, WeibullFits, domino_scores, fit_weibull, survival

__all__ = ["influence_table"]


def influence_table(curves: InfluenceCurves, fits: dict[str, WeibullFits] | None = None,
                    mode: str = "sum") -> pd.DataFrame:
    """One row per channel: ``layer, channel, depths, delta1, k, lam, r2, n_points, kind, D``.

    ``fits`` defaults to :func:`fit_weibull` of each layer's survival curves.
    """
    rows = []
    for layer, d in curves.deltas.items():
        f = fits[layer] if fits is not None else fit_weibull(survival(d))
        D = domino_scores(d, f, mode, depths=curves.depths[layer])
        rows.append(pd.DataFrame({
            "layer": layer, "channel": np.arange(len(d)), "depths": d.shape[1], "delta1": d[:, 0].numpy(),
            "k": f.k, "lam": f.lam, "r2": f.r2, "n_points": f.n_points, "kind": f.kind.astype(str),
            "D": D.numpy()}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["layer", "channel", "depths", "delta1", "k", "lam", "r2", "n_points", "kind", "D"])
