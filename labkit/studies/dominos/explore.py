"""What the DOMINOS notebook computes from one seed's stored artifacts, without training again.

:func:`rescore` re-derives D̂ and I with another α or Weibull horizon from the stored curves;
:func:`importance_frame` lays a plan's scores out per channel; :func:`stage_summary` averages
the study table into the before → pruned → fine-tuned → + SE stages.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from ...criteria.dominos import combine_importance, normalize_by_max
from ...criteria.influence import domino_scores, fit_weibull, survival
from ...pruning.blocks import BlockPlan
from .pipeline import SeedArtifacts

__all__ = ["rescore", "importance_frame", "stage_summary"]


def rescore(art: SeedArtifacts, alpha: float = 0.5,
            horizon: int | None = None) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
    """Re-derive D̂ and I from a seed's stored curves with another ``alpha`` or a shorter fit ``horizon``.

    No forward pass: the curves already hold every depth, so a horizon ``h`` fits the Weibull
    model on the first ``h`` depths and extrapolates it down to the logits (§5.2). This is what
    the lab's α and horizon controls call. Returns ``(scores, fits)`` like :func:`scores_for_seed`.
    """
    if horizon is not None and horizon < 1:
        raise ValueError(f"horizon must be >= 1 depth (or None for all), got {horizon}")
    fits, D = {}, {}
    for n, d in art.curves.deltas.items():
        d = d if horizon is None else d[:, :horizon]
        fits[n] = fit_weibull(survival(d))
        D[n] = domino_scores(d, fits[n], depths=art.curves.depths[n])
    R = art.scores["R"]
    return {**art.scores, "D": normalize_by_max(D), "I": combine_importance(R, D, alpha)}, fits


def importance_frame(scores: dict[str, dict[str, torch.Tensor]], plan: BlockPlan) -> pd.DataFrame:
    """One row per scored channel: ``layer, channel, R, D_hat, I, kept`` under ``plan``.

    ``scores`` is the dict of :func:`scores_for_seed` or :func:`rescore` (keys ``"R"``, ``"D"``
    (already D̂), ``"I"``); the input of :func:`labkit.views.dominos.importance_scatter`, whose cut
    for a layer is ``plan.layer_cut[layer]``.

    Example:
        >>> frame = importance_frame(art.scores, art.plans[("rd_c2b", 0.6)])   # doctest: +SKIP
    """
    rows = []
    for n in scores["I"]:
        if n not in plan.masks:
            raise KeyError(f"the plan has no mask for {n!r}: plan and scores come from different models")
        rows.append(pd.DataFrame({"layer": n, "channel": np.arange(len(scores["I"][n])),
                                  "R": scores["R"][n].numpy(), "D_hat": scores["D"][n].numpy(),
                                  "I": scores["I"][n].numpy(), "kept": plan.masks[n].numpy()}))
    return pd.concat(rows, ignore_index=True)


def stage_summary(df: pd.DataFrame, run: str = "rd_c2b") -> pd.DataFrame:
    """Accuracy and MACs for *before → pruned → fine-tuned → + SE / + extra epochs*, mean and std over seeds.

    Columns ``target, stage, accuracy, accuracy_std, macs`` (MACs per item, counted); the input of
    :func:`labkit.views.dominos.stage_bars`.
    """
    dense = df[df["run"] == "dense"]
    rows = [{"target": 0.0, "stage": "dense", "accuracy": dense["acc_ft"].mean(), "accuracy_std": dense["acc_ft"].std(),
             "macs": dense["macs"].mean()}]
    for t, g in df[df["run"] == run].groupby("target"):
        for stage, col, macs in (("pruned", "acc_pruned", g["macs"]), ("fine-tuned", "acc_ft", g["macs"]),
                                 ("+ extra epochs", "acc_extra", g["macs"]), ("+ SE", "acc_se", g["macs"] + g["se_macs"])):
            if g[col].notna().any():
                rows.append({"target": float(t), "stage": stage, "accuracy": g[col].mean(),
                             "accuracy_std": g[col].std(), "macs": float(macs.mean())})
    return pd.DataFrame(rows)
