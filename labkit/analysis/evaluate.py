"""Per-class evaluation: overall, balanced and many / medium / few accuracy with 95 % intervals.

Pruning hurts rare classes first (Hooker et al. 2019, arXiv 1911.05248), and one overall number
hides it: a few tail classes losing twenty points barely move it. ``evaluate`` therefore
reports, for a model on a split:

* ``per_class``: one row per class (count, correct, accuracy, group, 95 % Wilson interval);
* ``overall``: fraction of test items classified correctly;
* ``balanced``: mean of the per-class accuracies (``sklearn.metrics.balanced_accuracy_score``);
* ``by_group``: for each of many / medium / few, the **mean of the group's per-class
  accuracies**, the long-tail convention (OLTR ``shot_acc``; Liu et al. 2019). On a balanced
  test set it equals the group's pooled accuracy; otherwise every class counts once;
* ``ci``: 95 % percentile-bootstrap intervals of overall, balanced and each group.

The bootstrap is **stratified**: test items are resampled with replacement *within each class*,
so every replicate has the test set's class sizes. Resampling ``n_c`` items of which ``k_c`` are
correct gives a number of correct items that is exactly ``Binomial(n_c, k_c / n_c)``, so a
replicate is one binomial draw per class: 1000 replicates are a ``(1000, C)`` NumPy draw, not a
loop over items. (Per-class rows use the Wilson score interval instead: the bootstrap interval
of a class with 30/30 correct collapses to [1, 1], which no honest interval does.)

Classes with no test item have NaN accuracy and are left out of every mean (as sklearn does).

Example:
    >>> preds, y = torch.tensor([0, 0, 1, 1, 2, 0]), torch.tensor([0, 0, 1, 1, 2, 2])
    >>> rep = evaluate_predictions(preds, y, groups={"many": [0], "medium": [1], "few": [2]})
    >>> round(rep.overall, 3), round(rep.balanced, 3), rep.by_group["few"]
    (0.833, 0.833, 0.5)
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from ..data._base import Split
from ..runtime import accelerate, default_device, resolve_device

__all__ = ["ClassReport", "evaluate", "evaluate_predictions", "wilson_interval"]

_Z95 = 1.959963984540054  # scipy.stats.norm.ppf(0.975)


def wilson_interval(correct: np.ndarray, n: np.ndarray, z: float = _Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion ``correct / n`` (NaN where ``n == 0``).

    ``(p + z²/2n ± z·sqrt(p(1−p)/n + z²/4n²)) / (1 + z²/n)``; Wilson 1927. It stays inside
    [0, 1] and has sensible width at ``p`` = 0 or 1, unlike the normal approximation.

    Example:
        >>> lo, hi = wilson_interval(np.array([10]), np.array([10]))
        >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
        (0.7225, 1.0)
    """
    k, n = np.asarray(correct, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1.0 + z * z / n
        center = (p + z * z / (2 * n)) / denom
        half = z / denom * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return np.clip(center - half, 0.0, 1.0), np.clip(center + half, 0.0, 1.0)


@dataclass(repr=False)
class ClassReport:
    """Everything ``evaluate`` measured; see the module docstring for the definitions.

    Attributes:
        per_class: columns ``class, name, [n_train,] n_test, correct, accuracy, group,
            ci_low, ci_high`` (``n_train`` only when class counts were given).
        overall, balanced: accuracies in [0, 1].
        by_group: group name -> mean per-class accuracy of the group (NaN if it has no test item).
        ci: ``"overall"``, ``"balanced"`` and each group -> ``(low, high)`` 95 % bootstrap interval.
        predictions, targets: predicted and true label of every test item (CPU, long).
        n_boot, seed: the bootstrap settings used.
    """

    per_class: pd.DataFrame
    overall: float
    balanced: float
    by_group: dict[str, float]
    ci: dict[str, tuple[float, float]]
    predictions: Tensor
    targets: Tensor
    n_boot: int = 1000
    seed: int = 0
    groups: dict[str, list[int]] = field(default_factory=dict)

    def __repr__(self) -> str:
        groups = "".join(f", {g}={v:.3f}" for g, v in self.by_group.items())
        return (f"ClassReport(n_test={len(self.targets)}, classes={len(self.per_class)}, "
                f"overall={self.overall:.3f}, balanced={self.balanced:.3f}{groups})")

    def summary(self, name: str | None = None) -> pd.DataFrame:
        """One row: ``[model,] n_test, overall, balanced, <groups>, <metric>_ci_low/_ci_high``."""
        row: dict[str, object] = {"model": name} if name is not None else {}
        row.update({"n_test": len(self.targets), "overall": self.overall, "balanced": self.balanced})
        row.update(self.by_group)
        for key, (lo, hi) in self.ci.items():
            row[f"{key}_ci_low"], row[f"{key}_ci_high"] = lo, hi
        return pd.DataFrame([row])

    def delta(self, other: ClassReport) -> pd.DataFrame:
        """Per-class ``self − other`` accuracy, e.g. ``pruned_report.delta(dense_report)``.

        Columns: ``class, name, group, [n_train,] n_test, accuracy, reference, delta``. Both
        reports must come from the same test items.
        """
        if len(self.per_class) != len(other.per_class) or not torch.equal(self.targets, other.targets):
            raise ValueError("delta() compares two reports on the same test split; these were made "
                             "on different items or class sets")
        cols = ["class", "name", "group"] + (["n_train"] if "n_train" in self.per_class else []) + ["n_test"]
        out = self.per_class[cols].copy()
        out["accuracy"] = self.per_class["accuracy"].to_numpy()
        out["reference"] = other.per_class["accuracy"].to_numpy()
        out["delta"] = out["accuracy"] - out["reference"]
        return out


def _group_of(groups: Mapping[str, Sequence[int]], num_classes: int) -> list[str | None]:
    owner: list[str | None] = [None] * num_classes
    for g, members in groups.items():
        for c in members:
            c = int(c)
            if not 0 <= c < num_classes:
                raise ValueError(f"group {g!r} lists class {c}, outside 0..{num_classes - 1}")
            if owner[c] is not None:
                raise ValueError(f"class {c} is in both group {owner[c]!r} and group {g!r}; "
                                 "groups must not overlap")
            owner[c] = g
    return owner


def evaluate_predictions(preds: Tensor | np.ndarray, targets: Tensor | np.ndarray, *,
                         groups: Mapping[str, Sequence[int]] | None = None,
                         classes: Sequence[str] | None = None,
                         class_counts: Sequence[int] | np.ndarray | None = None,
                         num_classes: int | None = None, n_boot: int = 1000,
                         seed: int = 0) -> ClassReport:
    """Build a :class:`ClassReport` from predictions the caller computed (labels or logits).

    ``preds`` is either predicted labels ``(N,)`` or logits ``(N, C)`` (arg-maxed). The number
    of classes is taken from ``num_classes``, ``classes``, ``class_counts``, the logits width,
    or else the largest label seen, in that order.
    """
    p = torch.as_tensor(preds).detach().cpu()
    if p.ndim == 2:
        width = p.shape[1]
        p = p.argmax(1)
    elif p.ndim == 1:
        width = None
    else:
        raise ValueError(f"preds must be labels (N,) or logits (N, C), got shape {tuple(p.shape)}")
    t = torch.as_tensor(targets).detach().cpu().long()
    p = p.long()
    if t.ndim != 1 or len(t) != len(p):
        raise ValueError(f"{len(p)} predictions for targets of shape {tuple(t.shape)}")
    if len(t) == 0:
        raise ValueError("nothing to evaluate: the split is empty")
    if n_boot < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot}")
    candidates = [v for v in (num_classes, len(classes) if classes is not None else None,
                              len(class_counts) if class_counts is not None else None, width)
                  if v is not None]
    if len(set(candidates)) > 1:
        raise ValueError(f"inconsistent class numbers (num_classes / classes / class_counts / logits "
                         f"width): {candidates}")
    C = candidates[0] if candidates else int(max(t.max(), p.max())) + 1
    if int(t.max()) >= C or int(t.min()) < 0:
        raise ValueError(f"targets must lie in 0..{C - 1}; got {int(t.min())}..{int(t.max())}")

    y, yhat = t.numpy(), p.numpy()
    hit = yhat == y
    n_test = np.bincount(y, minlength=C)
    correct = np.bincount(y[hit], minlength=C)
    present = n_test > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(present, correct / np.maximum(n_test, 1), np.nan)
    lo, hi = wilson_interval(correct, n_test)
    group_members = {g: [int(c) for c in m] for g, m in (groups or {}).items()}
    owner = _group_of(group_members, C)

    table = {"class": np.arange(C), "name": list(classes) if classes is not None else [str(c) for c in range(C)]}
    if class_counts is not None:
        table["n_train"] = np.asarray(class_counts).astype(np.int64)
    table.update({"n_test": n_test, "correct": correct, "accuracy": acc, "group": owner,
                  "ci_low": lo, "ci_high": hi})
    per_class = pd.DataFrame(table)

    def group_mean(a: np.ndarray, members: list[int]) -> np.ndarray | float:
        cols = [c for c in members if present[c]]
        return a[..., cols].mean(-1) if cols else np.nan

    overall = float(hit.mean())
    balanced = float(acc[present].mean())
    by_group = {g: float(group_mean(acc, m)) for g, m in group_members.items()}

    ci: dict[str, tuple[float, float]] = {}
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        # Stratified bootstrap: correct count of class c in a replicate ~ Binomial(n_c, k_c / n_c).
        draws = rng.binomial(n_test, np.nan_to_num(acc), size=(n_boot, C))
        with np.errstate(invalid="ignore", divide="ignore"):
            boot_acc = draws / n_test
        stats = {"overall": draws.sum(1) / n_test.sum(), "balanced": boot_acc[:, present].mean(1)}
        stats.update({g: group_mean(boot_acc, m) for g, m in group_members.items()})
        for key, s in stats.items():
            if np.ndim(s) == 0:  # a group without test items
                ci[key] = (float("nan"), float("nan"))
            else:
                q = np.percentile(s, [2.5, 97.5])
                ci[key] = (float(q[0]), float(q[1]))
    return ClassReport(per_class=per_class, overall=overall, balanced=balanced, by_group=by_group,
                       ci=ci, predictions=p, targets=t, n_boot=n_boot, seed=seed, groups=group_members)


def _device_of(model: nn.Module, device: str | torch.device | None) -> torch.device:
    if device is not None:
        return resolve_device(device)
    for t in list(model.parameters()) + list(model.buffers()):
        return t.device
    return default_device()


def evaluate(model: nn.Module, split: Split, groups: Mapping[str, Sequence[int]] | None = None,
             classes: Sequence[str] | None = None,
             class_counts: Sequence[int] | np.ndarray | None = None,
             device: str | torch.device | None = None, batch_size: int | None = None,
             n_boot: int = 1000, seed: int = 0, amp: str = "auto") -> ClassReport:
    """Evaluate ``model`` on ``split`` class by class (see the module docstring).

    The model runs in ``eval()`` mode under ``torch.inference_mode()`` and is put back in the
    mode it had. ``device=None`` uses the device the model is on; an explicit device moves the
    model there (in place). In-memory splits are evaluated from tensors kept on the device
    (``split.tensors(device)``, cached on the split); others stream through a ``DataLoader``.

    The device decides the rest (:func:`labkit.runtime.accelerate`): on CUDA the batches go
    channels-last, pinned and non-blocking, under bf16/fp16 autocast (``amp="auto"``; pass
    ``amp="off"`` for float32), ``batch_size=None`` is 4096 (1024 elsewhere) and cuDNN
    autotunes its kernels. On the CPU nothing changes: float32, contiguous, bitwise as before.

    Example:
        >>> rep = evaluate(model, data.test, groups=data.groups, classes=data.classes)  # doctest: +SKIP
        >>> rep.summary()                                                            # doctest: +SKIP
    """
    policy = accelerate(_device_of(model, device), amp)
    dev = policy.device
    batch_size = batch_size if batch_size is not None else (4096 if dev.type == "cuda" else 1024)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    policy.module(model)
    was_training = model.training
    model.eval()
    preds, ys, width = [], [], None
    try:
        with torch.inference_mode(), policy.autocast():
            batches: Iterator[tuple[Tensor, Tensor]]
            if split.in_memory:
                x, y = split.tensors(dev)
                batches = ((x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(y), batch_size))
            else:
                batches = iter(split.loader(batch_size, pin_memory=policy.pin_memory))
            for xb, yb in batches:
                out = model(policy.batch(xb))
                if not isinstance(out, Tensor) or out.ndim != 2:
                    raise TypeError("evaluate needs a model returning logits of shape (batch, classes); "
                                    f"got {type(out).__name__}{tuple(getattr(out, 'shape', ()))}")
                width = out.shape[1]
                preds.append(out.argmax(1).cpu())
                ys.append(torch.as_tensor(yb).cpu())
    finally:
        model.train(was_training)
    if not preds:
        raise ValueError("nothing to evaluate: the split is empty")
    return evaluate_predictions(torch.cat(preds), torch.cat(ys), groups=groups, classes=classes,
                                class_counts=class_counts, num_classes=width, n_boot=n_boot, seed=seed)
