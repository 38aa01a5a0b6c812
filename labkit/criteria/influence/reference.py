"""The reference pass: one clean forward that every channel ablation is compared with.

Before any channel is zeroed, the calibration batch runs once through the model's segments
(:func:`labkit.models.topology.segments`) and this pass records

* the **input of every segment**, so an ablation can restart from the layer's own segment
  instead of from the pixels;
* the **output of every depth site** ``A_s(x)`` and its per-item norm ``‖A_s(x)‖₂``, the
  denominators of ``Δ_d(i) = E_x ‖A_{l+d}(x; i ablated) − A_{l+d}(x)‖₂ / ‖A_{l+d}(x)‖₂``;
* the **execution order** of sites and measurement points: a layer's downstream sites are the
  ones that run after its measurement point;
* which channels of each measurement point are **not identically zero**: zeroing a channel
  that is already zero changes nothing, so the engines' float noise there is set to exactly 0.

Example:
    >>> from labkit.models.topology import segments
    >>> net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).eval()
    >>> ref = reference_pass(net, segments(net), torch.rand(5, 3), {"1": net[1]}, {"0": (net[0], -1)})
    >>> ref.order, len(ref.inputs), sorted(ref.outputs)
    (['@0', '1'], 3, ['1', 'logits'])
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ...models.topology import LOGITS, segment_of

__all__ = ["Reference", "reference_pass", "POINT_TAG"]

#: Prefix that marks a measurement point (not a site) in :attr:`Reference.order`.
POINT_TAG = "@"


@dataclass
class Reference:
    """What the clean forward pass recorded (see the module docstring).

    Attributes:
        segments: the modules whose composition is the model.
        inputs: ``inputs[i]`` is what entered ``segments[i]``.
        sites: depth-site name -> module (the logits have no module).
        outputs: site name (and ``"logits"``) -> its output on the batch.
        norms: site name -> per-item L2 norm of that output, shape ``(B,)``, at least 1e-12.
        order: site names and ``"@" + point`` tags in the order they ran.
        nonzero: measurement-point name -> ``(C,)`` bool, True where the channel is not all zero.
        segment_of: every submodule -> the index of the first segment containing it.
    """

    segments: list[nn.Module]
    inputs: list[Tensor]
    sites: dict[str, nn.Module]
    outputs: dict[str, Tensor]
    norms: dict[str, Tensor]
    order: list[str]
    nonzero: dict[str, Tensor]
    segment_of: dict[nn.Module, int]

    def relative_change(self, out: Tensor, site: str, copies: int, diff: bool = True) -> Tensor:
        """Mean over items of ``‖out_j − ref‖ / ‖ref‖`` per copy ``j`` (``‖out_j‖ / ‖ref‖`` without ``diff``).

        ``out`` holds ``copies`` batches stacked along the batch axis (copy ``j`` has channel
        ``c0 + j`` ablated); a tangent (first-order change) is compared with ``diff=False``.
        """
        b = len(self.outputs[site])
        a = out.reshape(copies, b, -1)
        if diff:
            a = a - self.outputs[site].reshape(1, b, -1)
        return (a.norm(dim=2) / self.norms[site].reshape(1, b)).mean(dim=1)


def _item_norm(t: Tensor) -> Tensor:
    return t.reshape(len(t), -1).norm(dim=1).clamp_min(1e-12)


def reference_pass(work: nn.Module, segs: list[nn.Module], x: Tensor, sites: dict[str, nn.Module],
                   points: dict[str, tuple[nn.Module, int]]) -> Reference:
    """Run ``x`` once through ``segs`` and record a :class:`Reference`.

    Args:
        work: the model (a working copy: hooks are added and removed).
        segs: its segments; their composition must reproduce ``work(x)``.
        x: the calibration batch.
        sites: depth-site name -> module, in execution order (without the logits).
        points: measurement-point name -> ``(module, channel axis of its output)``.

    Raises:
        ValueError: the segments do not compose to the model's forward pass.
    """
    inputs: list[Tensor] = []
    outputs: dict[str, Tensor] = {}
    order: list[str] = []
    nonzero: dict[str, Tensor] = {}

    def keep(name: str) -> Callable:
        def hook(_m: nn.Module, _i: Any, o: Tensor) -> None:
            outputs[name] = o.detach()
            order.append(name)
        return hook

    def mark(name: str, dim: int) -> Callable:
        def hook(_m: nn.Module, _i: Any, o: Tensor) -> None:
            order.append(POINT_TAG + name)
            nonzero[name] = (o != 0).movedim(dim, -1).reshape(-1, o.shape[dim]).any(dim=0).cpu()
        return hook

    # Site hooks first: a module that is both a site and a point records the site first.
    handles = [m.register_forward_hook(keep(s)) for s, m in sites.items()]
    handles += [m.register_forward_hook(mark(name, dim)) for name, (m, dim) in points.items()]
    try:
        with torch.no_grad():
            h = x
            for seg in segs:
                inputs.append(h)
                h = seg(h)
            outputs[LOGITS] = h
    finally:
        for hd in handles:
            hd.remove()
    with torch.no_grad():
        full = work(x)
    if not torch.allclose(full, h, rtol=1e-4, atol=1e-5):
        raise ValueError("the model's stages do not compose to its forward pass; influence_curves needs "
                         "stages(model) (labkit.models.stages) to reproduce model(x)")
    norms = {s: _item_norm(v) for s, v in outputs.items()}
    return Reference(list(segs), inputs, dict(sites), outputs, norms, order, nonzero, segment_of(segs))
