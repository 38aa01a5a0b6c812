"""The §4.3 protocol (docs/methods.md §4): score filters on the target, prune, compact, new head, fine-tune.

:func:`run_transfer` runs it for one seed on any source model and target :class:`LabData`:
every criterion x ranking x ratio x arm (inherit, Scratch-E, Scratch-B). Its steps are public for
the notebook: :func:`filter_scores`, :func:`select_filters`, :func:`kept_filters`,
:func:`class_activations`. Head surgery is :func:`labkit.models.heads.with_new_head`, the scratch
arms' start :func:`labkit.training.init.reinit`.

Example:
    >>> sc = Scores({"a.weight": torch.tensor([1., 2, 3, 4])}, granularity="filter")
    >>> select_filters(sc, 0.5)["a.weight"].tolist()
    [False, False, True, True]
"""
from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import torch
from torch import nn

from ...analysis.cost import cost
from ...analysis.evaluate import evaluate
from ...criteria import Scores, score
from ...data import LabData
from ...data._base import Split
from ...models import prunable_parameters
from ...models._base import layer_of
from ...models.heads import with_new_head
from ...pruning import Masks, allocate, compact, make_masks
from ...runtime import resolve_device
from ...training import FitConfig, fit
from ...training.init import reinit
from .settings import FAMILIES, RANKINGS, TransferSettings

__all__ = ["conv_layers", "filter_scores", "select_filters", "kept_filters", "class_activations", "run_transfer"]


def conv_layers(model: nn.Module, exclude_first: bool = True) -> list[str]:
    """Conv weight names whose filters the protocol prunes (every conv; the first one optional)."""
    return [n for n in prunable_parameters(model, exclude_first=exclude_first, exclude_last=True)
            if isinstance(layer_of(model, n), nn.Conv2d)]


def _data_arg(split: Split, batch_size: int = 64) -> Any:
    """In-memory splits go as they are; streaming ones (Flowers, ImageFolder) as a DataLoader."""
    return split if split.in_memory else split.loader(batch_size)


def filter_scores(model: nn.Module, criterion: str, data: Split, *, exclude_first: bool = True,
                  seed: int = 0) -> Scores:
    """``score(model, criterion, data, granularity="filter")`` over :func:`conv_layers`.

    Data-driven criteria see the *target* images (the thesis's "filters sensitive to the target
    dataset"); ``random`` is seeded with ``seed``.
    """
    kw: dict[str, Any] = {"seed": seed} if criterion == "random" else {}
    return score(model, criterion, data=_data_arg(data), granularity="filter",
                 layers=conv_layers(model, exclude_first), **kw)


def select_filters(scores: Mapping[str, torch.Tensor], ratio: float, ranking: str = "per-layer", *,
                   normalize: str = "l2", min_keep: int | float | None = None) -> Masks:
    """Filter masks removing ratio ``r`` of the filters (docs/methods.md §4.2).

    ``per-layer``: ``floor(r C_l)`` lowest-scored filters of every layer. ``global``: one
    threshold over all filters after the per-layer ``normalize``; both keep at least
    ``min_keep`` filters per layer (default ``max(1, ceil(0.1 C_l))``).

    Example:
        >>> sc = Scores({"a.weight": torch.tensor([1., 2, 3, 4]), "b.weight": torch.tensor([10., 20])},
        ...             granularity="filter")
        >>> select_filters(sc, 0.5, "per-layer")["a.weight"].tolist()
        [False, False, True, True]
    """
    if ranking == "per-layer":
        alloc = allocate(scores, {n: math.floor(ratio * t.numel()) / t.numel() for n, t in scores.items()},
                         min_keep=min_keep)
    elif ranking == "global":
        alloc = allocate(scores, ratio, mode="global", normalize=normalize, min_keep=min_keep)
    else:
        raise ValueError(f"ranking must be one of {RANKINGS}, got {ranking!r}")
    return make_masks(scores, alloc)


def kept_filters(masks: Masks, **labels: Any) -> pd.DataFrame:
    """One row per layer: ``layer, kept, total`` plus ``labels`` (criterion=..., ranking=...)."""
    rows = [{**labels, "layer": n, "kept": int(m.sum()), "total": m.numel()} for n, m in masks.items()]
    return pd.DataFrame(rows)


def class_activations(model: nn.Module, layer: str, split: Split, class_names: Sequence[str] | None = None
                      ) -> pd.DataFrame:
    """Mean post-ReLU activation of every filter of ``layer`` per class: rows = classes, cols = filters.

    Built on the ``mean_activation`` criterion restricted to one class at a time (its
    ``target=`` option), so it is the same number the criterion ranks by.
    """
    x, y = split.tensors()
    classes = sorted(int(c) for c in torch.unique(y))
    rows = [score(model, "mean_activation", data=(x, y), granularity="filter", layers=[layer], target=[c])[layer]
            for c in classes]
    names = [class_names[c] if class_names is not None else str(c) for c in classes]
    return pd.DataFrame(torch.stack(rows).numpy(), index=pd.Index(names, name="class"))


def _optimizer(model: nn.Module, s: TransferSettings) -> Any:
    if s.head_lr is None:
        return s.optimizer
    head = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    ids = {id(p) for p in head.parameters()}

    def make(params: Any) -> torch.optim.Optimizer:
        params = list(params)
        groups: list[dict[str, Any]] = [{"params": [p for p in params if id(p) not in ids]},
                                        {"params": [p for p in params if id(p) in ids], "lr": s.head_lr}]
        if s.optimizer == "sgd":
            return torch.optim.SGD(groups, lr=s.lr, momentum=s.momentum, weight_decay=s.weight_decay)
        return torch.optim.Adam(groups, lr=s.lr, weight_decay=s.weight_decay)
    make.__qualname__ = f"{s.optimizer}(lr={s.lr:g}, head_lr={s.head_lr:g})"
    return make


def _train_eval(model: nn.Module, target: LabData, s: TransferSettings, epochs: int, seed: int,
                dev: torch.device) -> tuple[float, float]:
    """``(test accuracy, validation accuracy)`` after fine-tuning (NaN without a val split)."""
    fit(model, target.train, FitConfig(epochs=epochs, optimizer=_optimizer(model, s), lr=s.lr,
                                       weight_decay=s.weight_decay, momentum=s.momentum, batch_size=s.batch_size,
                                       seed=seed, device=dev, progress=False))
    val = float(evaluate(model, target.val, n_boot=0).overall) if len(target.val) else float("nan")
    return float(evaluate(model, target.test, n_boot=0).overall), val


def run_transfer(source: nn.Module, target: LabData, settings: TransferSettings, seed: int = 0, *,
                 keep: dict[tuple, Masks] | None = None, progress: bool = False) -> pd.DataFrame:
    """The §4.3 protocol for one seed: every criterion x ranking x ratio x arm on ``target``.

    Args:
        source: the source-pretrained model (not modified); its last linear is the head to replace.
        target: the small target dataset (scores and fine-tuning use ``train``; ``val`` is what
            a choice is made on, ``test`` what it is judged on).
        settings: which criteria, rankings, ratios, arms, and the fine-tune recipe.
        seed: seeds the new head, the scratch init, the random criterion and the batch order.
        keep: receives the filter masks by ``(criterion, ranking, ratio, seed)``.

    Returns:
        One row per run: ``criterion, family, ranking, arm, ratio, seed, accuracy`` (test),
        ``val_accuracy``, ``params, MACs, filters_kept, filters_total, epochs, n_test``. Ratio 0
        (no pruning) appears once per arm with criterion ``"none"`` and ranking ``"none"``. Scratch
        arms are trained once per distinct architecture (per-layer masks of every criterion share one).
    """
    s = settings
    dev = resolve_device(s.device)
    k = target.num_classes
    shape = tuple(target.input_shape)
    base = with_new_head(source, k, seed).to(dev)
    layers = conv_layers(base, s.exclude_first)
    total = sum(base.get_parameter(n).shape[0] for n in layers)
    example = target.train.subset([0, 1]).tensors()[0].to(dev)
    dense_macs = cost(base, shape, latency=False)["MACs"]
    rows: list[dict[str, Any]] = []
    scratch: dict[tuple, tuple[float, float]] = {}
    jobs = [("none", "none", 0.0)] if any(r == 0 for r in s.ratios) else []
    jobs += [(c, rk, r) for c in s.criteria for rk in s.rankings for r in s.ratios if r > 0]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), desc=f"§4.3 seed {seed}", leave=False)
    scores = {c: filter_scores(base, c, target.train, exclude_first=s.exclude_first, seed=seed) for c in s.criteria}
    for crit, ranking, r in jobs:
        if r == 0:
            pruned, kept = base, total
        else:
            masks = select_filters(scores[crit], r, ranking, normalize=s.normalize, min_keep=s.min_keep)
            if keep is not None:
                keep[(crit, ranking, r, seed)] = masks
            pruned = with_new_head(compact(base, masks, example), k, seed)
            kept = masks.kept
        c = cost(pruned, shape, latency=False)
        arch = tuple(m.out_channels for m in pruned.modules() if isinstance(m, nn.Conv2d))
        info = {"criterion": crit, "family": FAMILIES.get(crit, "none" if crit == "none" else "other"),
                "ranking": ranking, "ratio": r, "seed": seed, "params": c["params"], "MACs": c["MACs"],
                "filters_kept": kept, "filters_total": total}
        for arm in s.arms:
            if arm == "inherit":
                epochs = s.epochs
                acc, val = _train_eval(copy.deepcopy(pruned), target, s, epochs, seed, dev)
            else:
                factor = 1.0 if arm == "scratch-e" else min(s.scratch_b_cap, dense_macs / max(c["MACs"], 1))
                epochs = int(round(s.epochs * factor))
                key = (arch, arm)
                if key not in scratch:
                    scratch[key] = _train_eval(reinit(pruned, seed), target, s, epochs, seed, dev)
                acc, val = scratch[key]
            rows.append({**info, "arm": arm, "accuracy": acc, "val_accuracy": val, "epochs": epochs,
                         "n_test": len(target.test)})
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    cols = ["criterion", "family", "ranking", "arm", "ratio", "seed", "accuracy", "val_accuracy", "params", "MACs",
            "filters_kept", "filters_total", "epochs", "n_test"]
    return pd.DataFrame(rows, columns=cols)
