"""Exact ablation: zero channel ``i`` where a filter mask would, re-run downstream, measure the change.

For channels ``c0 .. c0 + K − 1`` of a layer, the cached input of the layer's segment is
repeated ``K`` times; a forward hook on the measurement point multiplies copy ``j`` by a mask
that zeroes channel ``c0 + j``; the forward runs from that segment on, and hooks on the depth
sites record ``Δ_d = mean_x ‖A_d(ablated) − A_d‖ / ‖A_d‖`` per copy. The forward stops as soon
as the last needed site has been recorded (a short ``horizon`` is cheap).

The result equals masking each channel on its own and running the whole model
(``tests/criteria/influence/test_curves.py`` checks it against ``apply_masks``).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from ...models.topology import LOGITS, run_segments
from .ablation import LayerAblation, StopForward, channel_mask
from .reference import Reference

__all__ = ["ablate_exact"]


def ablate_exact(ref: Reference, job: LayerAblation) -> Tensor:
    """``Δ_d(i)`` of every channel of ``job``'s layer, shape ``(C, len(job.down))``, float32."""
    x0 = ref.inputs[job.start]
    b = len(x0)
    result = torch.zeros(job.channels, len(job.down), dtype=torch.float64)
    col = {s: j for j, s in enumerate(job.down)}
    for c0 in range(0, job.channels, job.per_pass):
        k = min(job.per_pass, job.channels - c0)

        def zero(_m: nn.Module, _i: Any, o: Tensor, k: int = k, c0: int = c0) -> Tensor:
            mask = channel_mask(k, c0, job.channels, o.shape[1:], job.dim, o)
            return (o.reshape(k, b, *o.shape[1:]) * mask).reshape(o.shape)

        def site_hook(s: str, k: int = k, c0: int = c0) -> Callable:
            def hook(_m: nn.Module, _i: Any, o: Tensor) -> None:
                result[c0:c0 + k, col[s]] = ref.relative_change(o, s, k).double().cpu()
                if s == job.down[-1]:
                    raise StopForward  # nothing after this site is needed
            return hook

        handles = [job.point.register_forward_hook(zero)]
        handles += [ref.sites[s].register_forward_hook(site_hook(s)) for s in job.down if s != LOGITS]
        try:
            with torch.no_grad():
                out = run_segments(ref.segments, x0.repeat(k, *([1] * (x0.dim() - 1))), job.start)
            result[c0:c0 + k, col[LOGITS]] = ref.relative_change(out, LOGITS, k).double().cpu()
        except StopForward:
            pass
        finally:
            for hd in handles:
                hd.remove()
    return result.float()
