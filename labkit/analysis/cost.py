"""What a model costs: parameters, MACs and a measured latency.

- ``params``: all parameter elements; ``nonzero_params``: those that are not exactly zero
  (what a masked model really keeps).
- ``MACs``: multiply-accumulates of one forward pass per input item, from
  ``torch.utils.flop_counter.FlopCounterMode`` divided by 2 (it counts 2 FLOPs per MAC:
  ``mm_flop`` returns ``m*n*2*k``). Analytically (docs/methods.md §0.1): a conv costs
  ``H_out * W_out * C_out * (C_in / groups) * k^2``, a linear ``N * C_in * C_out``; biases,
  norms and activations are not counted. Always labelled MACs, never FLOPs.
- ``nonzero_MACs``: the same count with every conv / linear charged only for its nonzero
  weights (``H_out * W_out * nnz(W)``): the work a sparse kernel would do. Dense hardware still
  does ``MACs``; only :func:`~labkit.pruning.compact` turns the difference into time.
- ``latency_ms``: median wall time of ``repeats`` forward passes of a ``batch_size`` batch on
  ``device`` after ``warmup`` passes, in eval mode without autograd.

Example:
    >>> net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(), nn.Linear(8 * 30 * 30, 10))
    >>> c = cost(net, (3, 32, 32), latency=False)
    >>> c["MACs"] == 30 * 30 * 8 * 3 * 9 + 8 * 30 * 30 * 10, c["params"]
    (True, 72234)
"""
from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from ..runtime import resolve_device

__all__ = ["MaskedCost", "cost", "count_macs", "layer_macs", "output_positions"]


def layer_macs(layer: nn.Conv2d | nn.Linear, output: Tensor, weights: int | None = None) -> int:
    """MACs of one ``nn.Conv2d`` / ``nn.Linear`` call: output positions × weight elements.

    A conv's output position (item × ``H_out`` × ``W_out``) costs ``C_out·C_in/groups·k²`` MACs,
    the number of weight elements; a linear's (one token) ``C_in·C_out``, again the weight count
    (docs/methods.md §0.1; biases are not counted). ``weights`` replaces the weight count (e.g. the
    nonzero weights, for the work a sparse kernel would do).

    Example:
        >>> conv = nn.Conv2d(3, 8, 3)
        >>> layer_macs(conv, conv(torch.zeros(1, 3, 32, 32))) == 30 * 30 * 8 * 3 * 9
        True
    """
    return _positions(layer, output) * (layer.weight.numel() if weights is None else weights)


def _positions(layer: nn.Module, output: Tensor) -> int:
    """Output positions of one conv / linear call: items x ``H_out`` x ``W_out``, or items x tokens."""
    return output.numel() // (output.shape[1] if isinstance(layer, nn.Conv2d) else output.shape[-1])


def _weighted(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The conv / linear modules whose MACs scale with their nonzero weights, with weight names."""
    return [(f"{n}.weight" if n else "weight", m) for n, m in model.named_modules()
            if isinstance(m, (nn.Conv2d, nn.Linear)) and getattr(m, "weight", None) is not None]


def output_positions(model: nn.Module, example: Tensor) -> dict[str, int]:
    """Output positions per input item of every conv / linear, keyed by weight name.

    A position is where one output feature is computed once: ``H_out * W_out`` for a conv, the
    number of tokens (every dimension but the batch and the last) for a linear, so a linear on a
    ``(N, 5, 8)`` input has 5. A module called twice per forward pass counts twice. Its weight
    costs ``positions * nnz(W)`` nonzero MACs per item.

    Example:
        >>> net = nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 2))
        >>> output_positions(net, torch.zeros(3, 5, 8))
        {'0.weight': 5, '2.weight': 5}
    """
    n_items = example.shape[0]
    pos: dict[str, int] = {}
    handles = []
    for name, m in _weighted(model):
        def hook(mod: nn.Module, _inp: Any, out: Tensor, name: str = name) -> None:
            pos[name] = pos.get(name, 0) + _positions(mod, out) // n_items
        handles.append(m.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(example)
    finally:
        for h in handles:
            h.remove()
    return pos


def _zero_macs(model: nn.Module, positions: dict[str, int]) -> int:
    """MACs per item that zero weights of ``model`` would skip: ``sum positions * (numel - nnz)``."""
    return sum(positions[n] * (p.numel() - int(torch.count_nonzero(p)))
               for n, p in model.named_parameters() if n in positions)


def count_macs(model: nn.Module, example: Tensor) -> tuple[int, int]:
    """``(MACs, nonzero_MACs)`` of ``model(example)``, per item of the batch."""
    positions = output_positions(model, example)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(example)
    macs = fc.get_total_flops() // 2 // example.shape[0]
    return macs, macs - _zero_macs(model, positions)


class MaskedCost:
    """Params and MACs of masked copies of one architecture, counted without a forward pass.

    Built once on the dense model (one pass with a flop counter and the output positions); each
    call then counts the nonzero weights of a model of the same architecture, which is what a
    slider move needs (:func:`cost` would run the model again). The numbers equal :func:`cost`'s.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(), nn.Linear(8 * 30 * 30, 10))
        >>> counter = MaskedCost(net, (3, 32, 32))
        >>> with torch.no_grad():
        ...     _ = net[0].weight[:4].zero_()
        >>> counter(net)["nonzero_MACs"] == cost(net, (3, 32, 32), latency=False)["nonzero_MACs"]
        True
    """

    def __init__(self, model: nn.Module, input_shape: Sequence[int]) -> None:
        params = list(model.parameters())
        dev = params[0].device if params else torch.device("cpu")
        example = torch.randn(1, *(int(s) for s in input_shape), device=dev)
        was = model.training
        model.eval()
        try:
            self.positions = output_positions(model, example)
            with torch.no_grad(), FlopCounterMode(display=False) as fc:
                model(example)
        finally:
            model.train(was)
        self.params = sum(p.numel() for p in params)
        self.macs = fc.get_total_flops() // 2

    def __call__(self, model: nn.Module) -> dict[str, int]:
        """``params, nonzero_params, MACs, nonzero_MACs`` of ``model`` (same architecture) as it is now."""
        return {"params": self.params,
                "nonzero_params": sum(int(torch.count_nonzero(p)) for p in model.parameters()),
                "MACs": self.macs, "nonzero_MACs": self.macs - _zero_macs(model, self.positions)}


def cost(model: nn.Module, input_shape: Sequence[int], batch_size: int = 1,
         device: str | torch.device | None = None, latency: bool = True, warmup: int = 3,
         repeats: int = 20) -> dict[str, Any]:
    """Parameters, MACs (per item) and median latency of ``model`` on inputs of ``input_shape``.

    Args:
        model: any module; not modified (it is copied if it must move to another device).
        input_shape: one item's shape, e.g. ``(3, 32, 32)``.
        batch_size: items per timed forward pass.
        device: where to time it (default: the model's device).
        latency: measure the latency (``False`` skips it: ``latency_ms`` is ``None``).

    Returns:
        ``{"params", "nonzero_params", "MACs", "nonzero_MACs", "latency_ms", "batch_size",
        "device", "input_shape"}``.
    """
    shape = tuple(int(s) for s in input_shape)
    if len(shape) < 1 or any(s <= 0 for s in shape):
        raise ValueError(f"input_shape must be one item's shape such as (3, 32, 32), got {tuple(input_shape)}")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    params = list(model.parameters())
    here = params[0].device if params else torch.device("cpu")
    dev = here if device is None else resolve_device(device)
    work = model if dev == here else copy.deepcopy(model).to(dev)
    was = work.training
    work.eval()
    try:
        macs, nz_macs = count_macs(work, torch.randn(1, *shape, device=dev))
        ms = _latency_ms(work, torch.randn(int(batch_size), *shape, device=dev), warmup, repeats) if latency else None
    finally:
        work.train(was)
    return {
        "params": sum(p.numel() for p in params),
        "nonzero_params": sum(int(torch.count_nonzero(p)) for p in params),
        "MACs": int(macs),
        "nonzero_MACs": int(nz_macs),
        "latency_ms": ms,
        "batch_size": int(batch_size),
        "device": str(dev),
        "input_shape": shape,
    }


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elif dev.type == "mps":
        torch.mps.synchronize()


def _latency_ms(model: nn.Module, x: Tensor, warmup: int, repeats: int) -> float:
    times = []
    with torch.inference_mode():
        for _ in range(max(0, warmup)):
            model(x)
        _sync(x.device)
        for _ in range(max(1, repeats)):
            t0 = time.perf_counter()
            model(x)
            _sync(x.device)
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)
