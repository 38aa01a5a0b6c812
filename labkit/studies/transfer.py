"""Method 4 study (docs/methods.md §4): filter pruning for transfer learning on a small target set.

The thesis (Ching Ya Liao, NTU 2020; abstract and reference list only) extracts a small model
for a target domain from a large pretrained one: score the filters on *target* images, prune,
replace the head and transfer-learn; the best of three rules loses < 2 % on Flowers-102 at
ratio 0.4. The criteria are [lit] (Molchanov et al. 2017, Hu et al. 2016; implemented in
:mod:`labkit.criteria`); the rest of the protocol (§4.3) follows docs/methods.md:

1. start from the source-pretrained network;
2. score every prunable conv's filters on the target training set (filter granularity);
3. allocate ratio ``r``: ``per-layer`` removes ``floor(r C_l)`` filters in every layer,
   ``global`` ranks all filters after a per-layer normalisation (``l2`` default, ``minmax``,
   ``mean``, ``none``; §4.2), keeping at least ``max(1, ceil(0.1 C_l))`` per layer; then
   **compact** physically (Torch-Pruning slices the conv, the next conv's inputs, the FC's columns);
4. put a fresh head on it (``num_classes`` of the target) and fine-tune everything (``inherit``);
5. the "rethinking" arms (Liu et al. 2019): the same pruned architecture re-initialised
   (Kaiming) and trained from scratch for the same epochs (``scratch-e``) or for
   ``epochs x min(3, MACs_dense / MACs_pruned)`` (``scratch-b``);
6. report accuracy, parameters and MACs for every criterion x ranking x arm x ratio x seed.

:func:`run_transfer` is the protocol for any source model and target :class:`LabData` (the
online path: torchvision ``vgg16`` ImageNet weights + ``flowers102`` or an ``imagefolder``
Cats vs Dogs); :func:`run_study` is the offline §4.5 experiment: ``vgg_small`` pretrained on
digits 0-4 (the shipped checkpoint, :func:`pretrain_source` remakes it), target digits 5-9 with
15 training images per class, the rest of 5-9 as test. Choices not fixed by the thesis are
settings here, **[inferred]**: the normalisation, the floor, the fine-tune recipe.

Example:
    >>> df = run_study(TransferSettings.smoke())        # doctest: +SKIP
    >>> verdict(df)[["criterion", "verdict"]]           # doctest: +SKIP
"""
from __future__ import annotations

import copy
import math
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..analysis.cost import cost
from ..analysis.evaluate import evaluate
from ..criteria import Scores, score
from ..data import LabData, load_dataset
from ..data._base import Split
from ..models import ASSETS_DIR, load_model, prunable_parameters, save_checkpoint, update_manifest
from ..models._base import layer_of
from ..pruning import Masks, allocate, compact, make_masks
from ..runtime import resolve_device
from ..training import FitConfig, fit
from ._results import read_table, write_table
from ._runner import Study, add_cluster_flags, run_cli
from ._verdict import paired_pass

__all__ = ["TransferSettings", "FAMILIES", "SOURCE", "conv_layers", "filter_scores", "select_filters",
           "with_new_head", "reinit", "kept_filters", "class_activations", "run_transfer", "run_study",
           "study_units", "unit_rows", "STUDY",
           "pretrain_source", "load_source", "verdict", "write_results", "read_results", "main"]

#: Criterion -> family, for §4.5's "data-driven >= weight >= random".
FAMILIES: dict[str, str] = {"mean_activation": "data", "apoz": "data", "taylor": "data",
                            "min_weight": "weight", "avg_weight": "weight", "magnitude": "weight",
                            "magnitude_l2": "weight", "random": "random"}
RANKINGS = ("per-layer", "global")
ARMS = ("inherit", "scratch-e", "scratch-b")

#: The shipped source model of §4.5: (model name, checkpoint dataset key, how it was made).
SOURCE = {"model": "vgg_small", "dataset": "digits-0-4",
          "dataset_kwargs": {"classes": [0, 1, 2, 3, 4], "size": 32}}


@dataclass(frozen=True)
class TransferSettings:
    """Settings of the §4.3 protocol (defaults: the §4.5 CPU experiment; see :meth:`smoke`, :meth:`thesis`)."""

    criteria: tuple[str, ...] = ("mean_activation", "apoz", "min_weight", "avg_weight", "random")
    rankings: tuple[str, ...] = RANKINGS
    ratios: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6)
    arms: tuple[str, ...] = ARMS
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)   # §4.5: 5 seeds, each resamples the 15-shot set
    normalize: str = "l2"                      # global ranking: Molchanov's per-layer L2 (§4.2)
    min_keep: int | float | None = None        # None: max(1, ceil(0.1 C_l)) filters per layer
    exclude_first: bool = True                 # §0.1; the thesis's VGG-16 count (4,224) includes it
    epochs: int = 30                           # §4.5 fine-tune
    optimizer: str = "adam"                    # §4.5: Adam 1e-3; §4.3 (ImageNet): SGD
    lr: float = 1e-3
    head_lr: float | None = None               # §4.3: 1e-2 for the new head (None: same as lr)
    weight_decay: float = 0.0
    momentum: float = 0.9
    batch_size: int = 32
    scratch_b_cap: float = 3.0                 # Scratch-B epochs x min(cap, dense/pruned MACs)
    target_classes: tuple[int, ...] = (5, 6, 7, 8, 9)
    shots: int = 15
    image_size: int = 32
    test_per_class: int | None = None          # None: every unused 5-9 image (§4.5); smoke caps it
    device: str | None = None

    @classmethod
    def smoke(cls) -> "TransferSettings":
        """Tiny run for CI: 3 seeds, r in {0, 0.4}, 3 criteria, 1 epoch, 20 test images per class."""
        return cls(criteria=("mean_activation", "avg_weight", "random"), ratios=(0.0, 0.4),
                   arms=("inherit", "scratch-e"), seeds=(0, 1, 2), epochs=1, test_per_class=20)

    @classmethod
    def thesis(cls) -> "TransferSettings":
        """The §4.3 recipe for ImageNet VGG-16: SGD 0.9, lr 1e-3 / head 1e-2, wd 5e-4, all 13 convs."""
        return cls(criteria=("mean_activation", "apoz", "min_weight", "avg_weight", "taylor", "random"),
                   optimizer="sgd", lr=1e-3, head_lr=1e-2, weight_decay=5e-4, exclude_first=False, seeds=(0,))


# --- steps of the protocol -------------------------------------------------------------------------
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


def with_new_head(model: nn.Module, num_classes: int, seed: int = 0) -> nn.Module:
    """A copy of ``model`` whose last ``nn.Linear`` is a fresh ``Linear(in, num_classes)`` (seeded)."""
    new = copy.deepcopy(model)
    names = [n for n, m in new.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise ValueError("the source model has no nn.Linear head to replace")
    old = new.get_submodule(names[-1])
    torch.manual_seed(seed)
    head = nn.Linear(old.in_features, num_classes).to(old.weight.device)
    parent, _, attr = names[-1].rpartition(".")
    setattr(new.get_submodule(parent) if parent else new, attr, head)
    return new


def reinit(model: nn.Module, seed: int = 0) -> nn.Module:
    """A copy with Kaiming-normal convs (fan_out, ReLU), default-init linears, zero biases (Scratch arms)."""
    new = copy.deepcopy(model)
    torch.manual_seed(seed)
    for m in new.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            m.reset_parameters()
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_parameters()
    return new


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
        groups = [{"params": [p for p in params if id(p) not in ids]},
                  {"params": [p for p in params if id(p) in ids], "lr": s.head_lr}]
        if s.optimizer == "sgd":
            return torch.optim.SGD(groups, lr=s.lr, momentum=s.momentum, weight_decay=s.weight_decay)
        return torch.optim.Adam(groups, lr=s.lr, weight_decay=s.weight_decay)
    make.__qualname__ = f"{s.optimizer}(lr={s.lr:g}, head_lr={s.head_lr:g})"
    return make


def _train_eval(model: nn.Module, target: LabData, s: TransferSettings, epochs: int, seed: int,
                dev: torch.device) -> float:
    fit(model, target.train, FitConfig(epochs=epochs, optimizer=_optimizer(model, s), lr=s.lr,
                                       weight_decay=s.weight_decay, momentum=s.momentum, batch_size=s.batch_size,
                                       seed=seed, device=dev, progress=False))
    return float(evaluate(model, target.test, n_boot=0).overall)


def run_transfer(source: nn.Module, target: LabData, settings: TransferSettings, seed: int = 0, *,
                 keep: dict[tuple, Masks] | None = None, progress: bool = False) -> pd.DataFrame:
    """The §4.3 protocol for one seed: every criterion x ranking x ratio x arm on ``target``.

    Args:
        source: the source-pretrained model (not modified); its last linear is the head to replace.
        target: the small target dataset (scores and fine-tuning use ``train``, accuracy ``test``).
        settings: which criteria, rankings, ratios, arms, and the fine-tune recipe.
        seed: seeds the new head, the scratch init, the random criterion and the batch order.
        keep: receives the filter masks by ``(criterion, ranking, ratio, seed)``.

    Returns:
        One row per run: ``criterion, family, ranking, arm, ratio, seed, accuracy, params, MACs,
        filters_kept, filters_total, epochs``. Ratio 0 (no pruning) appears once per arm with
        criterion ``"none"`` and ranking ``"none"``. Scratch arms are trained once per distinct
        architecture (per-layer masks of every criterion share one).
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
    scratch: dict[tuple, float] = {}
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
                acc = _train_eval(copy.deepcopy(pruned), target, s, epochs, seed, dev)
            else:
                factor = 1.0 if arm == "scratch-e" else min(s.scratch_b_cap, dense_macs / max(c["MACs"], 1))
                epochs = int(round(s.epochs * factor))
                key = (arch, arm)
                if key not in scratch:
                    scratch[key] = _train_eval(reinit(pruned, seed), target, s, epochs, seed, dev)
                acc = scratch[key]
            rows.append({**info, "arm": arm, "accuracy": acc, "epochs": epochs})
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    cols = ["criterion", "family", "ranking", "arm", "ratio", "seed", "accuracy", "params", "MACs",
            "filters_kept", "filters_total", "epochs"]
    return pd.DataFrame(rows, columns=cols)


# --- the offline §4.5 experiment -------------------------------------------------------------------
def source_data(seed: int = 0) -> LabData:
    """Digits 0-4 at 32x32: the source task of §4.5."""
    return load_dataset("digits", seed=seed, **SOURCE["dataset_kwargs"])


def target_data(settings: TransferSettings, seed: int) -> LabData:
    """Digits 5-9, ``shots`` training images per class (resampled by ``seed``), the rest as test
    (or its first ``settings.test_per_class`` images per class, for quick runs)."""
    data = load_dataset("digits", seed=seed, classes=list(settings.target_classes), shots=settings.shots,
                        test_per_class=None, size=settings.image_size)
    if settings.test_per_class is not None:
        y = data.test.targets.numpy()
        idx = np.concatenate([np.flatnonzero(y == c)[:settings.test_per_class] for c in np.unique(y)])
        data = replace(data, test=data.test.subset(np.sort(idx)))
    return data


def pretrain_source(out: str | os.PathLike[str] | None = None, *, epochs: int = 20, seed: int = 0,
                    lr: float = 1e-3, batch_size: int = 64, ship: bool = True) -> Path:
    """Train ``vgg_small`` on digits 0-4 (§4.5 "source pretraining") and save the checkpoint.

    The shipped file is ``labkit/models/assets/vgg_small__digits-0-4.safetensors``, remade by
    ``python -m labkit.studies.transfer pretrain``; ``ship`` records its sha256 in the manifest.
    """
    path = Path(out) if out is not None else ASSETS_DIR / f"{SOURCE['model']}__{SOURCE['dataset']}.safetensors"
    data = source_data(seed)
    torch.manual_seed(seed)
    net = load_model(SOURCE["model"], num_classes=data.num_classes, in_channels=data.input_shape[0])
    hist = fit(net, data.train, FitConfig(epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, progress=False),
               val=data.val)
    test = evaluate(net, data.test, n_boot=0)
    meta = {"model": SOURCE["model"], "dataset": SOURCE["dataset"], "dataset_kwargs": SOURCE["dataset_kwargs"],
            "training": hist.config, "seed": seed,
            "metrics": {"test_accuracy": round(float(test.overall), 4),
                        "val_accuracy": round(float(hist.val_accuracy[-1]), 4)},
            "made_by": "python -m labkit.studies.transfer pretrain (docs/methods.md §4.5)"}
    save_checkpoint(net.cpu(), path, meta)
    if ship:
        update_manifest(path)
    return path


def load_source() -> nn.Module:
    """The shipped source model (sha256-checked): ``vgg_small`` trained on digits 0-4."""
    return load_model(SOURCE["model"], dataset=SOURCE["dataset"], pretrained=True)


def run_study(settings: TransferSettings, *, source: nn.Module | None = None, progress: bool = True,
              keep: dict[tuple, Masks] | None = None) -> pd.DataFrame:
    """The offline §4.5 experiment: :func:`run_transfer` for every seed (its own 15-shot sample)."""
    src = source if source is not None else load_source()
    seeds = list(settings.seeds)
    it: Any = seeds
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(seeds, desc="§4.5 seeds")
    df = pd.concat([run_transfer(src, target_data(settings, seed), settings, seed, keep=keep, progress=progress)
                    for seed in it], ignore_index=True)
    df.attrs["settings"] = asdict(settings)
    return df


def study_units(settings: TransferSettings) -> list[dict[str, Any]]:
    """The study's units (:mod:`labkit.studies._runner`): one per seed (its own 15-shot sample)."""
    return [{"seed": int(seed)} for seed in settings.seeds]


def unit_rows(settings: TransferSettings, unit: dict[str, Any]) -> list[dict[str, Any]]:
    """One unit's rows: :func:`run_transfer` of the shipped source on the seed's target (a Ray task)."""
    seed = unit["seed"]
    return run_transfer(load_source(), target_data(settings, seed), settings, seed).to_dict("records")


STUDY = Study("transfer", units=study_units, run=unit_rows, axes=("seeds",))
"""The study for :func:`labkit.studies._runner.run_units` (``--ray`` / ``--address`` on the CLI)."""


# --- verdict ---------------------------------------------------------------------------------------
def _inherit(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["arm"] == "inherit"]


def _per_seed(df: pd.DataFrame, mask: pd.Series) -> pd.Series:
    return df[mask].groupby("seed")["accuracy"].mean()


def _row(criterion: str, claim: str, d: np.ndarray, ok: bool | None, extra: str = "") -> dict[str, Any]:
    if len(d) == 0:
        return {"criterion": criterion, "claim": claim, "measured": "runs missing", "mean_diff_pt": np.nan,
                "std_diff_pt": np.nan, "per_seed_pt": "", "n_seeds": 0, "verdict": "n/a"}
    sd = float(d.std(ddof=1)) if len(d) > 1 else np.nan
    return {"criterion": criterion, "claim": claim, "measured": f"{d.mean():+.2f} ± {sd:.2f} pt{extra}",
            "mean_diff_pt": float(d.mean()), "std_diff_pt": sd, "per_seed_pt": ", ".join(f"{v:+.2f}" for v in d),
            "n_seeds": len(d), "verdict": "INFO" if ok is None else ("PASS" if ok else "FAIL")}


def verdict(df: pd.DataFrame, ratio: float = 0.4) -> pd.DataFrame:
    """PASS / FAIL per §4.5 rule as measured (paired by seed; docs/methods.md §0.1; < 3 seeds cannot pass).

    * ``best data-driven at r``: the best of mean activation / APoZ (x ranking, by mean inherit
      accuracy at ``ratio``) minus unpruned transfer, per seed, must be >= -2 pt (§0.1 rule on
      ``diff + 2``).
    * ``data >= weight`` and ``weight >= random``: family means over every pruned ratio and
      ranking, inherit arm, paired by seed (§0.1 rule on the difference >= 0).
    * ``INFO``: global minus per-layer; Scratch-E and Scratch-B minus inherit (§4.5 expects
      scratch << inherit on this tiny target; reported either way).
    """
    need = {"criterion", "family", "ranking", "arm", "ratio", "seed", "accuracy"}
    if not need <= set(df.columns):
        raise ValueError(f"verdict needs the table of run_transfer (columns {sorted(need)}); got {list(df.columns)}")
    enough = df["seed"].nunique() >= 3
    inh = _inherit(df)
    dense = inh[inh["ratio"] == 0].groupby("seed")["accuracy"].mean()
    rows = []
    at = inh[np.isclose(inh["ratio"], ratio) & (inh["family"] == "data")]
    if len(at) and len(dense):
        means = at.groupby(["criterion", "ranking"])["accuracy"].mean()
        crit, rk = means.idxmax()
        best = at[(at["criterion"] == crit) & (at["ranking"] == rk)].set_index("seed")["accuracy"]
        d = ((best - dense).dropna() * 100).to_numpy()
        rows.append(_row(f"best data-driven at r={ratio:g}", "acc(best of mean_activation / APoZ) - acc(unpruned) "
                         ">= -2 pt (thesis: < 2 % loss)", d, enough and paired_pass(d, -2.0),
                         extra=f" ({crit}, {rk})"))
    else:
        rows.append(_row(f"best data-driven at r={ratio:g}", "needs data-driven criteria and r=0", np.array([]), None))
    pruned = inh[inh["ratio"] > 0]
    fam = {f: _per_seed(pruned, pruned["family"] == f) for f in ("data", "weight", "random")}
    for a, b in (("data", "weight"), ("weight", "random")):
        d = ((fam[a] - fam[b]).dropna() * 100).to_numpy()
        rows.append(_row(f"{a} >= {b}", f"mean acc({a} criteria) - mean acc({b}) >= 0, inherit, r > 0", d,
                         enough and paired_pass(d)))
    g, p = _per_seed(pruned, pruned["ranking"] == "global"), _per_seed(pruned, pruned["ranking"] == "per-layer")
    rows.append(_row("global vs per-layer", "(report) mean acc(global) - acc(per-layer), inherit, r > 0",
                     ((g - p).dropna() * 100).to_numpy(), None))
    allp = df[df["ratio"] > 0]
    inh_s = _per_seed(allp, allp["arm"] == "inherit")
    for arm in ("scratch-e", "scratch-b"):
        d = ((_per_seed(allp, allp["arm"] == arm) - inh_s).dropna() * 100).to_numpy()
        rows.append(_row(f"{arm} vs inherit", f"(report) mean acc({arm}) - acc(inherit), r > 0; §4.5 expects << 0",
                         d, None))
    return pd.DataFrame(rows)


# --- saved results ---------------------------------------------------------------------------------
def write_results(df: pd.DataFrame, path: str | os.PathLike[str], command: str,
                  title: str = "labkit method 4 study (docs/methods.md §4.5)") -> Path:
    """Save ``df`` with its command, settings and versions (:func:`labkit.studies._results.write_table`)."""
    return write_table(df, path, command, title)


def read_results(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Load a table saved by :func:`write_results`; its header lines go to ``df.attrs``."""
    return read_table(path)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m labkit.studies.transfer pretrain`` | ``run [--smoke] [--seeds ..] [--epochs N] --out CSV``."""
    import argparse
    import shlex
    import sys

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    pre = sub.add_parser("pretrain", help="train the source vgg_small on digits 0-4 and ship it")
    pre.add_argument("--epochs", type=int, default=20)
    pre.add_argument("--seed", type=int, default=0)
    pre.add_argument("--out", default=None)
    run = sub.add_parser("run", help="the §4.5 experiment")
    run.add_argument("--smoke", action="store_true")
    run.add_argument("--seeds", type=int, nargs="+")
    run.add_argument("--epochs", type=int)
    run.add_argument("--ratios", type=float, nargs="+")
    run.add_argument("--criteria", nargs="+")
    run.add_argument("--arms", nargs="+", choices=list(ARMS))
    run.add_argument("--out", required=True, help="CSV to write (atomically, after every unit; a rerun resumes)")
    add_cluster_flags(run)
    for p in (pre, run):
        p.add_argument("--threads", type=int, help="torch.set_num_threads (1 is fastest on busy shared cores)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.cmd == "pretrain":
        path = pretrain_source(args.out, epochs=args.epochs, seed=args.seed)
        print(f"wrote {path}")
        return
    s = TransferSettings.smoke() if args.smoke else TransferSettings()
    over = {"seeds": args.seeds, "epochs": args.epochs, "ratios": args.ratios, "criteria": args.criteria,
            "arms": args.arms}
    s = replace(s, **{k: (tuple(v) if isinstance(v, list) else v) for k, v in over.items() if v is not None})
    cmd = " ".join(shlex.quote(a) for a in ["python", "-m", "labkit.studies.transfer",
                                            *(sys.argv[1:] if argv is None else argv)])
    df = run_cli(STUDY, s, args, prog="labkit.studies.transfer", write=lambda d: write_results(d, args.out, cmd),
                 read=read_results)
    with pd.option_context("display.width", 200, "display.max_colwidth", 80):
        print(verdict(df)[["criterion", "measured", "verdict"]].to_string(index=False))


if __name__ == "__main__":
    # Run the importable module, not __main__: Ray then pickles the unit function by reference.
    from labkit.studies.transfer import main as _main

    _main()
