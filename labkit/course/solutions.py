"""Reference solutions of the course's code exercises, and the cases they are graded on.

One function per exercise, each the short textbook version a student is asked to write (MIT
6.5940 Lab 1 has the first two). :data:`EXERCISES` maps each name to its
:class:`~labkit.course.exercises.Exercise`: the cases are seeded tensors built when grading.

Example:
    >>> w = torch.tensor([[0.1, -0.5], [0.3, -0.05]])
    >>> fine_grained_prune(w, 0.5).tolist()
    [[False, True], [True, False]]
    >>> channels_to_keep(torch.ones(4, 2, 1, 1) * torch.arange(4.0).view(4, 1, 1, 1), 0.5).tolist()
    [3, 2]
    >>> jaccard(torch.tensor([True, True, False]), torch.tensor([True, False, True]))
    0.3333333333333333
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .exercises import Case, Exercise, close_numbers, close_tensor, same_indices, same_mask

__all__ = ["EXERCISES", "fine_grained_prune", "channels_to_keep", "wilson_interval", "jaccard", "weibull_fit", "apoz"]


def fine_grained_prune(weight: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Keep-mask removing the ``round(sparsity · n)`` weights of smallest ``|w|`` (magnitude pruning).

    The threshold is the k-th smallest magnitude (``torch.kthvalue``); a weight is kept when its
    magnitude is strictly above it. ``sparsity = 0`` keeps everything.
    """
    n_zeros = round(sparsity * weight.numel())
    if n_zeros == 0:
        return torch.ones_like(weight, dtype=torch.bool)
    threshold = weight.abs().flatten().kthvalue(n_zeros).values
    return weight.abs() > threshold


def channels_to_keep(weight: torch.Tensor, prune_ratio: float) -> torch.Tensor:
    """Indices of the output channels to keep, most important first (L2 norm of each filter).

    A conv weight is ``C_out × C_in × kh × kw``; filter ``k`` is ``weight[k]``. Keep
    ``round(C_out · (1 − prune_ratio))`` of them, the largest norms first.
    """
    importance = weight.flatten(1).norm(dim=1)
    n_keep = int(round(weight.shape[0] * (1.0 - prune_ratio)))
    return torch.argsort(importance, descending=True)[:n_keep]


def wilson_interval(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of the proportion ``correct / n`` (Wilson 1927).

    ``(p + z²/2n ± z·sqrt(p(1−p)/n + z²/4n²)) / (1 + z²/n)``, clipped to [0, 1].
    """
    p = correct / n
    denom = 1.0 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, center - half), min(1.0, center + half)


def jaccard(a: torch.Tensor, b: torch.Tensor) -> float:
    """``|A ∩ B| / |A ∪ B|`` of the kept sets of two boolean masks (1.0 when both keep nothing)."""
    inter = int((a & b).sum())
    union = int((a | b).sum())
    return 1.0 if union == 0 else inter / union


def weibull_fit(S: torch.Tensor) -> tuple[float, float]:
    """Shape ``k`` and scale ``λ`` of ``S(t) = exp(−(t/λ)^k)`` by a line on the Weibull plot.

    ``ln(−ln S_t) = k ln t − k ln λ``: least squares over the points ``t ≥ 1`` with
    ``0 < S_t < 1`` (the log-log is undefined elsewhere, so points with ``S ≥ 1``, where the
    effect grew, are left out), slope ``k``, ``λ = exp(−intercept / k)``.
    """
    t = torch.arange(len(S), dtype=torch.float64)
    s = S.to(torch.float64)
    use = (t >= 1) & (s > 0) & (s < 1)
    x, y = t[use].log(), (-s[use].log()).log()
    xm, ym = x.mean(), y.mean()
    k = float(((x - xm) * (y - ym)).sum() / ((x - xm) ** 2).sum())
    intercept = float(ym - k * xm)
    return k, math.exp(-intercept / k)


def apoz(model: nn.Module, layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Average Percentage of Zeros of ``layer``'s output, per channel (Hu et al. 2016).

    A forward hook records the output of ``layer`` (a ReLU) while ``model(x)`` runs in eval mode;
    APoZ of channel ``c`` is the fraction of its entries (over images and positions) that are 0.
    The hook is removed afterwards.
    """
    seen: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda _m, _i, out: seen.append(out.detach()))
    try:
        was_training = model.training
        model.eval()
        with torch.no_grad():
            model(x)
        model.train(was_training)
    finally:
        handle.remove()
    out = seen[0]
    return (out == 0).float().transpose(0, 1).flatten(1).mean(dim=1)


# ------------------------------------------------------------------ cases

def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _prune_cases() -> list[Case]:
    w1 = torch.randn(8, 4, 3, 3, generator=_gen(0))
    w2 = torch.randn(32, 16, 3, 3, generator=_gen(1)) * 0.05
    w3 = torch.randn(10, 64, generator=_gen(2))
    return [Case("a 8×4×3×3 conv weight at sparsity 0.5", (w1, 0.5)),
            Case("the same weight at sparsity 0 (nothing removed)", (w1, 0.0)),
            Case("a 32×16×3×3 conv weight at sparsity 0.7", (w2, 0.7)),
            Case("a 10×64 linear weight at sparsity 0.9", (w3, 0.9)),
            Case("a 32×16×3×3 conv weight at sparsity 0.33 (round the count)", (w2, 0.33))]


def _channel_cases() -> list[Case]:
    w1 = torch.randn(16, 8, 3, 3, generator=_gen(3))
    w2 = torch.randn(64, 32, 3, 3, generator=_gen(4)) * torch.linspace(0.1, 2, 64).view(64, 1, 1, 1)
    return [Case("16 filters, prune 25 %", (w1, 0.25)),
            Case("16 filters, prune 0 %", (w1, 0.0)),
            Case("64 filters of growing scale, prune 30 % (round the count)", (w2, 0.3)),
            Case("64 filters, prune 90 %", (w2, 0.9))]


def _wilson_cases() -> list[Case]:
    return [Case(f"{k} right of {n}", (k, n)) for k, n in ((12, 30), (30, 30), (0, 30), (1, 5), (57, 100))]


def _jaccard_cases() -> list[Case]:
    a = torch.rand(500, generator=_gen(5)) < 0.5
    b = torch.rand(500, generator=_gen(6)) < 0.5
    c = torch.rand(16, 8, 3, 3, generator=_gen(7)) < 0.3
    d = torch.rand(16, 8, 3, 3, generator=_gen(8)) < 0.7
    none = torch.zeros(10, dtype=torch.bool)
    return [Case("two random masks keeping half", (a, b)), Case("a mask with itself", (a, a)),
            Case("a mask and its complement", (a, ~a)), Case("two 4-d masks of different sparsity", (c, d)),
            Case("two masks that keep nothing (define J = 1)", (none, none))]


def _weibull_cases() -> list[Case]:
    t = torch.arange(8, dtype=torch.float64)

    def sf(k: float, lam: float) -> torch.Tensor:
        return torch.exp(-(t / lam) ** k)

    noisy = (sf(1.3, 3.0) * (1 + 0.05 * torch.randn(8, generator=_gen(9), dtype=torch.float64))).clamp(1e-6, 0.999)
    noisy[0] = 1.0
    grows = sf(0.7, 4.0).clone()
    grows[2], grows[5] = 1.2, 1.05  # the effect grew at two depths: S >= 1 cannot be on the Weibull plot
    return [Case("an exact curve with k = 0.8, λ = 2.5", (sf(0.8, 2.5),)),
            Case("an exact curve with k = 2, λ = 4", (sf(2.0, 4.0),)),
            Case("a noisy curve (k ≈ 1.3, λ ≈ 3)", (noisy,)),
            Case("a curve with two points at S ≥ 1 (leave them out)", (grows,))]


def _apoz_model(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                      nn.Conv2d(8, 6, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 4))
    bn = m[1]
    assert isinstance(bn, nn.BatchNorm2d) and bn.running_mean is not None and bn.running_var is not None
    with torch.no_grad():
        bn.running_mean.uniform_(-0.5, 0.5, generator=_gen(seed + 1))
        bn.running_var.uniform_(0.5, 2.0, generator=_gen(seed + 2))
    return m


def _apoz_cases() -> list[Case]:
    x = torch.randn(6, 3, 8, 8, generator=_gen(10))
    m = _apoz_model(11)
    m.train()  # in train mode on purpose: APoZ is measured in eval mode
    return [Case("the ReLU after conv + BatchNorm (8 channels)", (m, m[2], x)),
            Case("the second ReLU (6 channels)", (m, m[4], x))]


EXERCISES: dict[str, Exercise] = {e.name: e for e in [
    Exercise("fine_grained_prune", "fine_grained_prune(weight, sparsity) -> bool mask", fine_grained_prune,
             _prune_cases, same_mask,
             "n_zeros = round(sparsity * weight.numel()); threshold = the n_zeros-th smallest |w| "
             "(`weight.abs().flatten().kthvalue(n_zeros).values`); keep `weight.abs() > threshold`; "
             "with n_zeros = 0 keep everything."),
    Exercise("channels_to_keep", "channels_to_keep(weight, prune_ratio) -> indices", channels_to_keep,
             _channel_cases, same_indices,
             "importance = `weight.flatten(1).norm(dim=1)`; keep `round(C_out * (1 - prune_ratio))` channels; "
             "`torch.argsort(importance, descending=True)[:n_keep]`."),
    Exercise("wilson_interval", "wilson_interval(correct, n) -> (low, high)", wilson_interval,
             _wilson_cases, close_numbers(),
             "p = correct / n; centre = (p + z²/2n) / (1 + z²/n); half = z/(1 + z²/n) · sqrt(p(1−p)/n + z²/4n²); "
             "clip to [0, 1]; z = 1.96."),
    Exercise("jaccard", "jaccard(a, b) -> float", jaccard, _jaccard_cases, close_numbers(atol=1e-9),
             "`(a & b).sum() / (a | b).sum()`, as a Python float; when the union is empty return 1.0."),
    Exercise("weibull_fit", "weibull_fit(S) -> (k, lam)", weibull_fit, _weibull_cases, close_numbers(rtol=1e-4),
             "use only t >= 1 with 0 < S[t] < 1; x = ln t, y = ln(−ln S); least-squares slope k, "
             "intercept b; λ = exp(−b / k)."),
    Exercise("apoz", "apoz(model, layer, x) -> Tensor[C]", apoz, _apoz_cases, close_tensor(),
             "`h = layer.register_forward_hook(lambda m, i, out: seen.append(out))`; run `model.eval()` "
             "and `model(x)` under `torch.no_grad()`; `h.remove()`; then `(out == 0).float().mean(dim=(0, 2, 3))`."),
]}
