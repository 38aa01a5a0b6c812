"""Wanda's saliency ``|W_ij| · ‖X_j‖₂``: a weight matters as much as the inputs it multiplies.

Used by the greedy ``wanda`` search and the saliency-seeded GA (Sun et al. 2023, "A Simple and
Effective Pruning Approach for Large Language Models", arXiv 2306.11695).

Example:
    >>> net = nn.Sequential(nn.Linear(2, 1))
    >>> with torch.no_grad():
    ...     _ = net[0].weight.copy_(torch.tensor([[1.0, -2.0]]))
    >>> wanda_saliency(net, ["0.weight"], torch.tensor([[3.0, 0.0], [4.0, 1.0]]))["0.weight"]
    tensor([[5., 2.]])
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["wanda_saliency"]


def wanda_saliency(model: nn.Module, layers: Sequence[str], x: Tensor) -> dict[str, Tensor]:
    """Wanda's ``|W_ij| * ||X_j||_2`` (Sun et al. 2023, arXiv 2306.11695) per weight.

    ``X_j`` is input feature ``j`` of the layer over all items (and positions): for a linear
    layer an input column, for a conv an input channel (the same norm for every kernel tap).
    The model runs once on ``x`` in eval mode and is left in the mode it had.
    """
    norms: dict[str, Tensor] = {}

    def hook_for(name: str) -> Callable:
        def hook(m: nn.Module, args: tuple[Any, ...]) -> None:
            a = args[0].detach().double()
            s = a.pow(2).sum(dim=(0, 2, 3)) if a.dim() == 4 else a.reshape(-1, a.shape[-1]).pow(2).sum(0)
            norms[name] = norms.get(name, 0) + s
        return hook

    mods = {n: model.get_submodule(n.rsplit(".", 1)[0]) for n in layers}
    handles = [m.register_forward_pre_hook(hook_for(n)) for n, m in mods.items()]
    was = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was)
    out = {}
    for n in layers:
        w = model.get_parameter(n).detach()
        col = norms[n].sqrt().float().to(w.device)
        shape = (1, -1) + (1,) * (w.dim() - 2)
        out[n] = (w.abs() * col.view(shape)).cpu()
    return out
