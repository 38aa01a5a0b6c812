"""Allocation: how much of each layer to prune, as ``{param_name: sparsity in [0, 1)}``.

Every mode turns a target sparsity ``s`` (fraction of all scored units: weights or filters)
into whole per-layer counts ``k_l`` and returns ``k_l / n_l``, so ``make_masks`` removes exactly
those counts.

- ``"global"``: one threshold over all layers' scores after a per-layer normalisation
  (docs/methods.md §4.2): ``"none"``, ``"l2"`` (``S / ||S||_2``, Molchanov's default), ``"minmax"``
  (``(S - min) / (max - min)``) or ``"mean"`` (``S / mean|S|``). Raw weight scores grow with
  fan-in, so without normalisation global filter pruning empties the thin layers first.
- ``"uniform"``: ``k_l = round(s * n_l)`` in every layer (``torch.nn.utils.prune`` per layer).
- ``"layered"`` (docs/methods.md §1.3): depth profile ``f_l = 1 + depth_bias * (1 - 2 t_l)`` with
  ``t_l = (l - 1) / (L - 1)``; ``s_l = min(s_max, c * f_l)`` with ``c`` found by bisection so that
  ``sum n_l s_l = s * sum n_l``. ``depth_bias=0.5`` prunes the first layer 1.5x and the last 0.5x
  the mean; 0 is uniform; negative prunes deep layers more.
- a dict ``{layer: sparsity}``: explicit; layers not named stay dense.

In every mode each layer keeps at least ``min_keep`` units (default: 1 weight, or
``max(1, ceil(0.1 * C_l))`` filters, docs/methods.md §4.2), and ``protect`` layers (names or name
prefixes such as ``"layer3.2"``) are not pruned, the rest absorbing their share. A target that
cannot be met raises an :class:`AllocationWarning` and returns the closest feasible allocation.

Example:
    >>> sc = {"a.weight": torch.rand(100), "b.weight": torch.rand(100)}
    >>> alloc = allocate(sc, 0.5, mode="layered", depth_bias=0.5)
    >>> round(alloc["a.weight"], 2), round(alloc["b.weight"], 2)
    (0.75, 0.25)
"""
from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from ..criteria.scores import check_scores, granularity_of
from ..errors import OptionError, UnknownNameError

if TYPE_CHECKING:
    from typing_extensions import TypeIs

    from .ranking import Ranking

__all__ = ["Allocation", "AllocationWarning", "allocate", "check_sparsity", "global_positions", "global_ranks",
           "normalize_scores", "NORMALIZATIONS", "MODES"]

NORMALIZATIONS = ("none", "l2", "minmax", "mean")
MODES = ("global", "uniform", "layered")


class AllocationWarning(UserWarning):
    """The requested sparsity cannot be met under the constraints (``min_keep``, ``s_max``, ``protect``)."""


class Allocation(dict):
    """``{param_name: sparsity}`` plus ``meta`` (mode, target, achieved sparsity, options)."""

    def __init__(self, data: Any = (), meta: Mapping[str, Any] | None = None) -> None:
        super().__init__(data)
        self.meta: dict[str, Any] = dict(meta or {})


def check_sparsity(s: Any, what: str = "sparsity") -> float:
    """``float(s)`` if it is a number in [0, 1); otherwise an :class:`~labkit.errors.OptionError` naming the fix.

    Strings are refused (``"0.5"`` would otherwise be stored as a string in the plan and the masks' metadata).
    """
    if isinstance(s, (bool, str, bytes)) or not isinstance(s, (numbers.Real, np.floating, np.integer)):
        example = f"{what}=0.5" if not isinstance(s, str) else f"{what}={s.strip()}"
        raise OptionError(f"{what} must be a number in [0, 1), got {s!r} (a {type(s).__name__}); "
                          f"pass a number, e.g. {example}")
    f = float(s)
    if not (0.0 <= f < 1.0) or math.isnan(f):
        hint = f" (a percentage? use {f / 100:g} for {f:g}%)" if 1.0 < f <= 100.0 else " (e.g. 0.5 removes half)"
        raise OptionError(f"{what} must be a fraction in [0, 1), got {s!r}{hint}")
    return f


def normalize_scores(t: Tensor, how: str) -> Tensor:
    """Per-layer normalisation used before a global ranking; each is increasing in ``t``."""
    t = t.reshape(-1).float()
    if how == "none":
        return t
    if how == "l2":
        d = t.norm(p=2)
        return t / d if d > 0 else t
    if how == "minmax":
        lo, hi = t.min(), t.max()
        return (t - lo) / (hi - lo) if hi > lo else torch.zeros_like(t)
    if how == "mean":
        d = t.abs().mean()
        return t / d if d > 0 else t
    raise OptionError(f"normalize must be one of {NORMALIZATIONS}, got {how!r}")


def global_ranks(scores: Mapping[str, Tensor], normalize: str = "none") -> Tensor:
    """Position of every unit (layers concatenated in order) in one stable ascending sort of all
    normalised scores: the single global sort everything global is read from."""
    vals = torch.cat([normalize_scores(scores[n], normalize) for n in scores])
    order = torch.argsort(vals, stable=True)
    ranks = torch.empty_like(order)
    ranks[order] = torch.arange(order.numel())  # the inverse permutation
    return ranks


def global_positions(scores: Mapping[str, Tensor], normalize: str = "none",
                     ranks: Tensor | None = None) -> dict[str, np.ndarray]:
    """For each layer, the ascending global positions of its units (from :func:`global_ranks`).

    ``np.searchsorted(pos[l], t)`` is then the number of layer ``l``'s units among the ``t``
    lowest overall: a global threshold by index, with no further sorting of scores.
    """
    if ranks is None:
        ranks = global_ranks(scores, normalize)
    out, offset = {}, 0
    for n, t in scores.items():
        out[n] = torch.sort(ranks[offset:offset + t.numel()]).values.numpy()
        offset += t.numel()
    return out


def _min_keep(sizes: dict[str, int], granularity: str, min_keep: int | float | None) -> dict[str, int]:
    if min_keep is None:
        return {n: max(1, math.ceil(0.1 * c)) if granularity == "filter" else 1 for n, c in sizes.items()}
    if isinstance(min_keep, float) and 0 < min_keep < 1:
        return {n: max(1, math.ceil(min_keep * c)) for n, c in sizes.items()}
    if isinstance(min_keep, (int, np.integer)) and not isinstance(min_keep, bool) and min_keep >= 1:
        return {n: min(int(min_keep), c) for n, c in sizes.items()}
    raise OptionError(f"min_keep must be None, an int >= 1 (units) or a fraction in (0, 1), got {min_keep!r}; "
                     f"a layer with nothing kept disconnects the network")


def _protected(names: list[str], protect: Sequence[str] | str) -> set[str]:
    if isinstance(protect, str):
        protect = [protect]
    out: set[str] = set()
    for p in protect:
        hit = {n for n in names if n == p or n.startswith(p.rstrip(".") + ".")}
        if not hit:
            raise UnknownNameError(f"protect={p!r} matches no scored layer; layers: {', '.join(names)}")
        out |= hit
    return out


def _apportion(want: dict[str, float], caps: dict[str, int], total: int) -> dict[str, int]:
    """Whole counts near ``want`` (largest remainder) summing to ``total``, each within its cap."""
    counts = {n: min(caps[n], math.floor(w)) for n, w in want.items()}
    rest = total - sum(counts.values())
    order = sorted(want, key=lambda n: want[n] - math.floor(want[n]), reverse=True)
    while rest > 0:
        moved = False
        for n in order:
            if rest > 0 and counts[n] < caps[n]:
                counts[n] += 1
                rest -= 1
                moved = True
        if not moved:
            break
    return counts


def _global(positions: dict[str, np.ndarray], caps: dict[str, int], total: int) -> dict[str, int]:
    """Per-layer counts of the ``total`` lowest units overall, skipping units beyond each cap."""
    names = list(positions)

    def counts_at(t: int) -> dict[str, int]:
        return {n: min(caps[n], int(np.searchsorted(positions[n], t))) for n in names}

    fast = {n: int(np.searchsorted(positions[n], total)) for n in names}
    if all(fast[n] <= caps[n] for n in names):
        return fast
    lo, hi = total, sum(len(p) for p in positions.values())
    while lo < hi:  # smallest t whose capped count reaches total (it grows by <= 1 per step)
        mid = (lo + hi) // 2
        if sum(counts_at(mid).values()) >= total:
            hi = mid
        else:
            lo = mid + 1
    return counts_at(lo)


def _layered(sizes: dict[str, int], caps: dict[str, int], free: list[str], total: int,
             depth_bias: float, s_max: float) -> dict[str, int]:
    names = list(sizes)
    L = len(names)
    f = {n: 1.0 + depth_bias * (1.0 - 2.0 * (i / (L - 1) if L > 1 else 0.0)) for i, n in enumerate(names)}
    cap_frac = {n: min(s_max, caps[n] / sizes[n]) if n in free else 0.0 for n in names}

    def frac(c: float) -> dict[str, float]:
        return {n: min(cap_frac[n], max(0.0, c * f[n])) for n in names}

    def pruned(c: float) -> float:
        return sum(sizes[n] * s for n, s in frac(c).items())

    pos = [n for n in names if f[n] > 0 and cap_frac[n] > 0]
    c_hi = max((cap_frac[n] / f[n] for n in pos), default=0.0)
    if pruned(c_hi) < total:
        c = c_hi
    else:
        lo, hi = 0.0, c_hi
        for _ in range(100):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if pruned(mid) < total else (lo, mid)
        c = hi
    want = {n: sizes[n] * s for n, s in frac(c).items()}
    int_caps = {n: min(caps[n], math.floor(cap_frac[n] * sizes[n] + 1e-9)) for n in names}
    return _apportion(want, int_caps, min(total, sum(int_caps.values())))


def _is_ranking(scores: Mapping[str, Tensor] | Ranking) -> TypeIs[Ranking]:
    """A :class:`~labkit.pruning.Ranking` (known by its cached global order), not plain scores."""
    return hasattr(scores, "global_positions")


def allocate(scores: Mapping[str, Tensor] | Ranking, sparsity: float | Mapping[str, float] | None = None,
             mode: str | Mapping[str, float] = "global", *, normalize: str = "none",
             min_keep: int | float | None = None, depth_bias: float = 0.5, s_max: float = 0.95,
             protect: Sequence[str] | str = ()) -> Allocation:
    """Per-layer sparsity ``{param_name: s_l}`` reaching the target ``sparsity`` (see module doc).

    Args:
        scores: :class:`~labkit.criteria.Scores` or a :class:`~labkit.pruning.Ranking` (whose
            cached global order makes ``"global"`` instant).
        sparsity: target fraction of all scored units to remove, in [0, 1); or a per-layer dict.
        mode: ``"global"``, ``"uniform"``, ``"layered"`` or a per-layer dict.
        normalize: per-layer normalisation for ``"global"``: ``"none"``, ``"l2"``, ``"minmax"``, ``"mean"``.
        min_keep: units each layer keeps at least: an int, a fraction of the layer, or ``None``
            for the default (1 weight; ``max(1, ceil(0.1 C_l))`` filters).
        depth_bias: ``delta`` of the layered profile; ``s_max``: its per-layer ceiling.
        protect: layer names or prefixes never pruned.
    """
    ranking: Ranking | None = None
    if _is_ranking(scores):
        ranking, table = scores, scores.scores
    else:
        table = scores
    if ranking is None:
        check_scores(table)
    names = list(table)
    sizes = {n: table[n].numel() for n in names}
    granularity = granularity_of(table)
    if isinstance(sparsity, Mapping):
        if isinstance(mode, Mapping):
            raise OptionError("give the per-layer dict once: allocate(scores, {layer: s}) or mode={layer: s}")
        mode, sparsity = sparsity, None
    elif isinstance(mode, Mapping) and sparsity is not None:
        raise OptionError("a per-layer dict sets every layer's sparsity; drop sparsity= or use a mode name")
    keep = _min_keep(sizes, granularity, min_keep)
    prot = _protected(names, protect)
    caps = {n: 0 if n in prot else sizes[n] - keep[n] for n in names}
    meta: dict[str, Any] = {"granularity": granularity, "min_keep": min_keep, "protect": sorted(prot)}

    if isinstance(mode, Mapping):
        unknown = [n for n in mode if n not in table]
        if unknown:
            raise UnknownNameError(f"unknown layer(s) {unknown} in the per-layer sparsity dict; scored layers: "
                           f"{', '.join(names)}")
        want = {n: round(check_sparsity(mode.get(n, 0.0), f"sparsity of {n!r}") * sizes[n]) for n in names}
        counts = {n: min(want[n], caps[n]) for n in names}
        clipped = [n for n in names if counts[n] < want[n]]
        if clipped:
            warnings.warn(f"layers {clipped} were asked for more than min_keep / protect allow; clipped",
                          AllocationWarning, stacklevel=2)
        meta.update(mode="dict", sparsity=None)
    else:
        if mode not in MODES:
            raise OptionError(f"mode must be one of {MODES} or a per-layer dict, got {mode!r}")
        if sparsity is None:
            raise OptionError(f"mode={mode!r} needs a target: allocate(scores, sparsity=0.5, mode={mode!r})")
        s = check_sparsity(sparsity)
        s_max = check_sparsity(s_max, "s_max")
        total_units = sum(sizes.values())
        target = round(s * total_units)
        free = [n for n in names if n not in prot]
        meta.update(mode=mode, sparsity=s)
        if mode == "global":
            if normalize not in NORMALIZATIONS:
                raise OptionError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
            pos = ranking.global_positions(normalize) if ranking is not None else global_positions(table, normalize)
            counts = _global(pos, caps, target)
            meta["normalize"] = normalize
        elif mode == "uniform":
            free_units = sum(sizes[n] for n in free)
            s_free = s if not prot else (s * total_units / free_units if free_units else 0.0)
            counts = {n: min(caps[n], round(s_free * sizes[n])) if n in free else 0 for n in names}
        else:
            counts = _layered(sizes, caps, free, target, float(depth_bias), s_max)
            meta.update(depth_bias=float(depth_bias), s_max=s_max)
        achieved = sum(counts.values()) / total_units
        if abs(achieved - s) > 0.005 and target > sum(counts.values()):
            warnings.warn(f"sparsity {s:g} is infeasible in mode {mode!r} under min_keep / s_max / protect; "
                          f"reached {achieved:.4f}. Lower the target, raise s_max or protect fewer layers",
                          AllocationWarning, stacklevel=2)
    out = Allocation({n: counts[n] / sizes[n] for n in names}, meta)
    out.meta["achieved"] = sum(counts.values()) / sum(sizes.values())
    return out
