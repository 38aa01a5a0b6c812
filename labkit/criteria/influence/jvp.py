"""First-order ablation: ``Δ_d(i) ≈ ‖J_{l→d} · (−A_l[:, i])‖ / ‖A_d‖`` with one forward-mode pass.

Zeroing channel ``i`` adds ``δ = −A_l[:, i]`` (its own activation, negated) at the measurement
point. To first order the change at a later site is the Jacobian-vector product ``J δ``, which
``torch.func.jvp`` computes alongside the forward pass: a hook adds a zero ``delta`` at the
point, and the tangent of ``delta`` is ``δ``. Copies are batched ``K`` at a time as in exact
ablation, so the cost is about one forward pass per ``K`` channels.

On a network that is linear after the layer the estimate is exact; on a ReLU network it is the
change in the region where no ReLU flips (``tests/criteria/influence/test_curves.py``).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ...models.topology import LOGITS, run_segments
from .ablation import LayerAblation, channel_mask
from .reference import Reference

__all__ = ["ablate_jvp"]


def _point_output(ref: Reference, job: LayerAblation) -> Tensor:
    """The measurement point's output on the reference batch: what an ablation removes."""
    captured: dict[str, Tensor] = {}

    def grab(_m: nn.Module, _i: Any, o: Tensor) -> None:
        captured["a"] = o.detach()

    h = job.point.register_forward_hook(grab)
    try:
        with torch.no_grad():
            ref.segments[job.start](ref.inputs[job.start])
    finally:
        h.remove()
    return captured["a"]


def ablate_jvp(ref: Reference, job: LayerAblation) -> Tensor:
    """First-order ``Δ_d(i)`` of every channel of ``job``'s layer, shape ``(C, len(job.down))``, float32."""
    from torch.func import jvp

    x0 = ref.inputs[job.start]
    b = len(x0)
    a = _point_output(ref, job)
    result = torch.zeros(job.channels, len(job.down), dtype=torch.float64)
    for c0 in range(0, job.channels, job.per_pass):
        k = min(job.per_pass, job.channels - c0)
        keep = channel_mask(k, c0, job.channels, a.shape[1:], job.dim, a)
        tangent = -((1 - keep) * a.unsqueeze(0)).reshape(k * b, *a.shape[1:])
        xk = x0.repeat(k, *([1] * (x0.dim() - 1)))

        def f(delta: Tensor, xk: Tensor = xk) -> tuple[Tensor, ...]:
            outs: dict[str, Tensor] = {}
            hs = [job.point.register_forward_hook(lambda _m, _i, o: o + delta)]
            hs += [ref.sites[s].register_forward_hook(lambda _m, _i, o, s=s: outs.__setitem__(s, o))
                   for s in job.down if s != LOGITS]
            try:
                outs[LOGITS] = run_segments(ref.segments, xk, job.start)
            finally:
                for hd in hs:
                    hd.remove()
            return tuple(outs[s] for s in job.down)

        tangents = jvp(f, (torch.zeros_like(tangent),), (tangent,))[1]  # (outputs, tangents): no aux
        for j, (s, tg) in enumerate(zip(job.down, tangents)):
            result[c0:c0 + k, j] = ref.relative_change(tg.detach(), s, k, diff=False).double().cpu()
    return result.float()
