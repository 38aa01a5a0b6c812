"""The criteria registry and ``score``: turn a model (and maybe data) into importance scores.

A *criterion* is a function that looks at a model's prunable layers and says how important
each weight (``granularity="weight"``) or each output channel (``granularity="filter"``) is.
The answer is a :class:`Scores`: a dict from parameter name to a float tensor,
**higher = more important, always** (docs/design.md §1). Weight scores have the parameter's shape;
filter scores have shape ``(out_channels,)``.

Criteria live in a strict registry (a duplicate name raises), one family per file:
``magnitude.py``, ``activation.py``, ``taylor.py``, ``attribution.py``, ``random.py``.
Writing your own is a decorated function::

    @register_criterion("my_norm", granularities=("filter",))
    def my_norm(model, layers, *, data, granularity):
        return {n: model.get_parameter(n).detach().flatten(1).norm(dim=1) for n in layers}

Example:
    >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 8, 3), nn.Flatten(),
    ...                     nn.LazyLinear(5), nn.ReLU(), nn.Linear(5, 2))
    >>> _ = net(torch.zeros(1, 3, 8, 8))
    >>> sc = score(net, "magnitude", granularity="filter")   # first conv, last linear excluded
    >>> {k: tuple(v.shape) for k, v in sc.items()}
    {'2.weight': (8,), '4.weight': (5,)}
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .._registry import Registry
from ..data.batches import Batches, DataLike
from ..errors import OptionError, WeightsError
from ..models._base import prunable_parameters
from ..models.checks import check_finite
from .scores import GRANULARITIES, Scores

__all__ = ["Criterion", "register_criterion", "get_criterion", "list_criteria", "score", "check_layers"]


@dataclass(frozen=True)
class Criterion:
    """A registered scoring rule.

    Attributes:
        name: registry name.
        fn: ``fn(model, layers, *, data, granularity, **kw) -> dict[str, Tensor]``.
            ``data`` is a :class:`Batches` (or ``None`` when ``needs_data`` is False).
        needs_data: True when the rule runs the model on data (activations, gradients).
        needs_labels: True when it also needs the labels (a loss or a class target).
        granularities: which of ``"weight"`` / ``"filter"`` it can score.
        summary: one line for menus and ``list_criteria`` tables.
    """

    name: str
    fn: Callable[..., dict[str, Tensor]]
    needs_data: bool = False
    needs_labels: bool = False
    granularities: tuple[str, ...] = GRANULARITIES
    summary: str = ""


_CRITERIA: Registry[Criterion] = Registry("criterion")


def register_criterion(name: str, *, needs_data: bool = False, needs_labels: bool = False,
                       granularities: Sequence[str] = GRANULARITIES,
                       summary: str = "") -> Callable[[Callable], Callable]:
    """Decorator: register ``fn`` as criterion ``name`` (a duplicate name raises ``ValueError``)."""
    bad = [g for g in granularities if g not in GRANULARITIES]
    if bad or not granularities:
        raise ValueError(f"granularities must be a non-empty subset of {GRANULARITIES}, got {granularities!r}")

    def wrapper(fn: Callable) -> Callable:
        doc = (fn.__doc__ or "").strip().splitlines()
        _CRITERIA.add(name, Criterion(name, fn, needs_data, needs_labels, tuple(granularities),
                                      summary or (doc[0] if doc else "")))
        return fn

    return wrapper


def get_criterion(name: str) -> Criterion:
    """The :class:`Criterion` registered as ``name`` (unknown -> ``KeyError`` with close matches)."""
    return _CRITERIA.get(name)


def list_criteria(granularity: str | None = None, needs_data: bool | None = None) -> list[str]:
    """Registered criterion names, sorted; optionally only those supporting ``granularity``
    or only data-free (``needs_data=False``) / data-driven (``True``) ones."""
    out = []
    for n in _CRITERIA.names():
        c = _CRITERIA.get(n)
        if granularity is not None and granularity not in c.granularities:
            continue
        if needs_data is not None and c.needs_data != needs_data:
            continue
        out.append(n)
    return out


def check_layers(model: nn.Module, layers: Sequence[str]) -> list[str]:
    """Check every name is a conv / linear weight of ``model``; unknown -> ``KeyError`` naming the choices."""
    valid = prunable_parameters(model, exclude_first=False, exclude_last=False)
    unknown = [n for n in layers if n not in valid]
    if unknown:
        raise KeyError(f"unknown layer(s) {unknown}: layers are conv / linear weight names such as "
                       f"{', '.join(valid[:4])}{' ...' if len(valid) > 4 else ''}")
    if len(set(layers)) != len(layers):
        raise ValueError(f"layers has duplicates: {list(layers)}")
    return list(layers)


def _check_finite(model: nn.Module, layers: Sequence[str]) -> None:
    for n in layers:
        p = model.get_parameter(n)
        if not bool(torch.isfinite(p).all()):
            bad = int((~torch.isfinite(p)).sum())
            raise WeightsError(f"parameter {n!r} has {bad} NaN/inf weights: the model diverged or the "
                             f"checkpoint is corrupt; reload the checkpoint or retrain with a lower learning rate")


def score(model: nn.Module, criterion: str | Criterion | Callable, data: DataLike | None = None,
          granularity: str = "weight", *, layers: Sequence[str] | None = None,
          exclude_first: bool = True, exclude_last: bool = True, batch_size: int = 128,
          **kw: Any) -> Scores:
    """Score the prunable layers of ``model`` with ``criterion``; higher = more important.

    Args:
        model: any ``nn.Module``; it is not modified (data-driven criteria work on a copy).
        criterion: a registered name (see :func:`list_criteria`), a :class:`Criterion`, or a
            function with the criterion signature.
        data: items to run through the model, for criteria that need them (activations,
            gradients, attributions); ignored by weight-only criteria.
        granularity: ``"weight"`` (one score per weight) or ``"filter"`` (per output channel).
        layers: parameter names to score; default ``prunable_parameters(model, exclude_first,
            exclude_last)`` (every conv / linear weight but the first conv and the last linear).
        batch_size: items per forward pass.
        **kw: criterion options (``p=2``, ``seed=0``, ``target=[7, 8, 9]`` ...).

    Returns:
        :class:`Scores` on the CPU, float32.

    Raises:
        KeyError: unknown criterion or layer.
        ValueError: unknown or unsupported granularity, data missing for a data-driven
            criterion, NaN / inf weights, or a criterion that returned bad shapes or NaN.
    """
    if not isinstance(model, nn.Module):
        raise OptionError(f"score() takes a torch nn.Module as its model, got a {type(model).__name__}; "
                          f"load one with lk.load_model(name, dataset=..., pretrained=True)")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise OptionError(f"batch_size must be an int >= 1, got {batch_size!r}; e.g. batch_size=128")
    crit = _resolve(criterion)
    if granularity not in GRANULARITIES:
        raise OptionError(f"granularity must be 'weight' or 'filter', got {granularity!r}")
    if granularity not in crit.granularities:
        raise OptionError(f"criterion {crit.name!r} scores {' / '.join(crit.granularities)} only, "
                         f"not {granularity!r}; pass granularity={crit.granularities[0]!r}")
    names = check_layers(model, list(layers) if layers is not None
                         else prunable_parameters(model, exclude_first, exclude_last))
    if not names:
        raise ValueError("no layers to score: the model has no conv / linear weights besides the excluded "
                         "first conv and last linear; pass exclude_first=False or exclude_last=False")
    _check_finite(model, names)
    check_finite(model, "the model")  # also the layers nobody scores: a NaN classifier breaks every view
    batches = None
    if crit.needs_data:
        if data is None:
            raise OptionError(f"criterion {crit.name!r} runs the model on data; pass data=..., e.g. "
                             f"score(model, {crit.name!r}, data=lab_data.val)")
        device = next(model.parameters()).device
        batches = Batches(data, batch_size=batch_size, device=device, classes=_classes(kw))
        if crit.needs_labels and not batches.has_labels:
            raise OptionError(f"criterion {crit.name!r} needs labels; pass a Split or an (x, y) pair, not bare inputs")
    raw = crit.fn(model, names, data=batches, granularity=granularity, **kw)
    meta = {"criterion": crit.name, "granularity": granularity, **{k: _jsonable(v) for k, v in kw.items()}}
    return Scores.checked(raw, model, names, granularity=granularity, meta=meta, criterion=crit.name)


def _resolve(criterion: str | Criterion | Callable) -> Criterion:
    if isinstance(criterion, Criterion):
        return criterion
    if isinstance(criterion, str):
        return get_criterion(criterion)
    if callable(criterion):
        return Criterion(getattr(criterion, "__name__", "custom"), criterion)
    raise OptionError(f"criterion must be a name (see lk.list_criteria()), a Criterion or a function, "
                      f"got {type(criterion).__name__}; e.g. criterion='magnitude'")


def _classes(kw: dict[str, Any]) -> list[int] | None:
    """The class subset a ``target=`` option selects (attribution criteria), else ``None``."""
    t = kw.get("target")
    if t is None:
        return None
    if isinstance(t, int) and not isinstance(t, bool):
        return [t]
    if isinstance(t, (list, tuple)) and t and all(isinstance(c, int) for c in t):
        return list(t)
    raise ValueError(f"target must be None (all classes), a class index or a list of class indices, got {t!r}")


def _jsonable(v: Any) -> Any:
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v if not (isinstance(v, float) and math.isnan(v)) else None
    if isinstance(v, (list, tuple)):
        return [_jsonable(u) for u in v]
    return repr(v)
