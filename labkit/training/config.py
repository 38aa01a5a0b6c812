"""``FitConfig``: how a model is trained, as one typed, frozen, documented value.

:func:`~labkit.training.fit` takes the model, the data and a ``FitConfig``; everything that
describes *how* to train (epochs, loss, optimizer, learning rate and schedule, batches, seed,
device) lives here, checked once when the config is made. What belongs to one run rather than
to a recipe (the validation split, masks, a checkpoint path, a callback) stays an argument of
``fit``. A config is immutable; derive variants with :func:`dataclasses.replace`::

    base = FitConfig(epochs=30, optimizer="sgd", lr=0.1, schedule="cosine", weight_decay=5e-4)
    short = replace(base, epochs=3)

:meth:`FitConfig.record` is what a run writes into its history and checkpoints; a resumed run
must record the same (the epoch count aside).

Example:
    >>> cfg = FitConfig(epochs=3, lr=1e-2, class_counts=np.array([5, 3]))
    >>> cfg.lr, cfg.class_counts, cfg.optimizer
    (0.01, (5, 3), 'adam')
    >>> FitConfig(epochs=-1)
    Traceback (most recent call last):
    ...
    ValueError: epochs must be a non-negative int, got -1
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Sampler

from ..runtime import AMP_MODES

__all__ = ["FitConfig", "LossSpec", "OptimizerSpec", "ScheduleSpec", "SamplerSpec"]

#: A loss name (``list_losses()``), a loss module, or a factory ``f(class_counts) -> module``.
LossSpec = str | nn.Module | Callable[..., nn.Module]
#: ``"adam"``, ``"adamw"``, ``"sgd"`` or ``f(params) -> Optimizer``.
OptimizerSpec = str | Callable[..., torch.optim.Optimizer]
#: ``"none"``, ``"cosine"``, ``"step"`` or ``f(epoch, epochs) -> learning-rate factor``.
ScheduleSpec = str | Callable[[int, int], float]
#: ``None`` (shuffle), ``"balanced"`` or a sampler.
SamplerSpec = str | Sampler | None


def describe(obj: Any) -> Any:
    """How a plug-in setting is recorded (names stay names, objects become their qualified name)."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return getattr(obj, "__qualname__", type(obj).__qualname__)


@dataclass(frozen=True)
class FitConfig:
    """A training recipe for :func:`~labkit.training.fit` (see the module docstring).

    Attributes:
        epochs: total number of epochs (with ``resume``, the epochs already done count).
        loss: a name from ``list_losses()``, a factory ``f(class_counts)`` or a module. Its
            ``set_epoch(epoch, epochs)`` hook, if any, runs before every epoch.
        optimizer: ``"adam"``, ``"adamw"``, ``"sgd"`` or ``callable(params) -> Optimizer``.
        lr: learning rate of epoch 0 (before the schedule's factor).
        weight_decay: the optimizer's weight decay.
        momentum: SGD's momentum (ignored by Adam).
        schedule: ``"none"``, ``"cosine"``, ``"step"`` or ``callable(epoch, epochs) -> factor``;
            the learning rate of epoch ``e`` is ``lr * factor(e)``.
        batch_size: items per step.
        sampler: ``None`` (shuffle), ``"balanced"`` (class-balanced resampling) or a sampler.
        augment: ``callable(batch) -> batch`` applied to every training batch on the device.
        seed: seeds everything; the same seed gives the same weights on the CPU.
        class_counts: training count per class, for long-tail losses (default: counted from
            the training split; pass ``data.class_counts`` to be explicit). Stored as a tuple.
        device: ``None`` picks ``cuda``, then ``mps``, then ``cpu``.
        progress: show a tqdm bar over epochs.
        amp: mixed precision (:func:`labkit.runtime.accelerate`): ``"auto"`` trains under bf16
            autocast on CUDA (fp16 with a ``GradScaler`` before Ampere) and in float32 on MPS
            and the CPU (bitwise as before); ``"off"``, ``"bf16"`` or ``"fp16"`` to choose.

    Raises:
        ValueError: a negative ``epochs``, a ``batch_size`` below 1, a ``lr`` that is not
            positive, an unknown sampler name, or ``class_counts`` that are not 1-D.
    """

    epochs: int
    loss: LossSpec = "ce"
    optimizer: OptimizerSpec = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    schedule: ScheduleSpec = "none"
    batch_size: int = 128
    sampler: SamplerSpec = None
    augment: Callable[[Tensor], Tensor] | None = None
    seed: int = 0
    class_counts: Sequence[int] | np.ndarray | None = None
    device: str | torch.device | None = None
    progress: bool = True
    amp: str = "auto"

    def __post_init__(self) -> None:
        if self.amp not in AMP_MODES:
            raise ValueError(f"amp must be one of {', '.join(AMP_MODES)}; got {self.amp!r}")
        if not isinstance(self.epochs, (int, np.integer)) or isinstance(self.epochs, bool) or self.epochs < 0:
            raise ValueError(f"epochs must be a non-negative int, got {self.epochs!r}")
        if not isinstance(self.batch_size, (int, np.integer)) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {self.batch_size!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if isinstance(self.sampler, str) and self.sampler != "balanced":
            raise ValueError(f"unknown sampler {self.sampler!r}; use None (shuffle), 'balanced' or a Sampler")
        counts = self.class_counts
        if counts is not None:
            arr = np.asarray(counts.cpu() if isinstance(counts, Tensor) else counts)
            if arr.ndim != 1:
                raise ValueError(f"class_counts must be one count per class (1-D), got shape {arr.shape}")
            counts = tuple(int(c) for c in arr)
        for name, value in (("epochs", int(self.epochs)), ("batch_size", int(self.batch_size)),
                            ("lr", float(self.lr)), ("weight_decay", float(self.weight_decay)),
                            ("momentum", float(self.momentum)), ("class_counts", counts)):
            object.__setattr__(self, name, value)

    def record(self, *, counts: np.ndarray, masked: list[str], n_train: int) -> dict[str, Any]:
        """The JSON-able description a run stores in its history and checkpoints.

        ``counts`` are the class counts actually used, ``masked`` the names of the masked
        parameters and ``n_train`` the size of the training split.
        """
        return {"epochs": self.epochs, "loss": describe(self.loss), "optimizer": describe(self.optimizer),
                "lr": self.lr, "weight_decay": self.weight_decay, "momentum": self.momentum,
                "schedule": describe(self.schedule), "batch_size": self.batch_size, "sampler": describe(self.sampler),
                "augment": describe(self.augment), "seed": self.seed, "masked": sorted(masked),
                "class_counts": [int(c) for c in counts], "n_train": n_train}
