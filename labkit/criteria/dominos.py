"""DOMINOS importance (docs/methods.md §5.1–5.3, **[inferred]**): representativeness R, domino influence D, I = R^α D̂^(1−α).

The DOMINOS thesis (Ting-An Chen, NTU 2020) scores a filter by how *unique* its feature is and by
how far its effect travels through the later layers. Only the abstract is public; the formulas
here are our design, exposed as options, and not the author's exact method.

- ``representativeness`` (§5.1): on a calibration batch, flatten channel ``i``'s post-BN-ReLU
  map over items and positions to ``f_i``, centre and L2-normalise it (Pearson correlation;
  the raw cosine of non-negative ReLU maps is biased high) and score
  ``R_i = 1 − max_{j≠i} |ρ_ij|`` (option ``top_m``: 1 − the mean of the ``m`` largest).
  A dead channel (zero variance) gets ``R = 0``. High R = a feature no other channel carries.
  Related: FPGM (arXiv 1811.00250), CHIP (arXiv 2110.13981).
- ``domino`` (§5.2): ``D_i = Δ_1(i) Σ_t S_fit(t)``, the Weibull-smoothed total downstream effect
  of zeroing the channel (:mod:`labkit.criteria.influence`). Related: NISP (arXiv 1711.05908).
- ``dominos`` (§5.3): ``I_i = R_i^α · D̂_i^(1−α)`` with ``D̂ = D / max_layer D`` and α = 0.5.
  Multiplicative: a redundant (R ≈ 0) or influence-less (D ≈ 0) channel is unimportant.

For a residual block's ``conv2`` the measurement point is the branch output before the addition
(:func:`labkit.models.topology.measure_module`), as §5.4 asks.

Example:
    >>> from labkit import load_model, score
    >>> net = load_model("resnet20", num_classes=10, in_channels=1)
    >>> x = torch.rand(32, 1, 16, 16)
    >>> sc = score(net, "dominos", data=x, granularity="filter", max_items_d=16)
    >>> sc["layer1.0.conv1.weight"].shape
    torch.Size([16])
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from ..data.batches import Batches, DataLike
from ..models.topology import measure_module, out_channel_dim
from ._core import register_criterion
from .influence import InfluenceCurves, WeibullFits, domino_scores, fit_weibull, influence_curves

__all__ = ["representativeness", "domino", "dominos", "representativeness_from_features",
           "channel_correlation", "combine_importance", "normalize_by_max", "representativeness_scores",
           "domino_scores_and_curves"]


# --- R ------------------------------------------------------------------------------------------
class _Moments:
    """Streaming sums for the channel correlation matrix (float64): n, Σf, Σ f fᵀ."""

    def __init__(self) -> None:
        self.n = 0
        self.s: Tensor | None = None
        self.ss: Tensor | None = None

    def add(self, f: Tensor) -> None:
        f = f.double()
        if self.s is None:
            self.s, self.ss = f.sum(0), f.T @ f
        else:
            assert self.ss is not None  # set together with s
            self.s += f.sum(0)
            self.ss += f.T @ f
        self.n += len(f)

    def correlation(self) -> tuple[Tensor, Tensor]:
        """``(ρ, alive)``: Pearson correlation (0 wherever a dead channel is involved) and live flags."""
        assert self.s is not None and self.ss is not None
        mean = self.s / self.n
        cov = self.ss / self.n - torch.outer(mean, mean)
        var = cov.diagonal().clamp_min(0)
        scale = float(var.max()) if var.numel() else 0.0
        alive = var > max(1e-12 * scale, 1e-20)
        sd = torch.where(alive, var.sqrt(), torch.ones_like(var))
        rho = cov / torch.outer(sd, sd)
        rho = torch.where(torch.outer(alive, alive), rho, torch.zeros_like(rho))
        return rho.clamp(-1, 1), alive


def channel_correlation(features: Tensor) -> tuple[Tensor, Tensor]:
    """Pearson correlation between the columns of ``features`` ``(N, C)`` and the live-channel flags.

    Example:
        >>> f = torch.tensor([[0., 1., 2.], [1., 3., 2.], [2., 5., 2.]])
        >>> rho, alive = channel_correlation(f)
        >>> round(rho[0, 1].item(), 6), alive.tolist()
        (1.0, [True, True, False])
    """
    m = _Moments()
    m.add(features.reshape(len(features), -1))
    return m.correlation()


def _r_from_rho(rho: Tensor, alive: Tensor, top_m: int) -> Tensor:
    C = len(rho)
    a = rho.abs().clone()
    a.fill_diagonal_(-1.0)                        # never its own partner
    a[:, ~alive] = -1.0                           # dead channels are nobody's partner
    m = min(int(top_m), max(int(alive.sum()) - 1, 0))
    if m == 0:
        r = torch.ones(C, dtype=torch.float64)    # a lone live channel is unique
    else:
        r = 1.0 - a.topk(m, dim=1).values.clamp_min(0).mean(dim=1)
    return torch.where(alive, r, torch.zeros_like(r)).clamp(0, 1).float()


def representativeness_from_features(features: Tensor, top_m: int = 1) -> Tensor:
    """``R_i = 1 − max_{j≠i} |ρ_ij|`` (or 1 − mean of the ``top_m`` largest) for ``features`` ``(N, C)``.

    Example:
        >>> f = torch.tensor([[0., 0., 1.], [1., 1., 0.], [2., 2., 1.], [3., 3., 0.]])
        >>> representativeness_from_features(f).round(decimals=4)   # columns 0 and 1 are copies
        tensor([0.0000, 0.0000, 0.5528])
    """
    if top_m < 1:
        raise ValueError(f"top_m must be >= 1, got {top_m}")
    rho, alive = channel_correlation(features)
    return _r_from_rho(rho, alive, top_m)


def representativeness_scores(model: nn.Module, layers: list[str], data: Batches, *, top_m: int = 1,
                              max_items: int = 256, relu: bool = True) -> dict[str, Tensor]:
    """R for every layer from one pass over at most ``max_items`` calibration items (streamed)."""
    if top_m < 1:
        raise ValueError(f"top_m must be >= 1, got {top_m}")
    moments = {n: _Moments() for n in layers}
    budget = {"left": int(max_items)}

    def hook_for(name: str, dim: int) -> Callable:
        def hook(_m: nn.Module, _i: Any, out: Tensor) -> None:
            a = out.detach()[: budget["take"]]
            a = torch.relu(a) if relu else a
            a = a.movedim(dim, -1)
            moments[name].add(a.reshape(-1, a.shape[-1]))
        return hook

    was = model.training
    handles = [measure_module(model, n).register_forward_hook(hook_for(n, out_channel_dim(model, n)))
               for n in layers]
    try:
        model.eval()
        with torch.no_grad():
            for x, _ in data:
                if budget["left"] <= 0:
                    break
                budget["take"] = min(len(x), budget["left"])
                model(x[: budget["take"]])
                budget["left"] -= budget["take"]
    finally:
        for h in handles:
            h.remove()
        model.train(was)
    return {n: _r_from_rho(*moments[n].correlation(), top_m) for n in layers}


@register_criterion("representativeness", needs_data=True, granularities=("filter",),
                    summary="[inferred] DOMINOS R: 1 - max |Pearson correlation| with another channel (uniqueness)")
def representativeness(model: nn.Module, layers: list[str], *, data: Batches, granularity: str = "filter",
                       top_m: int = 1, max_items: int = 256, relu: bool = True) -> dict[str, Tensor]:
    """R (§5.1): uniqueness of each channel's feature map on the calibration data."""
    return representativeness_scores(model, layers, data, top_m=top_m, max_items=max_items, relu=relu)


# --- D ------------------------------------------------------------------------------------------
def domino_scores_and_curves(model: nn.Module, layers: list[str], data: DataLike, *, method: str = "exact",
                             horizon: int | None = None, max_items: int = 64, mode: str = "sum",
                             chunk_items: int = 2048) -> tuple[dict[str, Tensor], InfluenceCurves, dict[str, WeibullFits]]:
    """``(D per layer, InfluenceCurves, WeibullFits per layer)`` (§5.2); see :mod:`labkit.criteria.influence`."""
    curves = influence_curves(model, data, layers, method=method, horizon=horizon, max_items=max_items,
                              chunk_items=chunk_items)
    fits = {n: fit_weibull(curves.survival(n)) for n in layers}
    D = {n: domino_scores(curves.deltas[n], fits[n], mode, depths=curves.depths[n]) for n in layers}
    return D, curves, fits


@register_criterion("domino", needs_data=True, granularities=("filter",),
                    summary="[inferred] DOMINOS D: Weibull-smoothed downstream influence of zeroing the channel")
def domino(model: nn.Module, layers: list[str], *, data: Batches, granularity: str = "filter",
           method: str = "exact", horizon: int | None = None, max_items: int = 64,
           mode: str = "sum") -> dict[str, Tensor]:
    """D (§5.2): ``Δ_1 Σ_t S_fit(t)`` from exact (or first-order, ``method="jvp"``) ablations."""
    return domino_scores_and_curves(model, layers, data, method=method, horizon=horizon, max_items=max_items,
                                    mode=mode)[0]


# --- I ------------------------------------------------------------------------------------------
def normalize_by_max(scores: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """``D̂ = D / max_layer D`` per layer (an all-zero layer stays 0)."""
    out = {}
    for n, d in scores.items():
        d = d.float()
        top = float(d.max()) if d.numel() else 0.0
        out[n] = d / top if top > 0 else torch.zeros_like(d)
    return out


def combine_importance(R: Mapping[str, Tensor], D: Mapping[str, Tensor], alpha: float = 0.5) -> dict[str, Tensor]:
    """``I = R^α · D̂^(1−α)`` per layer (§5.3); α = 1 is R only, α = 0 is D̂ only.

    Example:
        >>> combine_importance({"a": torch.tensor([1.0, 0.25])}, {"a": torch.tensor([2.0, 2.0])})["a"]
        tensor([1.0000, 0.5000])
    """
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must be in [0, 1] (1 = R only, 0 = D only), got {alpha}")
    missing = sorted(set(R) ^ set(D))
    if missing:
        raise KeyError(f"R and D cover different layers: {missing}")
    Dh = normalize_by_max(D)
    a = float(alpha)
    return {n: R[n].float().clamp_min(0).pow(a) * Dh[n].clamp_min(0).pow(1.0 - a) for n in R}


@register_criterion("dominos", needs_data=True, granularities=("filter",),
                    summary="[inferred] DOMINOS importance R^alpha * (D/max D)^(1-alpha)")
def dominos(model: nn.Module, layers: list[str], *, data: Batches, granularity: str = "filter",
            alpha: float = 0.5, top_m: int = 1, max_items_r: int = 256, method: str = "exact",
            horizon: int | None = None, max_items_d: int = 64, mode: str = "sum") -> dict[str, Tensor]:
    """I (§5.3): R and D on the same calibration data, combined multiplicatively."""
    R = representativeness_scores(model, layers, data, top_m=top_m, max_items=max_items_r)
    D = domino_scores_and_curves(model, layers, data, method=method, horizon=horizon, max_items=max_items_d,
                                 mode=mode)[0]
    return combine_importance(R, D, alpha)
