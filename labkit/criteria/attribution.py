"""Attribution criteria (captum): how much does channel k carry the evidence for the class?

Each wraps a captum *layer* attribution method on the layer's measurement point (the BatchNorm
after the conv, see :mod:`labkit.models.topology`) and reduces it to one number per output
channel: the mean over items of ``|sum over positions of attr_n[k]|``, i.e. the size of the
channel's total contribution to the item's class logit.

============================  ===============================  ==========================================
name                          captum class                     what it attributes
============================  ===============================  ==========================================
``conductance``               ``LayerConductance``             integrated-gradients flow through the
                                                               channel (Dhamdhere et al. 2018, arXiv 1805.12233)
``grad_x_activation``         ``LayerGradientXActivation``     ``A_k * dy/dA_k`` (Shrikumar et al. 2016)
``internal_influence``        ``InternalInfluence``            gradient of y w.r.t. the channel, integrated
                                                               along the input path (Leino et al. 2018,
                                                               arXiv 1802.03788); a sensitivity, so a dead
                                                               channel can still score high
============================  ===============================  ==========================================

The class target is each item's own label. ``score(..., target=c)`` or ``target=[c1, c2]``
keeps only the items of those classes (e.g. the few-shot classes of a long-tailed set, to find
the filters the tail relies on); ``target=None`` uses every item. ``n_steps`` sets the number
of integration steps for the two path methods (captum's default is 50; 16 is plenty for ranking).
captum is imported only when one of these runs.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from labkit.criteria import score
    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
    ...                     nn.Conv2d(4, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.LazyLinear(3))
    >>> x, y = torch.randn(9, 1, 8, 8), torch.arange(9) % 3
    >>> _ = net(x)
    >>> sc = score(net, "conductance", data=(x, y), granularity="filter", target=[2], n_steps=8)
    >>> sc["3.weight"].shape
    torch.Size([4])
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from ..data.batches import Batches
from ..models.topology import measure_module, out_channel_dim, working_copy
from ._core import register_criterion

__all__ = ["layer_attribution", "conductance", "grad_x_activation", "internal_influence"]


def _captum_class(method: str) -> type:
    try:
        from captum import attr
    except ImportError as e:  # captum is in the [lab] extra, not a core dependency
        raise ImportError("attribution criteria need captum: pip install 'labkit[lab]' (or pip install captum)") from e
    return {"conductance": attr.LayerConductance, "grad_x_activation": attr.LayerGradientXActivation,
            "internal_influence": attr.InternalInfluence}[method]


def layer_attribution(model: nn.Module, layers: list[str], data: Batches, method: str,
                      n_steps: int = 16) -> dict[str, Tensor]:
    """Per-channel mean over items of ``|sum_positions attr|`` for captum layer method ``method``."""
    cls = _captum_class(method)
    work = working_copy(model)
    kwargs: dict[str, Any] = {} if method == "grad_x_activation" else {"n_steps": int(n_steps)}
    out: dict[str, Tensor] = {}
    batches = list(data)
    for name in layers:
        explainer = cls(work, measure_module(work, name))
        dim = out_channel_dim(work, name)
        total, n_items = None, 0
        for x, y in batches:
            a = explainer.attribute(x, target=y, **kwargs).detach()
            a = a.movedim(dim, -1)
            per_item = a.reshape(a.shape[0], -1, a.shape[-1]).sum(dim=1).abs().double().sum(dim=0)
            total = per_item if total is None else total + per_item
            n_items += a.shape[0]
        assert total is not None
        out[name] = (total / n_items).float()
    return out


def _register(name: str, summary: str) -> Callable:
    @register_criterion(name, needs_data=True, needs_labels=True, granularities=("filter",), summary=summary)
    def criterion(model: nn.Module, layers: list[str], *, data: Batches, granularity: str = "filter",
                  target: Any = None, n_steps: int = 16) -> dict[str, Tensor]:
        return layer_attribution(model, layers, data, name, n_steps=n_steps)

    criterion.__name__ = criterion.__qualname__ = name
    criterion.__doc__ = f"{summary}. ``target`` selects the classes whose items are used (None = all)."
    return criterion


conductance = _register("conductance", "captum LayerConductance per channel")
grad_x_activation = _register("grad_x_activation", "captum LayerGradientXActivation per channel")
internal_influence = _register("internal_influence", "captum InternalInfluence per channel")
