"""Sensitivity scan: prune one layer (or one coupled group) at a time and watch the accuracy.

The scan of Han et al. 2015 and the MIT EfficientML pruning lab: for every layer ``l`` and
sparsity ``s``, prune *only* ``l`` to ``s`` with the chosen criterion (all other layers dense),
evaluate, and tabulate. Flat curves mark layers that tolerate pruning; steep ones need a lower
per-layer sparsity (feed that into ``allocate(mode={...})``).

``per="group"`` prunes each coupled group (layers tied by residual adds, found by
Torch-Pruning's dependency graph) together. Layer-isolated scans mis-rank skip-coupled layers
(FasterAI-Labs/fasterai#40): pruning one conv of a residual stage alone hides what cutting
the stage's shared channels costs.

Example:
    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.ReLU(),
    ...                     nn.Flatten(), nn.Linear(64, 3))
    >>> x, y = torch.randn(12, 1, 8, 8), torch.arange(12) % 3
    >>> df = sensitivity_scan(net, (x, y), "magnitude", [0.5, 0.9], exclude_first=False)
    >>> list(df.columns), len(df)
    (['layer', 'members', 'sparsity', 'metric', 'drop'], 4)
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import torch
from torch import nn

from ..criteria import Scores, score
from ..data.batches import Batches, DataLike
from ..pruning.allocate import check_sparsity
from ..pruning.apply import apply_masks
from ..pruning.groups import coupled_groups
from ..pruning.ranking import Ranking

__all__ = ["sensitivity_scan", "accuracy"]


def accuracy(model: nn.Module, data: DataLike, batch_size: int = 256) -> float:
    """Top-1 accuracy of ``model`` on labelled ``data`` (eval mode, no gradients)."""
    device = next(model.parameters()).device
    batches = Batches(data, batch_size=batch_size, device=device)
    if not batches.has_labels:
        raise ValueError("accuracy needs labelled data: pass a Split or an (x, y) pair")
    was = model.training
    model.eval()
    correct = total = 0
    try:
        with torch.no_grad():
            for x, y in batches:
                assert y is not None  # has_labels checked above
                correct += int((model(x).argmax(dim=-1) == y).sum())
                total += len(y)
    finally:
        model.train(was)
    return correct / total


def sensitivity_scan(model: nn.Module, data: DataLike, criterion: str | Scores,
                     sparsities: Sequence[float], per: str = "layer",
                     evaluate_fn: Callable[[nn.Module, Any], float] | None = None,
                     granularity: str = "weight", *, layers: Sequence[str] | None = None,
                     exclude_first: bool = True, exclude_last: bool = True,
                     example_inputs: Any = None, **score_kw: Any) -> pd.DataFrame:
    """Metric vs sparsity with one layer (or coupled group) pruned at a time.

    Args:
        model: the dense model; not modified.
        data: labelled data, used to score data-driven criteria and to evaluate.
        criterion: a criterion name (scored once here) or precomputed :class:`Scores`.
        sparsities: fractions in [0, 1) to try for each layer / group.
        per: ``"layer"`` or ``"group"`` (coupled channel groups via Torch-Pruning).
        evaluate_fn: ``fn(model, data) -> float`` (higher = better); default top-1 :func:`accuracy`.
        granularity: of the scores when ``criterion`` is a name.
        example_inputs: input batch for tracing groups; default the first 2 items of ``data``.

    Returns:
        DataFrame with ``layer`` (the group's first member), ``members`` (all its layers, joined
        by ``" + "``), ``sparsity``, ``metric`` and ``drop`` (dense metric minus metric);
        ``df.attrs["dense"]`` holds the dense metric.
    """
    if per not in ("layer", "group"):
        raise ValueError(f"per must be 'layer' or 'group', got {per!r}")
    sps = [check_sparsity(s, "each of sparsities") for s in sparsities]
    if not sps:
        raise ValueError("sparsities is empty; pass e.g. [0.25, 0.5, 0.75, 0.9]")
    evaluate = evaluate_fn or accuracy
    if isinstance(criterion, dict):
        sc = criterion
    else:
        sc = score(model, criterion, data=data, granularity=granularity, layers=layers,
                   exclude_first=exclude_first, exclude_last=exclude_last, **score_kw)
    names = list(sc)
    if per == "layer":
        units = [[n] for n in names]
    else:
        if example_inputs is None:
            x = Batches(data, batch_size=2)
            example_inputs = next(iter(x))[0].to(next(model.parameters()).device)
        units = coupled_groups(model, example_inputs, layers=names)
    ranking = Ranking(sc)
    dense = float(evaluate(model, data))
    work = copy.deepcopy(model)
    rows = []
    for members in units:
        for s in sps:
            masks = ranking.masks({n: s for n in members})
            metric = float(evaluate(apply_masks(model, masks, out=work), data))
            rows.append({"layer": members[0], "members": " + ".join(members), "sparsity": s,
                         "metric": metric, "drop": dense - metric})
    df = pd.DataFrame(rows, columns=["layer", "members", "sparsity", "metric", "drop"])
    df.attrs["dense"] = dense
    return df
