"""Influence curves: how far a channel's removal travels through the layers after it.

DOMINOS (docs/methods.md §5.2, **[inferred]**: the thesis names the idea and the Weibull model, not
the formulas) measures a filter's *decaying* effect on later layers. For channel ``i`` of layer
``l`` (zeroed where a filter mask would zero it: the output of the BatchNorm after the conv)
and the ``d``-th depth site after the layer's own output:

    Δ_d(i) = E_x [ ‖A_{l+d}(x; i ablated) − A_{l+d}(x)‖₂ / ‖A_{l+d}(x)‖₂ ]

*Depth sites* are the network's activation modules (``nn.ReLU`` ...) in execution order, then
the logits (:func:`labkit.models.topology.depth_sites`): for a CIFAR ResNet, the stem's ReLU,
then each block's ``relu1`` (inside the block) and ``relu2`` (the block output after the
addition), then the logits: 20 layers for ResNet-20. The *own* site of a layer is the first one
executed after the ablation point (``relu1`` for a block's ``conv1``, the block output ``relu2``
for its ``conv2``); ``d = 1`` is the site after that.

Survival: ``t = d − 1``, ``S_i(t) = Δ_{t+1}(i) / Δ_1(i)``, so ``S(0) = 1``; a Weibull
survival is fitted to it (:mod:`.weibull`) and turns the curve into the domino score
(:mod:`.score`).

**Computation.** One clean pass records every segment's input and every site's output
(:mod:`.reference`). Then, layer by layer, an engine ablates the channels ``K`` at a time,
re-running only from the layer's own segment: ``method="exact"`` zeroes them
(:mod:`.exact`), ``method="jvp"`` takes the first-order estimate (:mod:`.jvp`).

Example:
    >>> from labkit.models import load_model
    >>> net = load_model("resnet20", num_classes=10, in_channels=1)
    >>> curves = influence_curves(net, torch.rand(16, 1, 16, 16), layers=["layer3.1.conv1.weight"])
    >>> curves.deltas["layer3.1.conv1.weight"].shape        # 64 channels x 4 downstream depths
    torch.Size([64, 4])
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from ...data.batches import Batches, DataLike
from ...models._base import prunable_parameters
from ...models.topology import LOGITS, depth_sites, measure_module, out_channel_dim, segments, working_copy
from .ablation import Engine, LayerAblation
from .exact import ablate_exact
from .jvp import ablate_jvp
from .reference import POINT_TAG, Reference, reference_pass

__all__ = ["InfluenceCurves", "influence_curves", "survival", "METHODS", "ENGINES", "FIT_DEPTHS"]

#: ``method=`` name -> ablation engine.
ENGINES: dict[str, Engine] = {"exact": ablate_exact, "jvp": ablate_jvp}
METHODS = tuple(ENGINES)
#: Depth sites a layer needs after it for a Weibull decay fit: S(t) at t = 0, 1, 2 (two points with t >= 1).
FIT_DEPTHS = 3


@dataclass
class InfluenceCurves:
    """Ablation curves ``Δ_d`` for every channel of every layer (see the module docstring).

    Attributes:
        deltas: ``{layer: (C, T) tensor}``, column ``d − 1`` holds ``Δ_d`` (``d = 1..T``).
        sites: ``{layer: [site names for d = 1..T]}``; the last may be ``"logits"``.
        own_site: ``{layer: the site right after the ablation point (d = 0)}``.
        depths: ``{layer: number of sites after the own site, down to the logits}``: the ``T``
            of the score's sum (more than the measured ``T`` when ``horizon`` cuts the curves).
        method: ``"exact"`` or ``"jvp"``.
        n_items: calibration items averaged over.
        seconds: wall time of the computation.
        meta: ``horizon`` and the ``sites`` used.
    """

    deltas: dict[str, Tensor]
    sites: dict[str, list[str]]
    own_site: dict[str, str]
    depths: dict[str, int]
    method: str
    n_items: int
    seconds: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def layers(self) -> list[str]:
        return list(self.deltas)

    def survival(self, layer: str) -> Tensor:
        """``S(t) = Δ_{t+1} / Δ_1`` for every channel of ``layer``, shape ``(C, T)``."""
        if layer not in self.deltas:
            raise KeyError(f"no curves for layer {layer!r}; layers: {', '.join(self.deltas)}")
        return survival(self.deltas[layer])


def survival(deltas: Tensor) -> Tensor:
    """``S(t) = Δ_{t+1} / Δ_1`` row-wise (``S(0) = 1``); a row with ``Δ_1 = 0`` (dead channel) is all 0.

    Example:
        >>> survival(torch.tensor([[0.4, 0.2, 0.1], [0.0, 0.0, 0.0]]))
        tensor([[1.0000, 0.5000, 0.2500],
                [0.0000, 0.0000, 0.0000]])
    """
    d = torch.as_tensor(deltas, dtype=torch.float64)
    if d.dim() == 1:
        return survival(d[None])[0]
    first = d[:, :1]
    live = first > 0
    return torch.where(live, d / torch.where(live, first, torch.ones_like(first)), torch.zeros_like(d)).float()


def influence_curves(model: nn.Module, data: DataLike, layers: Sequence[str] | None = None, *,
                     method: str = "exact", horizon: int | None = None, max_items: int = 64,
                     chunk_items: int = 2048, sites: Sequence[str] | None = None, min_depths: int = 1,
                     channels_last: bool = True, progress: Callable[[str], None] | None = None) -> InfluenceCurves:
    """Ablation curves ``Δ_d(i)`` of every channel of ``layers`` (see the module docstring).

    Args:
        model: any network whose ``stages(model)`` compose to ``model(x)``; not modified
            (a working copy in eval mode is used).
        data: calibration inputs: a tensor, an ``(x, y)`` pair, a Split or batches; the first
            ``max_items`` are used.
        layers: conv / linear weight names; default ``prunable_parameters(model)``.
        method: ``"exact"`` (zero the channel and re-run downstream) or ``"jvp"`` (first order).
        horizon: measure at most this many downstream depths (``D`` of §5.2); default all,
            down to the logits.
        max_items: calibration items (``B``); the cost is linear in it.
        chunk_items: ablated copies per forward pass (``K·B``); bounds memory.
        sites: depth-site module names in execution order (default
            :func:`~labkit.models.topology.depth_sites`).
        min_depths: refuse, before any ablation, a layer with fewer depth sites than this after
            its own (:data:`FIT_DEPTHS` = 3 is what a Weibull decay fit needs; 1 measures ``Δ_1`` only).
        channels_last: run convs in NHWC order (faster on CPUs with oneDNN).
        progress: called with each layer name as it starts.

    Raises:
        KeyError: unknown layer or site. ValueError: a layer with fewer than ``min_depths``
        depth sites after it (the message says what can still be measured and why the model has
        so few sites), a bad ``method`` / ``horizon``, or a model whose stages do not compose to
        its output.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if horizon is not None and (not isinstance(horizon, int) or horizon < 1):
        raise ValueError(f"horizon must be a positive int (downstream depths) or None for all, got {horizon!r}")
    t0 = time.perf_counter()
    work, x = _working_inputs(model, data, int(max_items), channels_last)
    names = list(layers) if layers is not None else prunable_parameters(model)
    params = dict(work.named_parameters())
    unknown = [n for n in names if n not in params]
    if unknown:
        raise KeyError(f"unknown layer(s) {unknown}; layers are conv / linear weight names such as "
                       f"{', '.join(prunable_parameters(model)[:3])}")
    segs = segments(work)
    site_names, site_mods = _sites(work, x, sites)
    points = {n: measure_module(work, n) for n in names}
    inv = {m: n for n, m in work.named_modules()}
    point_names = {n: inv[m] for n, m in points.items()}
    # Each measurement point once, with the channel axis of the first layer measured there.
    unique = {pn: next(n for n, p in point_names.items() if p == pn) for pn in dict.fromkeys(point_names.values())}
    ref = reference_pass(work, segs, x, site_mods,
                         {pn: (points[n], out_channel_dim(work, n)) for pn, n in unique.items()})

    curves = InfluenceCurves({}, {}, {}, {}, method, len(x), 0.0, {"horizon": horizon, "sites": site_names})
    where = {n: _layer_sites(n, point_names[n], ref, horizon) for n in names}
    for n, (_, depths, down) in where.items():
        if depths < max(1, int(min_depths)):
            raise ValueError(_too_shallow(work, n, depths, down, int(min_depths), len(segs)))
    for n in names:
        own, depths, down = where[n]
        curves.own_site[n], curves.depths[n], curves.sites[n] = own, depths, down
        if progress is not None:
            progress(n)
        job = LayerAblation(points[n], ref.segment_of[points[n]], int(params[n].shape[0]), out_channel_dim(work, n),
                            down, max(1, int(chunk_items) // len(x)))
        d = ENGINES[method](ref, job)
        # Zeroing a channel that is already zero changes nothing; the re-run differs only by float
        # noise (other batch sizes pick other kernels), so those rows are set to exactly 0.
        d[~ref.nonzero[point_names[n]]] = 0.0
        curves.deltas[n] = d
    curves.seconds = time.perf_counter() - t0
    return curves


def _working_inputs(model: nn.Module, data: DataLike, max_items: int,
                    channels_last: bool) -> tuple[nn.Module, Tensor]:
    """A frozen working copy of ``model`` and the calibration batch, both on the model's device."""
    dev = next(model.parameters()).device
    work = working_copy(model)
    for p in work.parameters():
        p.requires_grad_(False)
    x = _calibration_inputs(data, max_items).to(dev)
    if channels_last and x.dim() == 4:
        work = work.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    return work, x


def _calibration_inputs(data: DataLike, max_items: int) -> Tensor:
    """The first ``max_items`` inputs of ``data`` (a tensor, an ``(x, y)`` pair, a Split or batches)."""
    if isinstance(data, Tensor):
        x = data
    elif isinstance(data, Batches) and data.x is not None:
        x = data.x
    else:
        b = data if isinstance(data, Batches) else Batches(data)
        parts, n = [], 0
        for xb, _ in b:
            parts.append(xb.cpu())
            n += len(xb)
            if n >= max_items:
                break
        if not parts:
            raise ValueError("data is empty; pass at least one calibration item")
        x = torch.cat(parts)
    if len(x) == 0:
        raise ValueError("data is empty; pass at least one calibration item")
    return x[:max_items]


def _sites(work: nn.Module, x: Tensor, sites: Sequence[str] | None) -> tuple[list[str], dict[str, nn.Module]]:
    """Depth-site names ending with the logits, and their modules (the logits have none)."""
    site_names = list(sites) if sites is not None else depth_sites(work, x[:1])
    if site_names[-1] != LOGITS:
        site_names = site_names + [LOGITS]
    mods = dict(work.named_modules())
    bad = [s for s in site_names[:-1] if s not in mods]
    if bad:
        raise KeyError(f"unknown site(s) {bad}; sites are module names such as {', '.join(list(mods)[1:4])}")
    return site_names, {s: mods[s] for s in site_names[:-1]}


def _layer_sites(layer: str, point: str, ref: Reference, horizon: int | None) -> tuple[str, int, list[str]]:
    """``(own site, depths down to the logits, the sites to measure)`` of one layer."""
    tag = POINT_TAG + point
    if ref.order.count(tag) != 1:
        raise ValueError(f"layer {layer!r}: its output module {point!r} runs {ref.order.count(tag)} times per "
                         f"forward pass; influence needs it to run once")
    after = [e for e in ref.order[ref.order.index(tag) + 1:] if not e.startswith(POINT_TAG)] + [LOGITS]
    if len(after) < 2:
        return LOGITS, 0, []
    down = after[1:] if horizon is None else after[1:1 + horizon]
    return after[0], len(after) - 1, down


def _too_shallow(model: nn.Module, layer: str, depths: int, down: list[str], need: int, n_segments: int) -> str:
    """What can and cannot be measured for a layer with too few depth sites after it, and why."""
    from ...models.topology import ACTIVATIONS

    seen = "after its own output" + (f" ({', '.join(down)})" if down else "")
    can = ("each channel's immediate effect Δ_1 can be measured (min_depths=1; the domino score is then Δ_1 "
           "itself), but not how it decays: a Weibull fit needs at least "
           f"{FIT_DEPTHS} depths" if depths else "no channel effect can be measured between it and the logits")
    if not any(isinstance(m, ACTIVATIONS) for m in model.modules()) or n_segments == 1:
        why = (f"this model is {'one stage' if n_segments == 1 else 'a network'} whose activations labkit cannot "
               "follow (functional calls such as torch.relu, or one activation module reused at the top level), "
               "so its depth sites are only the conv / linear outputs; give every activation its own nn.ReLU "
               "module (or register stages) to get one site per activation")
    else:
        why = "later layers have fewer sites after them; pick an earlier layer"
    last = " (the classifier is left out with exclude_last=True)" if not depths else ""
    return f"layer {layer!r} has {depths} depth site(s) {seen} and {need} are needed: {can}. Why: {why}{last}."
