"""The filter path a user runs on any model: score filters, rank them globally, mask, compact.

:func:`filter_path` is the pipeline of docs/design.md §1 at filter granularity, end to end::

    score(model, "magnitude", granularity="filter")        # one L1 norm per output channel
      -> Ranking(...).masks(s, mode="global", normalize="l2", min_keep=0.1)
      -> compact(model, masks, x)                          # the physically smaller network
      == apply_masks(model, masks)                         # on the same input, up to float noise

and reports what happened: timings, parameter counts, whether the compacted and the masked
model agree, and how many masked channels a coupled group still needed (``kept_zeroed``).
``tests/models/test_torchvision_zoo.py`` runs it on one model of every torchvision family and
``benchmarks/zoo.py`` times it next to Torch-Pruning.

Example:
    >>> from labkit.models.torchvision_zoo import build, example
    >>> m = build("squeezenet1_1")
    >>> r = filter_path(m, example(m, "squeezenet1_1"))
    >>> r["agree"], r["classes"], r["params_after"] < r["params_before"]
    (True, 1000, True)
"""
from __future__ import annotations

import time
import warnings
from typing import TypedDict

import torch
from torch import Tensor, nn

from ..criteria import score
from .apply import apply_masks
from .compact import compact
from .ranking import Ranking

__all__ = ["filter_path", "FilterPathResult"]


class FilterPathResult(TypedDict):
    """What :func:`filter_path` reports (see its docstring)."""

    seconds: float
    params_before: int
    params_after: int
    classes: int
    agree: bool
    max_diff: float
    kept_zeroed: int
    sparsity: float
    model: nn.Module


def _n(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def filter_path(model: nn.Module, x: Tensor, sparsity: float = 0.3, *,
                progress: bool | None = False) -> FilterPathResult:
    """The user's filter path on ``model``; returns timings, sizes and whether outputs agree.

    ``score(model, "magnitude", granularity="filter") -> Ranking.masks(sparsity, mode="global",
    normalize="l2", min_keep=0.1)``, then ``compact(..., check=False)`` and ``apply_masks``,
    whose outputs are compared here (``compact``'s own check would run the same two forwards).
    Keys: ``seconds``, ``params_before`` / ``params_after``, ``classes`` (output width of the
    compacted model), ``agree``, ``max_diff``, ``kept_zeroed`` (masked channels their group still
    needs), ``sparsity`` and ``model`` (the compacted network).
    """
    t0 = time.perf_counter()
    masks = Ranking(score(model, "magnitude", granularity="filter")).masks(
        sparsity, mode="global", normalize="l2", min_keep=0.1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        small = compact(model, masks, x, progress=progress, check=False)
    seconds = time.perf_counter() - t0
    kept = sum(int(w.message.args[0].split()[1]) for w in caught
               if isinstance(w.message, UserWarning) and str(w.message).startswith("kept "))
    with torch.no_grad():
        a, b = apply_masks(model, masks).eval()(x), small.eval()(x)
    diff = float((a - b).abs().max()) if a.shape == b.shape else float("inf")
    agree = a.shape == b.shape and bool(torch.allclose(a, b, rtol=1e-4, atol=1e-5 * max(1.0, float(a.abs().max()))))
    return {"seconds": seconds, "params_before": _n(model), "params_after": _n(small), "classes": int(b.shape[-1]),
            "agree": agree, "max_diff": diff, "kept_zeroed": kept, "sparsity": masks.sparsity, "model": small}
