"""Domino influence: how far a channel's removal travels through the layers after it, and a Weibull fit.

DOMINOS (docs/methods.md §5.2, **[inferred]**: the thesis names the idea and the Weibull model, not
the formulas) measures a filter's *decaying* effect on later layers. For channel ``i`` of layer
``l`` (zeroed where a filter mask would zero it: the output of the BatchNorm after the conv)
and the ``d``-th depth site after the layer's own output:

    Δ_d(i) = E_x [ ‖A_{l+d}(x; i ablated) − A_{l+d}(x)‖₂ / ‖A_{l+d}(x)‖₂ ]

*Depth sites* are the network's activation modules (``nn.ReLU`` ...) in execution order, then
the logits: for a CIFAR ResNet, the stem's ReLU, then each block's ``relu1`` (inside the block)
and ``relu2`` (the block output after the addition), then the logits: 20 layers for
ResNet-20. The *own* site of a layer is the first one executed after the ablation point
(``relu1`` for a block's ``conv1``, the block output ``relu2`` for its ``conv2``); ``d = 1`` is
the site after that.

Survival: ``t = d − 1``, ``S_i(t) = Δ_{t+1}(i) / Δ_1(i)``, so ``S(0) = 1``. A Weibull survival
``S(t) = exp(−(t/λ)^k)`` is fitted on the Weibull plot (``ln(−ln S)`` against ``ln t`` is a line
of slope ``k`` and intercept ``−k ln λ``) over the points with ``t >= 1`` and
``S ∈ (ε, 1 − ε)``, with the fallbacks of §5.2 (:func:`fit_weibull`). The channel's score is
its total downstream influence, smoothed and extrapolated by the fit:

    D_i = Δ_1(i) · Σ_{t=0}^{T−1} S_fit(t)       (or, option, Δ_1 · λ Γ(1 + 1/k))

**Computation.** Exact ablation, batched: the input of every *segment* (the flattened
``nn.Sequential`` stages of the model, e.g. one residual block) is cached once; channels of a
layer are ablated ``K`` at a time by repeating the segment input ``K`` times along the batch and
zeroing channel ``c0 + j`` in copy ``j`` with a forward hook, so each ablation re-runs only the
layers from the layer's own block onward, and the forward stops as soon as the last site
needed is reached. ``method="jvp"`` replaces the difference by its first-order estimate
``‖J_{l→l+d} · (−A_l[:, i])‖`` computed with ``torch.func.jvp`` on the same batches.

Example:
    >>> from labkit import load_model
    >>> net = load_model("resnet20", num_classes=10, in_channels=1)
    >>> curves = influence_curves(net, torch.rand(16, 1, 16, 16), layers=["layer3.1.conv1.weight"])
    >>> curves.deltas["layer3.1.conv1.weight"].shape        # 64 channels x 4 downstream depths
    torch.Size([64, 4])
    >>> fits = fit_weibull(curves.survival("layer3.1.conv1.weight"))
    >>> fits.k.shape
    (64,)
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from ..models.topology import measure_module, out_channel_dim, working_copy
from ..models._base import prunable_parameters, stages
from .weibull import FIT_KINDS, WeibullFits, fit_weibull, weibull_hazard, weibull_mean, weibull_sf

__all__ = [
    "InfluenceCurves", "WeibullFits", "influence_curves", "depth_sites", "survival", "fit_weibull",
    "weibull_sf", "weibull_hazard", "weibull_mean", "domino_scores", "influence_table", "METHODS",
    "FIT_KINDS",
]

METHODS = ("exact", "jvp")
ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.Hardswish, nn.ELU)
LOGITS = "logits"


# --- the network as a chain of segments and a list of depth sites ----------------------------------
def _flatten(module: nn.Module) -> list[nn.Module]:
    if type(module) is nn.Sequential:
        return [s for child in module for s in _flatten(child)]
    return [module]


def _segments(model: nn.Module) -> list[nn.Module]:
    """Modules whose composition is ``model(x)``: the stages, with plain ``nn.Sequential`` unrolled."""
    return [s for st in stages(model) for s in _flatten(st)]


def _run(segments: Sequence[nn.Module], x: Any, start: int = 0) -> Any:
    for seg in segments[start:]:
        x = seg(x)
    return x


class _Stop(Exception):
    """Raised by a hook once the last needed site has been recorded: the rest need not run."""


def _trace(model: nn.Module, x: Tensor, watch: dict[str, nn.Module]) -> list[str]:
    """Names in ``watch`` in the order their modules run on ``x`` (one event per call)."""
    events: list[str] = []
    handles = [m.register_forward_hook(lambda _m, _i, _o, n=n: events.append(n)) for n, m in watch.items()]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return events


def depth_sites(model: nn.Module, example: Tensor) -> list[str]:
    """Names of the depth sites of ``model`` in execution order, ending with ``"logits"``.

    The sites are the activation modules (``ReLU``, ``GELU`` ...) that run exactly once per
    forward pass; a model without any uses the measurement points (the BatchNorm after each
    conv / linear, see :func:`labkit.criteria.measure_module`).

    Example:
        >>> import torch; from labkit import load_model
        >>> depth_sites(load_model("resnet20", in_channels=1), torch.zeros(1, 1, 16, 16))[:3]
        ['stem.relu', 'layer1.0.relu1', 'layer1.0.relu2']
    """
    named = {n: m for n, m in model.named_modules() if isinstance(m, ACTIVATIONS)}
    if not named:
        names = prunable_parameters(model, exclude_first=False, exclude_last=True)
        inv = {m: n for n, m in model.named_modules()}
        named = {inv[measure_module(model, p)]: measure_module(model, p) for p in names}
    was = model.training
    model.eval()
    try:
        events = _trace(model, example, named)
    finally:
        model.train(was)
    twice = sorted({n for n in events if events.count(n) > 1})
    return [n for n in dict.fromkeys(events) if n not in twice] + [LOGITS]


# --- curves -----------------------------------------------------------------------------------------
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


def _batch(data: Any, max_items: int) -> Tensor:
    """The first ``max_items`` inputs of ``data`` (a tensor, an ``(x, y)`` pair, a Split or batches)."""
    from ..data.batches import Batches

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


def influence_curves(model: nn.Module, data: Any, layers: Sequence[str] | None = None, *,
                     method: str = "exact", horizon: int | None = None, max_items: int = 64,
                     chunk_items: int = 2048, sites: Sequence[str] | None = None,
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
        sites: depth-site module names in execution order (default :func:`depth_sites`).
        channels_last: run convs in NHWC order (faster on CPUs with oneDNN).
        progress: called with each layer name as it starts.

    Raises:
        KeyError: unknown layer or site. ValueError: a layer with no depth site after it
        (the last layer), a bad ``method`` / ``horizon``, or a model whose stages do not
        compose to its output.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if horizon is not None and (not isinstance(horizon, int) or horizon < 1):
        raise ValueError(f"horizon must be a positive int (downstream depths) or None for all, got {horizon!r}")
    t0 = time.perf_counter()
    dev = next(model.parameters()).device
    work = working_copy(model)
    for p in work.parameters():
        p.requires_grad_(False)
    x = _batch(data, int(max_items)).to(dev)
    if channels_last and x.dim() == 4:
        work = work.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    names = list(layers) if layers is not None else prunable_parameters(model)
    params = dict(work.named_parameters())
    unknown = [n for n in names if n not in params]
    if unknown:
        raise KeyError(f"unknown layer(s) {unknown}; layers are conv / linear weight names such as "
                       f"{', '.join(prunable_parameters(model)[:3])}")
    segs = _segments(work)
    site_names = list(sites) if sites is not None else depth_sites(work, x[:1])
    if site_names[-1] != LOGITS:
        site_names = site_names + [LOGITS]
    mods = dict(work.named_modules())
    bad = [s for s in site_names[:-1] if s not in mods]
    if bad:
        raise KeyError(f"unknown site(s) {bad}; sites are module names such as {', '.join(list(mods)[1:4])}")
    site_mods = {s: mods[s] for s in site_names[:-1]}
    meas = {n: measure_module(work, n) for n in names}
    inv = {m: n for n, m in work.named_modules()}
    meas_names = {n: inv[m] for n, m in meas.items()}

    # Reference pass: each segment's input, each site's output, and the order things run in.
    seg_in: list[Tensor] = []
    ref: dict[str, Tensor] = {}
    order: list[str] = []
    handles = []
    def keep(name: str) -> Callable:
        def hook(_m: nn.Module, _i: Any, o: Tensor) -> None:
            ref[name] = o.detach()
            order.append(name)
        return hook

    for s, m in site_mods.items():
        handles.append(m.register_forward_hook(keep(s)))
    nonzero: dict[str, Tensor] = {}  # channels whose ablation point is not identically zero

    def mark(mname: str, dim: int) -> Callable:
        def hook(_m: nn.Module, _i: Any, o: Tensor) -> None:
            order.append("@" + mname)
            nonzero[mname] = (o != 0).movedim(dim, -1).reshape(-1, o.shape[dim]).any(dim=0).cpu()
        return hook

    for mname in dict.fromkeys(meas_names.values()):
        first = next(n for n, mn in meas_names.items() if mn == mname)
        handles.append(mods[mname].register_forward_hook(mark(mname, out_channel_dim(work, first))))
    try:
        with torch.no_grad():
            h = x
            for seg in segs:
                seg_in.append(h)
                h = seg(h)
            ref[LOGITS] = h
    finally:
        for hd in handles:
            hd.remove()
    with torch.no_grad():
        full = work(x)
    if not torch.allclose(full, h, rtol=1e-4, atol=1e-5):
        raise ValueError("the model's stages do not compose to its forward pass; influence_curves needs "
                         "stages(model) (labkit.models.stages) to reproduce model(x)")
    ref_norm = {s: _item_norm(v) for s, v in ref.items()}
    seg_of = _segment_of(segs)

    deltas: dict[str, Tensor] = {}
    layer_sites: dict[str, list[str]] = {}
    own: dict[str, str] = {}
    depths: dict[str, int] = {}
    for n in names:
        tag = "@" + meas_names[n]
        if order.count(tag) != 1:
            raise ValueError(f"layer {n!r}: its output module {meas_names[n]!r} runs {order.count(tag)} times per "
                             f"forward pass; influence needs it to run once")
        after = [e for e in order[order.index(tag) + 1:] if not e.startswith("@")] + [LOGITS]
        if len(after) < 2:
            raise ValueError(f"layer {n!r} has no depth site after its own output (it feeds the logits directly); "
                             f"leave it out (exclude_last=True)")
        own[n] = after[0]
        depths[n] = len(after) - 1
        down = after[1:] if horizon is None else after[1:1 + horizon]
        layer_sites[n] = down
        if progress is not None:
            progress(n)
        fn = _ablate_exact if method == "exact" else _ablate_jvp
        d = fn(segs, seg_of[meas[n]], seg_in, meas[n], int(params[n].shape[0]), out_channel_dim(work, n),
               down, site_mods, ref, ref_norm, max(1, int(chunk_items) // len(x)))
        # Zeroing a channel that is already zero changes nothing; the re-run differs only by float
        # noise (other batch sizes pick other kernels), so those rows are set to exactly 0.
        d[~nonzero[meas_names[n]]] = 0.0
        deltas[n] = d
    return InfluenceCurves(deltas, layer_sites, own, depths, method, len(x), time.perf_counter() - t0,
                           {"horizon": horizon, "sites": site_names})


def _item_norm(t: Tensor) -> Tensor:
    return t.reshape(len(t), -1).norm(dim=1).clamp_min(1e-12)


def _segment_of(segs: Sequence[nn.Module]) -> dict[nn.Module, int]:
    out: dict[nn.Module, int] = {}
    for i, seg in enumerate(segs):
        for m in seg.modules():
            out.setdefault(m, i)
    return out


def _channel_mask(k: int, c0: int, channels: int, item_shape: torch.Size, dim: int, like: Tensor) -> Tensor:
    """A ``(k, 1, *item_shape)``-broadcastable 0/1 multiplier: copy ``j`` has channel ``c0 + j`` zeroed.

    ``dim`` is the channel axis of the batched output (1 for ``(N, C, H, W)``, -1 for ``(N, C)``).
    """
    nd = len(item_shape)
    axis = (dim - 1 if dim > 0 else dim) % nd  # channel axis within one item
    view = [k, 1] + [1] * nd
    view[2 + axis] = channels
    m = torch.ones(view, dtype=like.dtype, device=like.device)
    j = torch.arange(k, device=like.device)
    sel = [j] + [torch.zeros_like(j)] * (nd + 1)
    sel[2 + axis] = c0 + j
    m[tuple(sel)] = 0
    return m


def _record(out: Tensor, s: str, k: int, ref: dict[str, Tensor], ref_norm: dict[str, Tensor],
            diff: bool) -> Tensor:
    """Mean over items of ``‖out_j − ref‖ / ‖ref‖`` (or ``‖out_j‖ / ‖ref‖`` for a tangent) per copy j."""
    b = len(ref[s])
    a = out.reshape(k, b, -1)
    if diff:
        a = a - ref[s].reshape(1, b, -1)
    return (a.norm(dim=2) / ref_norm[s].reshape(1, b)).mean(dim=1)


def _ablate_exact(segs: Sequence[nn.Module], start: int, seg_in: list[Tensor], meas: nn.Module, channels: int,
                  dim: int, down: list[str], site_mods: dict[str, nn.Module], ref: dict[str, Tensor],
                  ref_norm: dict[str, Tensor], per_pass: int) -> Tensor:
    x0 = seg_in[start]
    b = len(x0)
    result = torch.zeros(channels, len(down), dtype=torch.float64)
    col = {s: j for j, s in enumerate(down)}
    for c0 in range(0, channels, per_pass):
        k = min(per_pass, channels - c0)

        def zero(_m: nn.Module, _i: Any, o: Tensor) -> Tensor:
            mask = _channel_mask(k, c0, channels, o.shape[1:], dim, o)
            return (o.reshape(k, b, *o.shape[1:]) * mask).reshape(o.shape)

        def site_hook(s: str) -> Callable:
            def hook(_m: nn.Module, _i: Any, o: Tensor) -> None:
                result[c0:c0 + k, col[s]] = _record(o, s, k, ref, ref_norm, True).double().cpu()
                if s == down[-1]:
                    raise _Stop  # nothing after this site is needed
            return hook

        handles = [meas.register_forward_hook(zero)]
        handles += [site_mods[s].register_forward_hook(site_hook(s)) for s in down if s != LOGITS]
        try:
            with torch.no_grad():
                out = _run(segs, x0.repeat(k, *([1] * (x0.dim() - 1))), start)
            result[c0:c0 + k, col[LOGITS]] = _record(out, LOGITS, k, ref, ref_norm, True).double().cpu()
        except _Stop:
            pass
        finally:
            for hd in handles:
                hd.remove()
    return result.float()


def _ablate_jvp(segs: Sequence[nn.Module], start: int, seg_in: list[Tensor], meas: nn.Module, channels: int,
                dim: int, down: list[str], site_mods: dict[str, nn.Module], ref: dict[str, Tensor],
                ref_norm: dict[str, Tensor], per_pass: int) -> Tensor:
    from torch.func import jvp

    x0 = seg_in[start]
    b = len(x0)
    # The value that ablation removes: the measurement output of every item, for every channel.
    captured: dict[str, Tensor] = {}
    h = meas.register_forward_hook(lambda _m, _i, o: captured.__setitem__("a", o.detach()))
    try:
        with torch.no_grad():
            segs[start](x0)
    finally:
        h.remove()
    a = captured["a"]
    result = torch.zeros(channels, len(down), dtype=torch.float64)
    for c0 in range(0, channels, per_pass):
        k = min(per_pass, channels - c0)
        keep = _channel_mask(k, c0, channels, a.shape[1:], dim, a)
        tangent = -((1 - keep) * a.unsqueeze(0)).reshape(k * b, *a.shape[1:])
        xk = x0.repeat(k, *([1] * (x0.dim() - 1)))

        def f(delta: Tensor) -> tuple[Tensor, ...]:
            outs: dict[str, Tensor] = {}
            hs = [meas.register_forward_hook(lambda _m, _i, o: o + delta)]
            hs += [site_mods[s].register_forward_hook(lambda _m, _i, o, s=s: outs.__setitem__(s, o))
                   for s in down if s != LOGITS]
            try:
                outs[LOGITS] = _run(segs, xk, start)
            finally:
                for hd in hs:
                    hd.remove()
            return tuple(outs[s] for s in down)

        _, tangents = jvp(f, (torch.zeros_like(tangent),), (tangent,))
        for j, (s, tg) in enumerate(zip(down, tangents)):
            result[c0:c0 + k, j] = _record(tg.detach(), s, k, ref, ref_norm, False).double().cpu()
    return result.float()


# --- the score --------------------------------------------------------------------------------------
def domino_scores(deltas: Tensor, fits: WeibullFits, mode: str = "sum", depths: int | None = None) -> Tensor:
    """``D_i = Δ_1(i) · Σ_{t=0}^{T−1} S_fit(t)`` (``mode="sum"``) or ``Δ_1 · λΓ(1 + 1/k)`` (``"closed"``).

    ``depths`` is ``T``, the number of layers down to the logits (default: the measured depths,
    ``fits.horizon``); with a shorter measured horizon the fit extrapolates. Dead channels
    (``Δ_1 = 0``) score 0.

    Example:
        >>> d = torch.tensor([[0.5, 0.25, 0.125]])
        >>> float(domino_scores(d, fit_weibull(survival(d))))   # 0.5 * (1 + 0.5 + 0.25)
        0.875
    """
    if mode not in ("sum", "closed"):
        raise ValueError(f"mode must be 'sum' or 'closed', got {mode!r}")
    T = fits.horizon if depths is None else int(depths)
    d1 = np.asarray(torch.as_tensor(deltas)[:, 0].double().cpu().numpy())
    if mode == "sum":
        total = fits.sf(np.arange(T)).sum(axis=1)
    else:
        total = weibull_mean(fits.k, fits.lam)
    out = np.where(np.isfinite(total) & (d1 > 0), d1 * np.nan_to_num(total), 0.0)
    return torch.as_tensor(out, dtype=torch.float32)


def influence_table(curves: InfluenceCurves, fits: dict[str, WeibullFits] | None = None,
                    mode: str = "sum") -> pd.DataFrame:
    """One row per channel: ``layer, channel, depths, delta1, k, lam, r2, n_points, kind, D``.

    ``fits`` defaults to :func:`fit_weibull` of each layer's survival curves.
    """
    rows = []
    for layer, d in curves.deltas.items():
        f = fits[layer] if fits is not None else fit_weibull(survival(d))
        D = domino_scores(d, f, mode, depths=curves.depths[layer])
        rows.append(pd.DataFrame({
            "layer": layer, "channel": np.arange(len(d)), "depths": d.shape[1], "delta1": d[:, 0].numpy(),
            "k": f.k, "lam": f.lam, "r2": f.r2, "n_points": f.n_points, "kind": f.kind.astype(str),
            "D": D.numpy()}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["layer", "channel", "depths", "delta1", "k", "lam", "r2", "n_points", "kind", "D"])
