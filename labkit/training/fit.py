"""Training loops: ``fit`` trains a model in place, ``finetune`` trains a copy under fixed masks.

``fit(model, split, FitConfig(epochs=...))`` is the one loop every part of labkit uses: the
dense baseline ``θ0``, the auxiliary trainers of method 1 (a loss, a sampler, an augmentation
and a seed; docs/methods.md §1.2) and the mask-preserving fine-tuning after pruning (§1.5).
The recipe is a :class:`~labkit.training.config.FitConfig`; the run's own inputs (validation
split, masks, checkpoint, callback) are arguments.

What it takes care of:

* **Speed.** An in-memory split (``Split.from_tensors``, the embedded digits) is batched by
  indexing tensors that live on the device, with no ``DataLoader``; other splits stream
  through ``DataLoader`` (:mod:`labkit.training.batching`).
* **Masks stay masks.** Pruned weights are zero before training and stay exactly zero
  (:mod:`labkit.training.masking`).
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
    >>> hist = fit(net, Split.from_tensors(x, y), FitConfig(epochs=3, progress=False))
    >>> hist.to_frame().columns.tolist()[:3]
    ['epoch', 'loss', 'lr']
"""
from __future__ import annotations

import copy
import math
import os
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Sampler

from ..data import Split
from ..errors import MismatchError
from ..runtime import DevicePolicy, accelerate, resolve_device, seed_everything, versions
from .batching import epoch_order, first_input, loader_batches, tensor_batches, val_accuracy
from .checkpoint import load_train_state, save_train_state
from .config import FitConfig
from .distributed import all_sum, current, restore_batchnorm, sync_batchnorm
from .heads import NormedLinear
from .history import TrainHistory
from .losses import make_loss
from .masking import MaskedParam, MaskLike, mask_gradients, prepare_masks, reapply
from .optim import get_schedule, make_optimizer
from .samplers import ClassBalancedSampler

__all__ = ["fit", "finetune", "FitConfig", "TrainHistory", "Callback"]

#: ``callback(epoch, history, model)`` after every epoch; returning True stops the run.
Callback = Callable[[int, TrainHistory, nn.Module], bool | None]


@runtime_checkable
class _EpochAware(Protocol):
    """A loss with the ``set_epoch(epoch, total)`` hook (:class:`~labkit.training.losses.LongTailLoss`)."""

    def set_epoch(self, epoch: int, total: int) -> None: ...


def fit(model: nn.Module, train: Split, config: FitConfig, *, val: Split | None = None,
        masks: MaskLike | None = None, checkpoint: str | os.PathLike | None = None, resume: bool = False,
        callback: Callback | None = None) -> TrainHistory:
    """Train ``model`` in place on ``train`` as ``config`` says; return the per-epoch history.

    Args:
        model: any ``nn.Module`` mapping a batch to logits ``(B, C)``. Moved to
            ``config.device`` and trained in place: copy it first if you need the original
            (or use :func:`finetune`).
        train: the training split.
        config: the recipe (:class:`FitConfig`: epochs, loss, optimizer, lr, schedule, batches,
            sampler, augmentation, seed, class counts, device, progress bar).
        val: if given, accuracy and balanced accuracy are recorded after every epoch.
        masks: parameter name -> bool tensor (True = kept), or ``(out_channels,)`` filter flags.
            Pruned weights are zero before training and stay exactly zero
            (:func:`~labkit.training.masking.prepare_masks`).
        checkpoint: a ``.safetensors`` path rewritten after every epoch.
        resume: continue from ``checkpoint`` if it exists (a fresh start otherwise); the
            checkpoint must have been written with the same config (the epoch count aside).
        callback: ``callback(epoch, history, model)`` after every epoch (and after the
            checkpoint); return ``True`` to stop early.
    """
    if not isinstance(config, FitConfig):
        raise TypeError(f"config must be a FitConfig, e.g. FitConfig(epochs=10); got {type(config).__name__}")
    if len(train) == 0:
        raise ValueError("the training split is empty")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint=<path> to resume from")
    policy = accelerate(resolve_device(config.device), config.amp)  # AMP, channels_last, pinning: CUDA only
    dev = policy.device
    seed_everything(config.seed)
    policy.module(model)
    was_training = model.training
    num_classes = _probe_classes(model, train, dev)
    counts = np.asarray(config.class_counts if config.class_counts is not None else train.class_counts(num_classes))
    if counts.shape != (num_classes,):
        raise ValueError(f"class_counts has shape {counts.shape}, expected ({num_classes},)")
    criterion = _make_criterion(model, config, counts, dev)
    masked = prepare_masks(model, masks)
    reapply(masked)
    opt = make_optimizer(config.optimizer, [p for p in model.parameters() if p.requires_grad], lr=config.lr,
                         weight_decay=config.weight_decay, momentum=config.momentum)
    run = _Run(model, model, opt, [g["lr"] for g in opt.param_groups], get_schedule(config.schedule), criterion,
               masked, _make_sampler(config.sampler, train, config.seed), config, dev,
               has_bn=any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()),
               policy=policy, scaler=policy.grad_scaler())
    record = config.record(counts=counts, masked=[n for n, _, _ in masked], n_train=len(train))
    if policy.amp != "off":  # float32 runs record nothing new, so their checkpoints still resume
        record["amp"] = policy.amp
    history = TrainHistory(config=record)
    ckpt = Path(checkpoint) if checkpoint is not None else None
    start = 0
    if resume and ckpt is not None and ckpt.exists():
        history, start = _resume(run, ckpt, history.config)

    ctx = current()  # under torchrun: DistributedDataParallel, each rank a slice of every global batch
    run.rank, run.world = (ctx.rank, ctx.world) if ctx is not None else (0, 1)
    swaps = sync_batchnorm(model) if ctx is not None and dev.type == "cuda" else []
    if ctx is not None:
        run.net = nn.parallel.DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    data = train.tensors(dev) if train.in_memory else None
    bar = _progress_bar(config, start) if run.rank == 0 else None
    try:
        for epoch in range(start, config.epochs):
            t0 = time.perf_counter()
            loss = _train_epoch(run, train, data, epoch)
            acc, bal = val_accuracy(model, val, policy, 1024) if val is not None else (math.nan, math.nan)
            history.append(epoch, loss, opt.param_groups[0]["lr"], acc, bal, time.perf_counter() - t0)
            if ckpt is not None and run.rank == 0:  # one writer; every rank holds the same weights
                save_train_state(ckpt, model, opt, {"epoch": epoch + 1, "config": history.config, "seed": config.seed,
                                                    "versions": versions(), "history": asdict(history)})
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{history.loss[-1]:.4f}", **({"val": f"{acc:.3f}"} if val is not None else {}))
            if callback is not None and callback(epoch, history, model):
                break
    finally:
        if bar is not None:
            bar.close()
        restore_batchnorm(swaps)
        model.train(was_training)
    return history


def finetune(model: nn.Module, train: Split, config: FitConfig, *, masks: MaskLike | None = None,
             val: Split | None = None, callback: Callback | None = None) -> nn.Module:
    """Fine-tune a deep copy of ``model`` (under ``masks`` if given) and return it.

    ``model`` is never changed, so a dense reference stays a reference. Every parameter of
    the copy trains, even where ``model`` was frozen (``requires_grad=False``, as the lab keeps
    its dense model, and so every copy made from it, such as a compacted or slimmed network); to
    train only some layers, freeze them on your own copy and call :func:`fit`. The history is on
    ``.train_history``.

    Example:
        >>> pruned = finetune(dense, data.train, FitConfig(epochs=10, loss="ldam_drw"), masks=masks)  # doctest: +SKIP
    """
    work = copy.deepcopy(model).requires_grad_(True)
    work.train_history = fit(work, train, config, val=val, masks=masks, callback=callback)  # type: ignore[assignment]
    return work


# --- the pieces of a run ------------------------------------------------------------------------------
@dataclass
class _Run:
    """What every epoch of one run uses (``net`` is ``model`` wrapped for DDP under torchrun)."""

    model: nn.Module
    net: nn.Module
    opt: torch.optim.Optimizer
    base_lrs: list[float]
    lr_factor: Callable[[int, int], float]
    criterion: nn.Module
    masked: list[MaskedParam]
    sampler: Sampler | None
    config: FitConfig
    device: torch.device
    has_bn: bool = False
    rank: int = 0
    world: int = 1
    policy: DevicePolicy | None = None
    scaler: torch.amp.GradScaler | None = None


def _epoch_seed(seed: int, epoch: int) -> int:
    """A well-mixed 32-bit seed for epoch ``epoch`` of a run seeded with ``seed``."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def _probe_classes(model: nn.Module, train: Split, dev: torch.device) -> int:
    """The model's number of outputs, from one forward pass in eval mode; checks the labels fit.

    The probe also creates lazily sized layers before the optimizer sees the parameters.
    """
    was = model.training
    model.eval()
    with torch.no_grad():
        num_classes = int(model(first_input(train).to(dev)).shape[1])
    model.train(was)
    if int(train.targets.max()) >= num_classes:
        raise ValueError(f"the model has {num_classes} outputs but the labels go up to "
                         f"{int(train.targets.max())}; build the model with num_classes="
                         f"{int(train.targets.max()) + 1}")
    return num_classes


def _make_criterion(model: nn.Module, config: FitConfig, counts: np.ndarray, dev: torch.device) -> nn.Module:
    """The loss module on ``dev``; warns when LDAM's scale meets a plain linear head."""
    criterion = make_loss(config.loss, counts).to(dev)
    if getattr(criterion, "expects_cosine_logits", False) and getattr(criterion, "s", 1.0) != 1.0 \
            and not any(isinstance(m, NormedLinear) for m in model.modules()):
        warnings.warn("LDAM's scale s assumes cosine logits but the model has a plain linear head; "
                      "use labkit.training.with_normed_head(model) or pass an LDAMLoss(counts, s=1)",
                      stacklevel=3)
    return criterion


def _make_sampler(spec: str | Sampler | None, train: Split, seed: int) -> Sampler | None:
    """``"balanced"`` becomes a seeded :class:`ClassBalancedSampler`; samplers and ``None`` pass through."""
    return ClassBalancedSampler(train.targets, seed=seed) if isinstance(spec, str) else spec


def _resume(run: _Run, ckpt: Path, record: dict[str, Any]) -> tuple[TrainHistory, int]:
    """Load weights, optimizer and history from ``ckpt``; refuse a checkpoint of other settings."""
    state = load_train_state(ckpt)
    saved = state.meta.get("config", {})
    diff = [k for k in record if k != "epochs" and saved.get(k) != record[k]]
    if diff:
        raise ValueError(f"{ckpt} was written by a run with different settings "
                         f"({', '.join(f'{k}: {saved.get(k)!r} -> {record[k]!r}' for k in diff)}); "
                         "use the same settings, another checkpoint path, or resume=False")
    done = int(state.meta["epoch"])
    if done > run.config.epochs:  # never claim fewer epochs than were trained (the run state is kept)
        raise MismatchError(f"{ckpt} has {done} epochs done, more than epochs={run.config.epochs}; pass epochs={done} "
                            f"or more, or another checkpoint path to start a new run")
    run.model.load_state_dict(state.model, strict=True)
    run.opt.load_state_dict(state.optimizer)
    history = TrainHistory.from_dict(state.meta["history"])
    history.config = record
    reapply(run.masked)
    return history, int(state.meta["epoch"])


def _progress_bar(config: FitConfig, start: int) -> Any:
    if not config.progress or start >= config.epochs:
        return None
    from tqdm.auto import tqdm  # lazy: `import labkit` needs no tqdm

    return tqdm(total=config.epochs, initial=start, desc="fit", unit="epoch")


def _start_epoch(run: _Run, epoch: int) -> torch.Generator:
    """Re-seed everything from ``(seed, epoch)``, set the epoch's learning rate and loss phase."""
    cfg = run.config
    gen = seed_everything(_epoch_seed(cfg.seed, epoch))
    factor = float(run.lr_factor(epoch, cfg.epochs))
    for g, base in zip(run.opt.param_groups, run.base_lrs):
        g["lr"] = base * factor
    if isinstance(run.criterion, _EpochAware):  # has a set_epoch attribute
        run.criterion.set_epoch(epoch, cfg.epochs)
    return gen


def _train_epoch(run: _Run, train: Split, data: tuple[Tensor, Tensor] | None, epoch: int) -> float:
    """One pass over ``train`` (tensors ``data`` when in memory); returns the mean training loss."""
    cfg = run.config
    gen = _start_epoch(run, epoch)
    order = epoch_order(run.sampler, len(train), epoch, gen)
    batches: Iterator[tuple[Any, Any, int]] = (
        tensor_batches(data[0], data[1], order, cfg.batch_size, run.rank, run.world) if data is not None
        else loader_batches(train.dataset, order, cfg.batch_size, run.rank, run.world,
                            pin_memory=run.policy is not None and run.policy.pin_memory))
    run.model.train()
    total = 0.0
    seen: float = 0  # items; a float once summed over the ranks
    for xb, yb, n_global in batches:
        if n_global // run.world < (2 if run.has_bn else 1):
            continue  # BatchNorm cannot normalise one item in training mode; every rank skips alike
        value, n = _step(run, xb, yb, n_global, epoch)
        total += value * n
        seen += n
    if run.world > 1:
        total, seen = all_sum(total, seen, device=run.device)
    return total / max(seen, 1)


def _step(run: _Run, xb: Any, yb: Any, n_global: int, epoch: int) -> tuple[float, int]:
    """One optimizer step on a batch; returns ``(loss, items)``. Masks are held before and after."""
    dev, cfg = run.device, run.config
    policy = run.policy if run.policy is not None else DevicePolicy(dev)
    xb, yb = xb.to(dev, non_blocking=True), torch.as_tensor(yb).to(dev, non_blocking=True)
    if cfg.augment is not None:
        xb = cfg.augment(xb)
    xb = policy.batch(xb)  # channels-last on CUDA; already on the device
    run.opt.zero_grad(set_to_none=True)
    with policy.autocast():  # bf16/fp16 on CUDA; a no-op in float32
        value = run.criterion(run.net(xb), yb)
    if not torch.isfinite(value):
        raise FloatingPointError(f"the loss became {float(value.detach())} in epoch {epoch}; "
                                 f"lower lr (now {cfg.lr}) or check the inputs for NaN")
    # DDP averages the ranks' gradients: weigh each slice by its share of the global batch.
    scaled = value * (run.world * len(yb) / n_global) if run.world > 1 else value
    scaler = run.scaler
    if scaler is not None and scaler.is_enabled():  # fp16: scale the loss, skip steps whose grads overflow
        scaler.scale(scaled).backward()
        mask_gradients(run.masked)
        scaler.step(run.opt)
        scaler.update()
    else:
        scaled.backward()
        mask_gradients(run.masked)
        run.opt.step()
    reapply(run.masked)
    return float(value.detach()), len(yb)
