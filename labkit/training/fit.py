"""Training loops: ``fit`` trains a model in place, ``finetune`` trains a copy under fixed masks.

``fit(model, split, epochs=...)`` is the one loop every part of labkit uses: the dense baseline
``θ0``, the auxiliary trainers of method 1 (a loss, a sampler, an augmentation and a seed;
docs/methods.md §1.2) and the mask-preserving fine-tuning after pruning (§1.5).

What it takes care of:

* **Speed.** An in-memory split (``Split.from_tensors``, the embedded digits) is batched by
  indexing tensors that live on the device, with no ``DataLoader``; other splits stream
  through ``DataLoader``.
* **Masks stay masks.** With ``masks`` (parameter name -> bool tensor, True = kept) the weights
  are multiplied by the mask first, the gradients of pruned weights are zeroed after every
  backward pass, and the weights are re-masked after every optimizer step. The last step
  matters: Adam's moment estimates (and weight decay) would otherwise move pruned weights
  away from zero again.
* **Determinism and resuming.** Epoch ``e`` re-seeds Python, NumPy and torch from
  ``(seed, e)``, and the learning rate is a pure function of the epoch. So the batches, the
  dropout masks and the augmentations of an epoch do not depend on what ran before, and a run
  resumed from its checkpoint ends with the same weights as one that never stopped (on the CPU;
  GPU kernels may be non-deterministic). The checkpoint is rewritten atomically after every
  epoch (:mod:`labkit.training.checkpoint`: safetensors, never pickle).

``fit`` changes the model it is given (weights, device, lazily created layers). Callers that
need the original keep a copy: ``finetune`` does exactly that with ``copy.deepcopy``.

Example:
    >>> x, y = torch.randn(64, 5), torch.randint(0, 3, (64,))
    >>> net = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3))
    >>> hist = fit(net, Split.from_tensors(x, y), epochs=3, progress=False)
    >>> hist.to_frame().columns.tolist()[:3]
    ['epoch', 'loss', 'lr']
"""
from __future__ import annotations

import copy
import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Sampler

from ..data._base import Split
from ..runtime import resolve_device, seed_everything, versions
from .checkpoint import load_train_state, save_train_state
from .distributed import all_sum, current, restore_batchnorm, shard, sync_batchnorm
from .heads import NormedLinear
from .losses import make_loss
from .optim import get_schedule, make_optimizer
from .samplers import ClassBalancedSampler

__all__ = ["fit", "finetune", "TrainHistory"]

Masks = Mapping[str, Tensor]

# --- history --------------------------------------------------------------------------------
@dataclass
class TrainHistory:
    """Per-epoch record of a run; ``to_frame()`` gives one row per epoch.

    ``val_accuracy`` / ``val_balanced`` (mean per-class accuracy) are NaN without a ``val`` split.
    """

    epoch: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    val_balanced: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    def append(self, epoch: int, loss: float, lr: float, val_accuracy: float,
               val_balanced: float, seconds: float) -> None:
        for name, value in (("epoch", epoch), ("loss", loss), ("lr", lr), ("val_accuracy", val_accuracy),
                            ("val_balanced", val_balanced), ("seconds", seconds)):
            getattr(self, name).append(value)

    def __len__(self) -> int:
        return len(self.epoch)

    def to_frame(self) -> pd.DataFrame:
        """Columns ``epoch, loss, lr, val_accuracy, val_balanced, seconds``."""
        d = asdict(self)
        d.pop("config")
        return pd.DataFrame(d)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrainHistory":
        return cls(**{k: (list(v) if k != "config" else dict(v)) for k, v in d.items()})


# --- helpers --------------------------------------------------------------------------------
def _epoch_seed(seed: int, epoch: int) -> int:
    """A well-mixed 32-bit seed for epoch ``epoch`` of a run seeded with ``seed``."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def _name(obj: Any) -> Any:
    """How a plug-in argument is recorded in the config (names stay names)."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return getattr(obj, "__qualname__", type(obj).__qualname__)


def _first_input(split: Split) -> Tensor:
    if split.in_memory:
        return split.tensors()[0][:1]
    return torch.as_tensor(split.dataset[0][0]).unsqueeze(0)


def _prepare_masks(model: nn.Module, masks: Masks) -> list[tuple[str, nn.Parameter, Tensor]]:
    """Check masks against the model; return (name, parameter, 0/1 mask in the parameter's dtype)."""
    if not hasattr(masks, "items"):
        raise TypeError(f"masks must map parameter names to bool tensors, got {type(masks).__name__}")
    params = dict(model.named_parameters())
    out = []
    for name, m in masks.items():
        if name not in params:
            import difflib
            close = difflib.get_close_matches(name, list(params), n=3)
            raise KeyError(f"mask for {name!r}, which is not a parameter of the model"
                           + (f"; did you mean {close}?" if close else ""))
        p, m = params[name], torch.as_tensor(m)
        if m.dtype != torch.bool:
            raise TypeError(f"mask {name!r} has dtype {m.dtype}; masks are bool (True = kept): "
                            "pass mask.bool()")
        if m.shape != p.shape:
            if p.ndim >= 1 and m.shape == (p.shape[0],):  # filter mask: one flag per output channel
                m = m.view(-1, *([1] * (p.ndim - 1))).expand_as(p)
            else:
                raise ValueError(f"mask {name!r} has shape {tuple(m.shape)} but the parameter has "
                                 f"{tuple(p.shape)} (or ({p.shape[0]},) for a filter mask)")
        out.append((name, p, m.to(device=p.device, dtype=p.dtype)))
    return out


@torch.no_grad()
def _reapply(masks: list[tuple[str, nn.Parameter, Tensor]]) -> None:
    for _, p, m in masks:
        p.mul_(m)


def _tensor_batches(x: Tensor, y: Tensor, order: Tensor, batch_size: int,
                    rank: int = 0, world: int = 1) -> Iterator[tuple[Tensor, Tensor, int]]:
    """Batches of ``order``: ``(x, y, global batch size)``; under DDP this rank's slice of each."""
    order = order.to(x.device)
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        mine = shard(idx, rank, world)
        yield x[mine], y[mine], len(idx)


def _loader_batches(dataset: Any, order: Tensor, batch_size: int, rank: int,
                    world: int) -> Iterator[tuple[Any, Any, int]]:
    """Like :func:`_tensor_batches` for a dataset on disk (a ``DataLoader`` over this rank's slices)."""
    glob = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    loader = DataLoader(dataset, batch_sampler=[shard(g, rank, world).tolist() for g in glob])
    for (xb, yb), g in zip(loader, glob):
        yield xb, yb, len(g)


@torch.no_grad()
def _val_accuracy(model: nn.Module, split: Split, device: torch.device, batch_size: int) -> tuple[float, float]:
    """(accuracy, mean per-class accuracy) on ``split``; the model is left in the mode it had."""
    was = model.training
    model.eval()
    preds, ys = [], []
    if split.in_memory:
        x, y = split.tensors(device)
        for i in range(0, len(y), batch_size):
            preds.append(model(x[i:i + batch_size]).argmax(1))
        ys.append(y)
    else:
        for xb, yb in split.loader(batch_size):
            preds.append(model(xb.to(device)).argmax(1))
            ys.append(torch.as_tensor(yb).to(device))
    model.train(was)
    p, t = torch.cat(preds).cpu().numpy(), torch.cat(ys).cpu().numpy()
    hit = p == t
    per_class = [hit[t == c].mean() for c in np.unique(t)]
    return float(hit.mean()), float(np.mean(per_class))


# --- the loop -------------------------------------------------------------------------------
def fit(model: nn.Module, train: Split, *, epochs: int,
        loss: str | nn.Module | Callable[..., nn.Module] = "ce",
        optimizer: str | Callable[..., torch.optim.Optimizer] = "adam",
        lr: float = 1e-3, weight_decay: float = 0.0, momentum: float = 0.9,
        schedule: str | Callable[[int, int], float] = "none", batch_size: int = 128,
        sampler: str | Sampler | None = None, augment: Callable[[Tensor], Tensor] | None = None,
        device: str | torch.device | None = None, seed: int = 0, val: Split | None = None,
        masks: Masks | None = None, class_counts: np.ndarray | list[int] | None = None,
        checkpoint: str | os.PathLike | None = None, resume: bool = False, progress: bool = True,
        callback: Callable[[int, TrainHistory, nn.Module], bool | None] | None = None) -> TrainHistory:
    """Train ``model`` in place on ``train`` for ``epochs`` epochs; return the per-epoch history.

    Args:
        model: any ``nn.Module`` mapping a batch to logits ``(B, C)``. Moved to ``device`` and
            trained in place: copy it first if you need the original (or use :func:`finetune`).
        train: the training split.
        epochs: total number of epochs (with ``resume``, the epochs already done count).
        loss: a name from ``list_losses()``, a factory ``f(class_counts)`` or a module. Its
            ``set_epoch(epoch, epochs)`` hook, if any, runs before every epoch.
        optimizer: ``"adam"``, ``"adamw"``, ``"sgd"`` or ``callable(params) -> Optimizer``.
        lr, weight_decay, momentum: optimizer settings (``momentum`` is for SGD only).
        schedule: ``"none"``, ``"cosine"``, ``"step"`` or ``callable(epoch, epochs) -> factor``;
            the learning rate of epoch ``e`` is ``lr * factor(e)``.
        batch_size: items per step.
        sampler: ``None`` (shuffle), ``"balanced"`` (:class:`ClassBalancedSampler`) or a sampler.
        augment: ``callable(batch) -> batch`` applied to every training batch on the device.
        device: ``None`` picks ``cuda``, then ``mps``, then ``cpu``.
        seed: seeds everything; the same seed gives the same weights on the CPU.
        val: if given, accuracy and balanced accuracy are recorded after every epoch.
        masks: parameter name -> bool tensor (True = kept), or ``(out_channels,)`` filter flags.
            Pruned weights are zero before training and stay exactly zero. Filter-level
            :class:`~labkit.pruning.Masks` also hold the removed filters' bias and paired
            BatchNorm at zero (:func:`~labkit.pruning.expand_masks`); a plain dict of
            ``(out_channels,)`` flags covers only the parameters it names.
        class_counts: training count per class for long-tail losses (default: counted from
            ``train``; pass ``data.class_counts`` to be explicit).
        checkpoint: a ``.safetensors`` path rewritten after every epoch.
        resume: continue from ``checkpoint`` if it exists (a fresh start otherwise).
        progress: show a tqdm bar over epochs.
        callback: ``callback(epoch, history, model)`` after every epoch (and after the
            checkpoint); return ``True`` to stop early.
    """
    if not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative int, got {epochs!r}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr}")
    epochs, batch_size, lr = int(epochs), int(batch_size), float(lr)
    weight_decay, momentum = float(weight_decay), float(momentum)
    if len(train) == 0:
        raise ValueError("the training split is empty")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint=<path> to resume from")
    dev = resolve_device(device)
    seed_everything(seed)
    model.to(dev)
    was_training = model.training

    # One probe forward (eval mode, no gradient) creates lazy layers before the optimizer sees
    # the parameters, and tells us the number of classes.
    model.eval()
    with torch.no_grad():
        num_classes = int(model(_first_input(train).to(dev)).shape[1])
    model.train(was_training)
    if int(train.targets.max()) >= num_classes:
        raise ValueError(f"the model has {num_classes} outputs but the labels go up to "
                         f"{int(train.targets.max())}; build the model with num_classes="
                         f"{int(train.targets.max()) + 1}")
    counts = np.asarray(class_counts if class_counts is not None else train.class_counts(num_classes))
    if counts.shape != (num_classes,):
        raise ValueError(f"class_counts has shape {counts.shape}, expected ({num_classes},)")
    criterion = make_loss(loss, counts).to(dev)
    if getattr(criterion, "expects_cosine_logits", False) and getattr(criterion, "s", 1.0) != 1.0 \
            and not any(isinstance(m, NormedLinear) for m in model.modules()):
        warnings.warn("LDAM's scale s assumes cosine logits but the model has a plain linear head; "
                      "use labkit.training.with_normed_head(model) or pass an LDAMLoss(counts, s=1)",
                      stacklevel=2)

    if masks is not None and getattr(masks, "granularity", None) == "filter":
        from ..pruning.apply import expand_masks  # a removed filter's bias and BN stay zero too

        masks = expand_masks(model, masks)
    masked = _prepare_masks(model, masks) if masks is not None else []
    _reapply(masked)
    opt = make_optimizer(optimizer, [p for p in model.parameters() if p.requires_grad], lr=lr,
                         weight_decay=weight_decay, momentum=momentum)
    base_lrs = [g["lr"] for g in opt.param_groups]
    lr_factor = get_schedule(schedule)
    sampler_name = _name(sampler)
    if isinstance(sampler, str):
        if sampler != "balanced":
            raise ValueError(f"unknown sampler {sampler!r}; use None (shuffle), 'balanced' or a Sampler")
        sampler = ClassBalancedSampler(train.targets, seed=seed)

    config = {"epochs": epochs, "loss": _name(loss), "optimizer": _name(optimizer), "lr": lr,
              "weight_decay": weight_decay, "momentum": momentum, "schedule": _name(schedule),
              "batch_size": batch_size, "sampler": sampler_name,
              "augment": _name(augment), "seed": seed, "masked": sorted(n for n, _, _ in masked),
              "class_counts": [int(c) for c in counts], "n_train": len(train)}
    history = TrainHistory(config=config)
    start = 0
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if resume and ckpt is not None and ckpt.exists():
        state = load_train_state(ckpt)
        saved = state.meta.get("config", {})
        diff = [k for k in config if k != "epochs" and saved.get(k) != config[k]]
        if diff:
            raise ValueError(f"{ckpt} was written by a run with different settings "
                             f"({', '.join(f'{k}: {saved.get(k)!r} -> {config[k]!r}' for k in diff)}); "
                             "use the same settings, another checkpoint path, or resume=False")
        model.load_state_dict(state.model, strict=True)
        opt.load_state_dict(state.optimizer)
        history = TrainHistory.from_dict(state.meta["history"])
        history.config = config
        start = int(state.meta["epoch"])
        _reapply(masked)

    has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    ctx = current()  # under torchrun: DistributedDataParallel, each rank a slice of every global batch
    rank, world = (ctx.rank, ctx.world) if ctx is not None else (0, 1)
    swaps = sync_batchnorm(model) if ctx is not None and dev.type == "cuda" else []
    net = (nn.parallel.DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
           if ctx is not None else model)
    in_memory = train.in_memory
    if in_memory:
        x_all, y_all = train.tensors(dev)
    bar = None
    if progress and start < epochs and rank == 0:
        from tqdm.auto import tqdm  # lazy: `import labkit` needs no tqdm
        bar = tqdm(total=epochs, initial=start, desc="fit", unit="epoch")
    try:
        for epoch in range(start, epochs):
            t0 = time.perf_counter()
            gen = seed_everything(_epoch_seed(seed, epoch))
            factor = float(lr_factor(epoch, epochs))
            for g, base in zip(opt.param_groups, base_lrs):
                g["lr"] = base * factor
            if hasattr(criterion, "set_epoch"):
                criterion.set_epoch(epoch, epochs)
            if sampler is not None and hasattr(sampler, "set_epoch"):
                sampler.set_epoch(epoch)
            if isinstance(sampler, ClassBalancedSampler):
                order = torch.from_numpy(sampler.indices(epoch))
            elif sampler is not None:
                order = torch.as_tensor(list(sampler), dtype=torch.long)
            else:
                order = torch.randperm(len(train), generator=gen)
            batches: Any = (_tensor_batches(x_all, y_all, order, batch_size, rank, world) if in_memory
                            else _loader_batches(train.dataset, order, batch_size, rank, world))

            model.train()
            total, seen = 0.0, 0
            for xb, yb, n_global in batches:
                if n_global // world < (2 if has_bn else 1):
                    continue  # BatchNorm cannot normalise one item in training mode; every rank skips alike
                xb, yb = xb.to(dev, non_blocking=True), torch.as_tensor(yb).to(dev, non_blocking=True)
                if augment is not None:
                    xb = augment(xb)
                opt.zero_grad(set_to_none=True)
                value = criterion(net(xb), yb)
                if not torch.isfinite(value):
                    raise FloatingPointError(f"the loss became {float(value.detach())} in epoch {epoch}; "
                                             f"lower lr (now {lr}) or check the inputs for NaN")
                # DDP averages the ranks' gradients: weigh each slice by its share of the global batch.
                (value * (world * len(yb) / n_global) if world > 1 else value).backward()
                for _, p, m in masked:
                    if p.grad is not None:
                        p.grad.mul_(m)
                opt.step()
                _reapply(masked)
                total += float(value.detach()) * len(yb)
                seen += len(yb)

            if world > 1:
                total, seen = all_sum(total, seen, device=dev)
            acc, bal = _val_accuracy(model, val, dev, 1024) if val is not None else (math.nan, math.nan)
            history.append(epoch, total / max(seen, 1), opt.param_groups[0]["lr"], acc, bal,
                           time.perf_counter() - t0)
            if ckpt is not None and rank == 0:  # one writer; every rank holds the same weights
                save_train_state(ckpt, model, opt, {
                    "epoch": epoch + 1, "config": config, "seed": seed, "versions": versions(),
                    "history": asdict(history)})
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{history.loss[-1]:.4f}",
                                **({"val": f"{acc:.3f}"} if val is not None else {}))
            if callback is not None and callback(epoch, history, model):
                break
    finally:
        if bar is not None:
            bar.close()
        restore_batchnorm(swaps)
        model.train(was_training)
    return history


def finetune(model: nn.Module, train: Split, masks: Masks | None = None, **kwargs: Any) -> nn.Module:
    """Fine-tune a deep copy of ``model`` (under ``masks`` if given) and return it.

    ``model`` is never changed, so a dense reference stays a reference. Every parameter of
    the copy trains, even where ``model`` was frozen (``requires_grad=False``, as the lab keeps
    its dense model, and so every copy made from it, such as a compacted or slimmed network); to
    train only some layers, freeze them on your own copy and call :func:`fit`. Keyword arguments
    go to :func:`fit` (``epochs`` is required); the history is on ``.train_history``.

    Example:
        >>> pruned = finetune(dense, data.train, masks=masks, epochs=10, loss="ldam_drw")  # doctest: +SKIP
    """
    if "epochs" not in kwargs:
        raise TypeError("finetune needs epochs=<int>")
    work = copy.deepcopy(model).requires_grad_(True)
    work.train_history = fit(work, train, masks=masks, **kwargs)  # type: ignore[assignment]
    return work
