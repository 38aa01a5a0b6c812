"""Auxiliary trainers (docs/methods.md §1.2) [inferred]: several fine-tunes of one dense start, one mask each.

Method 1 (long-tail-aware pruning, NCU 2025) says only that "diverse auxiliary trainers
generate several candidate masks". Which trainers, and how, is **our [inferred] design**, an
option of the lab, not the thesis author's exact method:

* a trainer is a tuple ``(loss, sampler, augmentation, seed)`` (:class:`Trainer`);
* every trainer fine-tunes the **same** dense checkpoint ``θ0`` for ``E_aux`` epochs, giving
  ``θ_k`` (:func:`train_auxiliary`);
* ``θ_k`` is scored, ``S_k = |θ_k|`` by default, or first-order Taylor
  ``S_k = |θ_k ⊙ ∇L(θ_k)|`` on a *class-balanced* calibration set of 10 images per class
  (:func:`calibration_set`), so tail classes weigh as much as head classes in the gradient;
* a layer allocation turns ``S_k`` into a candidate mask ``M_k``
  (:meth:`TrainerResult.candidate_mask`).

**Why one common start.** Weight ``i`` of two networks means the same thing only if both
descend from the same initial weights. Masks of independently initialised networks are not
position-aligned (their hidden units are permuted copies at best) and a vote over them is
meaningless. So every result and every candidate mask records the fingerprint of the start it
was fine-tuned from (:func:`fingerprint`, a SHA-256 of ``θ0``'s state), and
:func:`check_common_start` refuses a merge across different starts.

Registered trainers (strict registry; §1.2's default set is :data:`DEFAULT_TRAINERS`):

==================  =====================================================================
name                what it trains with
==================  =====================================================================
``ce``              cross-entropy, shuffled batches
``ce_drw``          CE with deferred re-weighting (on at 80% of the epochs; Cao et al. 2019)
``balanced_softmax``  ``CE(z + log n, y)`` (Ren et al. 2020)
``ldam_drw``        LDAM margins + DRW on a cosine head (``s = 30``; Cao et al. 2019)
``logit_adjusted``  ``CE(z + τ log π, y)``, τ = 1 (Menon et al. 2021)
``cb_resample``     CE on class-balanced resampled batches (Kang et al. 2020)
==================  =====================================================================

Merge weights (§1.4): ``α_k = softmax_k(τ · a_k)`` with ``a_k`` the balanced validation
accuracy of ``θ_k ⊙ M_k`` (:func:`candidate_accuracy`, :func:`merge_weights`); ``τ = 20`` by
default, ``τ = 0`` is a plain vote; or set the weights by hand.

Example:
    >>> theta0 = load_model("tiny_cnn", num_classes=10, in_channels=1)          # doctest: +SKIP
    >>> res = train_auxiliary(theta0, get_trainer("balanced_softmax"), data.train,
    ...                       FitConfig(epochs=10, class_counts=data.class_counts))  # doctest: +SKIP
    >>> m = res.candidate_mask(allocate(res.scores, 0.3, mode="layered"))       # doctest: +SKIP
    >>> m.meta["init_fingerprint"] == fingerprint(theta0)                       # doctest: +SKIP
    True
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .._registry import Registry
from ..analysis.evaluate import evaluate
from ..criteria import Scores, score
from ..data._base import Split
from ..pruning import Masks, apply_masks, make_masks
from .config import FitConfig
from .fit import fit
from .heads import with_normed_head
from .history import TrainHistory
from .losses import get_loss

__all__ = [
    "Trainer", "TrainerResult", "DEFAULT_TRAINERS", "register_trainer", "get_trainer", "list_trainers",
    "fingerprint", "calibration_set", "train_auxiliary", "check_common_start", "candidate_accuracy",
    "merge_weights", "soup",
]

SCORE_CRITERIA = ("magnitude", "taylor")


@dataclass(frozen=True)
class Trainer:
    """One auxiliary trainer: ``(loss, sampler, augmentation, seed)`` plus its head choice.

    Attributes:
        name: registry name, also the label in tables and views.
        loss: a registered loss name (``labkit.training.list_losses()``).
        sampler: ``None`` (shuffled batches) or ``"balanced"`` (class-balanced resampling).
        augment: ``callable(batch) -> batch`` applied to each training batch, or ``None``.
        seed: seeds the fine-tune (batch order, augmentation); :meth:`seeded` makes a copy.
        loss_options: extra loss keywords as ``(("tau", 1.0),)`` pairs (kept hashable).
        normed_head: swap the classifier for a cosine head first
            (:func:`~labkit.training.with_normed_head`), as LDAM's ``s = 30`` assumes.
    """

    name: str
    loss: str
    sampler: str | None = None
    augment: Callable[[Tensor], Tensor] | None = None
    seed: int = 0
    loss_options: tuple[tuple[str, Any], ...] = ()
    normed_head: bool = False

    def __post_init__(self) -> None:
        get_loss(self.loss)  # unknown loss -> KeyError with close matches, at definition time
        if self.sampler not in (None, "balanced"):
            raise ValueError(f"trainer {self.name!r}: sampler must be None or 'balanced', got {self.sampler!r}")
        if not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"trainer {self.name!r}: seed must be a non-negative int, got {self.seed!r}")

    def seeded(self, seed: int) -> Trainer:
        """The same trainer with another seed."""
        return dataclasses.replace(self, seed=int(seed))

    def prepare(self, model: nn.Module) -> nn.Module:
        """A working copy of ``model`` ready for this trainer (cosine head if ``normed_head``)."""
        return with_normed_head(model) if self.normed_head else copy.deepcopy(model)

    def fit(self, model: nn.Module, train: Split, config: FitConfig,
            masks: Mapping[str, Tensor] | None = None) -> TrainHistory:
        """Train ``model`` in place with this trainer's loss, sampler, augmentation and seed.

        ``config`` gives the rest of the recipe (epochs, ``lr``, ``optimizer``, ``batch_size``,
        ``device`` ...) and must carry ``class_counts``, from which the loss is built; its
        ``loss``, ``sampler``, ``augment`` and ``seed`` are replaced by the trainer's.
        """
        if config.class_counts is None:
            raise ValueError(f"trainer {self.name!r} builds its loss from the class counts; pass "
                             f"FitConfig(..., class_counts=data.class_counts)")
        loss = get_loss(self.loss)(np.asarray(config.class_counts), **dict(self.loss_options))
        return fit(model, train, dataclasses.replace(config, loss=loss, sampler=self.sampler, augment=self.augment,
                                                     seed=self.seed), masks=masks)

    def describe(self) -> dict[str, Any]:
        """JSON-able description (recorded in mask metadata and result tables)."""
        aug = self.augment
        return {"name": self.name, "loss": self.loss, "sampler": self.sampler, "seed": self.seed,
                "augment": None if aug is None else getattr(aug, "__qualname__", type(aug).__qualname__),
                "loss_options": dict(self.loss_options), "normed_head": self.normed_head}


_TRAINERS: Registry[Trainer] = Registry("trainer")


def register_trainer(trainer: Trainer) -> Trainer:
    """Record ``trainer`` under ``trainer.name`` (a duplicate name raises ``ValueError``).

    Example:
        >>> register_trainer(Trainer("focal_like", "ldam", loss_options=(("s", 1.0),)))  # doctest: +SKIP
    """
    if not isinstance(trainer, Trainer):
        raise TypeError(f"register_trainer takes a Trainer, got {type(trainer).__name__}")
    _TRAINERS.add(trainer.name, trainer)
    return trainer


def list_trainers() -> list[str]:
    """Registered trainer names, sorted."""
    return _TRAINERS.names()


def get_trainer(name: str | Trainer, seed: int | None = None) -> Trainer:
    """The trainer registered as ``name`` (or ``name`` itself if it is a :class:`Trainer`), optionally reseeded."""
    t = name if isinstance(name, Trainer) else _TRAINERS.get(name)
    return t if seed is None else t.seeded(seed)


for _t in (Trainer("ce", "ce"), Trainer("ce_drw", "ce_drw"), Trainer("balanced_softmax", "balanced_softmax"),
           Trainer("ldam_drw", "ldam_drw", normed_head=True), Trainer("logit_adjusted", "logit_adjusted"),
           Trainer("cb_resample", "ce", sampler="balanced")):
    register_trainer(_t)

DEFAULT_TRAINERS: tuple[str, ...] = ("ce", "ce_drw", "balanced_softmax", "ldam_drw")
"""docs/methods.md §1.2's default set, K = 4."""


# --- the common start -------------------------------------------------------------------------
def fingerprint(model: nn.Module) -> str:
    """SHA-256 (hex) of a model's state: every tensor's name, dtype, shape and bytes, in order.

    Two models have the same fingerprint exactly when their ``state_dict`` is identical, so it
    identifies the dense start ``θ0`` that auxiliary trainers must share.

    Example:
        >>> a = nn.Linear(2, 2); b = copy.deepcopy(a)
        >>> fingerprint(a) == fingerprint(b), fingerprint(a) == fingerprint(nn.Linear(2, 2))
        (True, False)
    """
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()


def calibration_set(split: Split, per_class: int = 10, seed: int = 0) -> Split:
    """A class-balanced subset: ``per_class`` items of each class (all of a class that has fewer).

    Used for the Taylor option of §1.2, so the gradient counts every class the same.

    Example:
        >>> s = Split.from_tensors(torch.zeros(8, 1), torch.tensor([0, 0, 0, 0, 0, 1, 1, 2]))
        >>> calibration_set(s, per_class=2).targets.tolist()
        [0, 0, 1, 1, 2]
    """
    if not isinstance(per_class, (int, np.integer)) or per_class < 1:
        raise ValueError(f"per_class must be an int >= 1, got {per_class!r}")
    y = split.targets.numpy()
    rng = np.random.default_rng(seed)
    idx = [rng.permutation(np.flatnonzero(y == c))[:per_class] for c in np.unique(y)]
    return split.subset(np.sort(np.concatenate(idx)))


@dataclass
class TrainerResult:
    """What one auxiliary trainer produced: ``θ_k``, its scores, and the start it came from.

    Attributes:
        trainer: the :class:`Trainer` used.
        model: ``θ_k``, the fine-tuned dense model (its own copy; ``θ0`` is untouched).
        scores: ``S_k`` over the prunable layers (:class:`~labkit.criteria.Scores`).
        init_fingerprint: :func:`fingerprint` of ``θ0``.
        history: the fine-tune's per-epoch record.
        seconds: wall time of fine-tune plus scoring.
    """

    trainer: Trainer
    model: nn.Module
    scores: Scores
    init_fingerprint: str
    history: TrainHistory
    seconds: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.trainer.name

    def candidate_mask(self, alloc: Mapping[str, float]) -> Masks:
        """``M_k``: the top ``(1 - s_l) n_l`` scores of every layer, tagged with the start's fingerprint."""
        m = make_masks(self.scores, alloc)
        m.meta.update(init_fingerprint=self.init_fingerprint, trainer=self.trainer.describe(),
                      criterion=self.scores.meta.get("criterion"))
        return m


def train_auxiliary(theta0: nn.Module, trainer: str | Trainer, train: Split, config: FitConfig, *,
                    criterion: str = "magnitude", calibration: Split | None = None, exclude_first: bool = True,
                    exclude_last: bool = True) -> TrainerResult:
    """Fine-tune a copy of ``θ0`` with ``trainer`` for ``config.epochs`` epochs, then score it.

    Args:
        theta0: the common dense start; never modified.
        trainer: a registered name (:func:`list_trainers`) or a :class:`Trainer`.
        train: the long-tailed training split.
        config: the fine-tune's recipe (:class:`~labkit.training.FitConfig`): ``epochs`` is
            ``E_aux``; ``class_counts`` (``data.class_counts``) is required, for the losses; the
            trainer sets the loss, sampler, augmentation and seed.
        criterion: ``"magnitude"`` (``|θ_k|``, default) or ``"taylor"`` (``|θ_k ⊙ ∇L|`` on
            ``calibration``).
        calibration: the class-balanced calibration split for ``"taylor"``
            (:func:`calibration_set` of the validation split, 10 per class).
        exclude_first, exclude_last: the prunable set (docs/methods.md §0.1: the first conv and the
            classifier stay dense by default; on long-tailed data the classifier's tail rows are
            the smallest, so pruning it removes the tail first).
    """
    t = get_trainer(trainer)
    if criterion not in SCORE_CRITERIA:
        raise ValueError(f"criterion must be one of {SCORE_CRITERIA} for auxiliary trainers (§1.2), got {criterion!r}")
    if criterion == "taylor" and calibration is None:
        raise ValueError("criterion='taylor' needs calibration=calibration_set(data.val, per_class=10)")
    start = fingerprint(theta0)
    t0 = time.perf_counter()
    model = t.prepare(theta0)
    history = t.fit(model, train, config)
    model.eval()
    sc = score(model, criterion, data=calibration if criterion == "taylor" else None, granularity="weight",
               exclude_first=exclude_first, exclude_last=exclude_last)
    if fingerprint(theta0) != start:  # cheap insurance: the common start must stay the common start
        raise RuntimeError("θ0 changed while training an auxiliary trainer; this is a bug in the trainer")
    return TrainerResult(t, model, sc, start, history, time.perf_counter() - t0,
                         {"epochs": config.epochs, "criterion": criterion})


def check_common_start(items: Sequence[Masks | TrainerResult]) -> str:
    """Return the shared start fingerprint of candidate masks / trainer results; refuse a mix.

    Raises:
        ValueError: an item without a fingerprint (made outside :func:`train_auxiliary`), or
            items fine-tuned from different starts.
    """
    items = list(items)
    if not items:
        raise ValueError("no candidates to merge; train at least one auxiliary trainer")
    prints = []
    for i, it in enumerate(items):
        fp = it.init_fingerprint if isinstance(it, TrainerResult) else getattr(it, "meta", {}).get("init_fingerprint")
        if not fp:
            raise ValueError(f"candidate {i} records no init fingerprint, so nothing shows it shares the common "
                             f"start θ0; make candidates with train_auxiliary(...).candidate_mask(alloc)")
        prints.append(fp)
    for i, fp in enumerate(prints[1:], 1):
        if fp != prints[0]:
            raise ValueError(f"candidate {i} was fine-tuned from a different start (θ0 {fp[:12]}…) than candidate 0 "
                             f"({prints[0][:12]}…): masks of differently initialised networks are not "
                             f"position-aligned and must not be merged (docs/methods.md §1.2). Fine-tune every "
                             f"trainer from the same θ0")
    return prints[0]


def candidate_accuracy(model: nn.Module, masks: Masks, split: Split, groups: Mapping[str, Sequence[int]],
                       metric: str = "balanced") -> float:
    """Accuracy of ``model ⊙ masks`` on ``split`` (no fine-tune): ``"balanced"``, ``"overall"`` or a group.

    ``a_k`` of §1.4: the balanced validation accuracy by default; ``"few"`` is the option that
    weights trainers by their tail accuracy.
    """
    rep = evaluate(apply_masks(model, masks), split, groups=groups, n_boot=0)
    values = {"balanced": rep.balanced, "overall": rep.overall, **rep.by_group}
    if metric not in values:
        raise ValueError(f"metric must be one of {sorted(values)}, got {metric!r}")
    return float(values[metric])


def merge_weights(accuracies: Sequence[float] | np.ndarray, tau: float = 20.0) -> np.ndarray:
    """``α_k = softmax_k(τ · a_k)`` (§1.4): the better a candidate, the more its vote counts.

    ``τ = 0`` gives equal weights (a plain vote); large ``τ`` approaches "best candidate only".
    With ``τ = 20`` a candidate 5 points more accurate gets ``e ≈ 2.7`` times the weight.

    Example:
        >>> merge_weights([0.80, 0.85], tau=20).round(3).tolist()
        [0.269, 0.731]
        >>> merge_weights([0.80, 0.85], tau=0).tolist()
        [0.5, 0.5]
    """
    a = np.asarray(accuracies, dtype=np.float64)
    if a.ndim != 1 or len(a) == 0:
        raise ValueError(f"accuracies must be a non-empty 1-D sequence, got shape {a.shape}")
    if not np.isfinite(a).all() or (a < 0).any() or (a > 1).any():
        raise ValueError(f"accuracies must be fractions in [0, 1], got {a.tolist()}")
    if not np.isfinite(tau) or tau < 0:
        raise ValueError(f"tau must be a finite number >= 0 (0 = plain vote, 20 = default), got {tau}")
    z = tau * (a - a.max())  # shift for numerical stability; softmax is unchanged
    w = np.exp(z)
    return w / w.sum()


def soup(models: Sequence[nn.Module], weights: Sequence[float] | None = None) -> nn.Module:
    """A weighted *model soup* (Wortsman et al. 2022): the average of the models' parameters.

    ``θ_soup = Σ_k w_k θ_k / Σ_k w_k`` for every floating-point parameter and buffer (BatchNorm's
    running statistics included); integer buffers (``num_batches_tracked``) come from the first
    model. Averaging is only meaningful for models fine-tuned from one common start (the
    auxiliary trainers of docs/methods.md §1.2 all start from ``θ0``), so the models must have the same
    architecture: the same state-dict keys and shapes, and the same module types (a cosine head
    is not averaged with a linear one). Returns a new model; the inputs are not changed.

    Example:
        >>> a, b = nn.Linear(2, 1), nn.Linear(2, 1)
        >>> s = soup([a, b], weights=[3, 1])
        >>> torch.allclose(s.weight, 0.75 * a.weight + 0.25 * b.weight)
        True
    """
    models = list(models)
    if not models:
        raise ValueError("soup needs at least one model")
    w = torch.ones(len(models), dtype=torch.float64) if weights is None else torch.as_tensor(list(weights), dtype=torch.float64)
    if w.shape != (len(models),) or not bool(torch.isfinite(w).all()) or bool((w < 0).any()) or float(w.sum()) <= 0:
        raise ValueError(f"weights must be one finite, non-negative number per model, not all zero; got {w.tolist()}")
    ref = models[0].state_dict()
    types = [type(m).__name__ for m in models[0].modules()]
    for i, m in enumerate(models[1:], 1):
        sd = m.state_dict()
        if list(sd) != list(ref) or any(sd[k].shape != ref[k].shape for k in ref) \
                or [type(x).__name__ for x in m.modules()] != types:
            raise ValueError(f"models[{i}] has another architecture than models[0] (keys, shapes or module "
                             f"types differ); a soup averages models of one architecture from one start")
    w = w / w.sum()
    states = [m.state_dict() for m in models]
    out = {}
    for k, v in ref.items():
        if v.is_floating_point():
            out[k] = sum(float(wi) * sd[k].double() for wi, sd in zip(w, states)).to(v.dtype)
        else:
            out[k] = v.clone()
    result = copy.deepcopy(models[0])
    result.load_state_dict(out)
    return result
