"""Long-tail losses (docs/methods.md §1.2): each one a ``nn.Module`` built from the training class counts.

The auxiliary trainers of method 1 differ mainly in their loss. All of them are cross-entropy
on *adjusted* logits or with *per-class weights*; ``n_j`` is the training count of class ``j``,
``π_j = n_j / N`` its prior, ``C`` the number of classes and ``z`` the logits:

============================  ===================================================================
name                          loss
============================  ===================================================================
``ce``                        ``CE(z, y)``
``ce_drw``                    ``CE`` weighted by ``w_j = (1-β)/(1-β^{n_j})``, ``Σ w_j = C``, from
                              ``drw_epoch`` on (deferred re-weighting; Cao et al. 2019)
``balanced_softmax``          ``CE(z + log n, y)`` (Ren et al. 2020, arXiv 2007.10740)
``logit_adjusted``            ``CE(z + τ log π, y)`` (Menon et al. 2021, arXiv 2007.07314)
``ldam``                      ``CE(s·(z − m_y 1_y), y)``, ``m_j ∝ n_j^{-1/4}``, ``max m = 0.5``
``ldam_drw``                  ``ldam`` plus the deferred re-weighting of ``ce_drw``
============================  ===================================================================

Every loss has a ``set_epoch(epoch, total)`` hook; ``labkit.training.fit`` calls it at the start
of each epoch (0-based), which is how the DRW losses switch their weights on. Weighted losses
follow ``torch.nn.functional.cross_entropy(weight=w)``: the batch loss is
``Σ_i w_{y_i} ℓ_i / Σ_i w_{y_i}``, exactly as in the LDAM-DRW code (kaidic/LDAM-DRW ``losses.py``).

**LDAM and plain linear heads.** LDAM was designed for *cosine* logits: the original code feeds
it the output of a ``NormedLinear`` layer (normalised features times normalised class vectors,
values in [−1, 1]) and multiplies by ``s = 30``. This module applies the margin and the scale to
whatever logits it receives and does not change the model. For the faithful setting swap the
classifier with :func:`labkit.training.heads.with_normed_head`; with an ordinary linear head
pass ``s=1`` (the margins then act on raw logits). ``fit`` warns when an LDAM loss meets a model
without a ``NormedLinear``.

Example:
    >>> loss = get_loss("balanced_softmax")([50, 5])
    >>> z, y = torch.zeros(2, 2), torch.tensor([0, 1])
    >>> round(float(loss(z, y)), 4)  # mean of -log(50/55) and -log(5/55)
    1.2466
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._registry import Registry

__all__ = [
    "register_loss", "list_losses", "get_loss", "make_loss", "drw_weights", "ldam_margins",
    "LongTailLoss", "CrossEntropy", "CEDRW", "BalancedSoftmaxLoss", "LogitAdjustedLoss",
    "LDAMLoss", "LDAMDRWLoss",
]

_LOSSES: Registry[Callable[..., nn.Module]] = Registry("loss")


def register_loss(name: str) -> Callable:
    """Decorator: record a loss factory ``factory(class_counts, **kwargs) -> nn.Module``.

    Example:
        >>> @register_loss("my_focal")            # doctest: +SKIP
        ... class Focal(LongTailLoss): ...
    """
    return _LOSSES.register(name)


def list_losses() -> list[str]:
    """Names of the registered losses, sorted."""
    return _LOSSES.names()


def get_loss(name: str) -> Callable[..., nn.Module]:
    """The loss factory (class) registered as ``name``; call it with the class counts."""
    return _LOSSES.get(name)


def make_loss(loss: str | nn.Module | Callable[..., nn.Module],
              class_counts: Sequence[int] | np.ndarray | Tensor | None = None,
              **kwargs: Any) -> nn.Module:
    """Turn a name, a factory or a ready module into a loss module.

    Example:
        >>> make_loss("ce")
        CrossEntropy()
    """
    if isinstance(loss, nn.Module):
        if kwargs:
            raise ValueError(f"loss options {sorted(kwargs)} are for named losses; "
                             "configure your loss module before passing it")
        return loss
    factory = get_loss(loss) if isinstance(loss, str) else loss
    if not callable(factory):
        raise TypeError(f"loss must be a name ({', '.join(list_losses())}), an nn.Module or a "
                        f"factory, got {type(loss).__name__}")
    return factory(class_counts, **kwargs)


def _counts(class_counts: Sequence[int] | np.ndarray | Tensor | None, loss: str) -> np.ndarray:
    """Validate class counts: a 1-D array of positive numbers (every class must be seen)."""
    if class_counts is None:
        raise ValueError(f"the {loss!r} loss needs the training class counts; pass "
                         "class_counts=data.class_counts (or split.class_counts(C))")
    n = np.asarray(torch.as_tensor(class_counts).cpu().numpy() if isinstance(class_counts, Tensor)
                   else class_counts, dtype=np.float64)
    if n.ndim != 1 or len(n) < 1:
        raise ValueError(f"class_counts must be 1-D with one entry per class, got shape {n.shape}")
    if not np.all(np.isfinite(n)) or np.any(n <= 0):
        bad = np.flatnonzero(~(np.isfinite(n) & (n > 0))).tolist()
        raise ValueError(f"the {loss!r} loss needs a positive count for every class; classes {bad} "
                         "have none. Drop those classes or use loss='ce'")
    return n


def drw_weights(class_counts: Sequence[int] | np.ndarray, beta: float = 0.9999) -> np.ndarray:
    """Class-balanced weights ``w_j = (1-β)/(1-β^{n_j})`` rescaled so ``Σ w_j = C``.

    ``(1-β^n)/(1-β)`` is the "effective number" of samples of Cui et al. 2019 (arXiv
    1901.05555); its inverse up-weights rare classes, roughly like ``1/n_j`` when β → 1.

    Example:
        >>> drw_weights([100, 1], beta=0.5).round(3).tolist()
        [0.667, 1.333]
        >>> drw_weights([3, 1], beta=0.9999).round(3).tolist()
        [0.5, 1.5]
    """
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    n = _counts(class_counts, "drw")
    w = (1.0 - beta) / (1.0 - np.power(beta, n))
    return w / w.sum() * len(n)


def ldam_margins(class_counts: Sequence[int] | np.ndarray, max_m: float = 0.5) -> np.ndarray:
    """LDAM margins ``m_j ∝ n_j^{-1/4}``, rescaled so the rarest class gets ``max_m``.

    Example:
        >>> ldam_margins([16, 1]).tolist()
        [0.25, 0.5]
    """
    if max_m <= 0:
        raise ValueError(f"max_m must be positive, got {max_m}")
    m = _counts(class_counts, "ldam") ** -0.25
    return m * (max_m / m.max())


class LongTailLoss(nn.Module):
    """Base class: a loss built from class counts, with the ``set_epoch`` hook ``fit`` calls."""

    #: LDAM-style losses set this: their scale ``s`` assumes cosine logits (see module doc).
    expects_cosine_logits: bool = False

    def set_epoch(self, epoch: int, total: int) -> None:
        """Called by ``fit`` before epoch ``epoch`` (0-based) of ``total``; default: nothing."""


class _DRW(nn.Module):
    """Deferred re-weighting: per-class weights switched on from ``drw_epoch`` (mixin)."""

    drw_w: Tensor  # buffer: the class-balanced weights of :func:`drw_weights`

    def _init_drw(self, n: np.ndarray, beta: float, drw_epoch: int | None, drw_fraction: float) -> None:
        if drw_epoch is not None and drw_epoch < 0:
            raise ValueError(f"drw_epoch must be >= 0, got {drw_epoch}")
        if not 0.0 <= drw_fraction <= 1.0:
            raise ValueError(f"drw_fraction is a fraction of the epochs in [0, 1], got {drw_fraction}")
        self.beta, self.drw_epoch, self.drw_fraction = beta, drw_epoch, drw_fraction
        self.register_buffer("drw_w", torch.as_tensor(drw_weights(n, beta), dtype=torch.float32))
        self.drw_active = False  # off until set_epoch reaches drw_epoch (LDAM-DRW: epoch 160 of 200)

    def drw_start(self, total: int) -> int:
        """The first weighted epoch: ``drw_epoch`` or ``int(drw_fraction * total)``."""
        return self.drw_epoch if self.drw_epoch is not None else int(self.drw_fraction * total)

    def set_epoch(self, epoch: int, total: int) -> None:
        self.drw_active = epoch >= self.drw_start(total)

    def _weight(self) -> Tensor | None:
        return self.drw_w if self.drw_active else None


@register_loss("ce")
class CrossEntropy(LongTailLoss):
    """Plain cross-entropy ``CE(z, y)``; takes (and ignores) the class counts for a uniform API."""

    def __init__(self, class_counts: Sequence[int] | np.ndarray | None = None) -> None:
        super().__init__()

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(logits, target)


@register_loss("ce_drw")
class CEDRW(_DRW, LongTailLoss):
    """Cross-entropy with deferred re-weighting (Cao et al. 2019, arXiv 1906.07413).

    Unweighted until epoch ``drw_epoch`` (default ``int(0.8 * total)``), then weighted by
    :func:`drw_weights` (β = 0.9999).
    """

    def __init__(self, class_counts: Sequence[int] | np.ndarray, beta: float = 0.9999,
                 drw_epoch: int | None = None, drw_fraction: float = 0.8) -> None:
        super().__init__()
        self._init_drw(_counts(class_counts, "ce_drw"), beta, drw_epoch, drw_fraction)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(logits, target, weight=self._weight())


@register_loss("balanced_softmax")
class BalancedSoftmaxLoss(LongTailLoss):
    """Balanced Softmax ``CE(z + log n, y)`` (Ren et al. 2020, arXiv 2007.10740).

    Adding the log prior during training makes the *plain* logits estimate the balanced
    posterior, so the model is used without adjustment at test time.
    """

    log_n: Tensor  # buffer: log class counts

    def __init__(self, class_counts: Sequence[int] | np.ndarray) -> None:
        super().__init__()
        n = _counts(class_counts, "balanced_softmax")
        self.register_buffer("log_n", torch.as_tensor(np.log(n), dtype=torch.float32))

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(logits + self.log_n, target)


@register_loss("logit_adjusted")
class LogitAdjustedLoss(LongTailLoss):
    """Logit-adjusted loss ``CE(z + τ log π, y)``, ``π = n/N`` (Menon et al. 2021, arXiv 2007.07314).

    With ``τ = 1`` it equals Balanced Softmax: ``log π = log n − log N`` and a constant added
    to every logit leaves the softmax unchanged. ``τ`` tunes the strength of the adjustment.
    """

    log_prior: Tensor  # buffer: log class priors log(n / N)

    def __init__(self, class_counts: Sequence[int] | np.ndarray, tau: float = 1.0) -> None:
        super().__init__()
        n = _counts(class_counts, "logit_adjusted")
        self.tau = float(tau)
        self.register_buffer("log_prior", torch.as_tensor(np.log(n / n.sum()), dtype=torch.float32))

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(logits + self.tau * self.log_prior, target)


@register_loss("ldam")
class LDAMLoss(LongTailLoss):
    """Label-distribution-aware margin loss (Cao et al. 2019, arXiv 1906.07413).

    ``L = CE(s·(z − m_y 1_y), y)``: the true-class logit is lowered by a margin that is larger
    for rare classes (``m_j ∝ n_j^{-1/4}``, :func:`ldam_margins`), forcing a wider margin for
    them. ``s = 30`` assumes cosine logits in [−1, 1]; see the module docstring for plain heads.
    """

    expects_cosine_logits = True
    margins: Tensor  # buffer: the per-class margins of :func:`ldam_margins`

    def __init__(self, class_counts: Sequence[int] | np.ndarray, max_m: float = 0.5,
                 s: float = 30.0) -> None:
        super().__init__()
        if s <= 0:
            raise ValueError(f"the LDAM scale s must be positive, got {s}")
        self.s, self.max_m = float(s), float(max_m)
        self.register_buffer("margins", torch.as_tensor(ldam_margins(
            _counts(class_counts, "ldam"), max_m), dtype=torch.float32))

    def _weight(self) -> Tensor | None:
        return None

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        if logits.shape[1] != len(self.margins):
            raise ValueError(f"LDAM was built for {len(self.margins)} classes but the logits have "
                             f"{logits.shape[1]} columns")
        one_hot = F.one_hot(target, logits.shape[1]).to(logits.dtype)
        adjusted = logits - one_hot * self.margins[target].unsqueeze(1)
        return F.cross_entropy(self.s * adjusted, target, weight=self._weight())


@register_loss("ldam_drw")
class LDAMDRWLoss(_DRW, LDAMLoss):
    """LDAM with deferred re-weighting: the combination Cao et al. recommend (``LDAM-DRW``)."""

    def __init__(self, class_counts: Sequence[int] | np.ndarray, max_m: float = 0.5,
                 s: float = 30.0, beta: float = 0.9999, drw_epoch: int | None = None,
                 drw_fraction: float = 0.8) -> None:
        super().__init__(class_counts, max_m=max_m, s=s)
        self._init_drw(_counts(class_counts, "ldam_drw"), beta, drw_epoch, drw_fraction)

    def _weight(self) -> Tensor | None:
        return _DRW._weight(self)
