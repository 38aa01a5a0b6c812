"""Cosine classifier heads, the setting LDAM's scale ``s = 30`` was designed for.

A ``NormedLinear`` layer outputs ``cos(feature, class vector)``: features and each class's
weight row are L2-normalised, so logits lie in [−1, 1] and the class-vector norms can no longer
encode class frequency (tail classes otherwise get smaller rows; Kang et al. 2020,
arXiv 1910.09217). It is the layer the LDAM-DRW code uses (kaidic/LDAM-DRW ``resnet_cifar.py``).

``with_normed_head(model)`` returns a *copy* whose last ``nn.Linear`` is replaced by a
``NormedLinear`` that starts from the same class directions (the bias is dropped: a cosine
head has none). The parameter keeps its name (``"fc.weight"``), so masks and scores still match.

Example:
    >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    >>> cos = with_normed_head(net)
    >>> bool(cos(torch.randn(5, 4)).abs().max() <= 1 + 1e-6), type(net[2]).__name__
    (True, 'Linear')
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..models.heads import replace_head

__all__ = ["NormedLinear", "with_normed_head"]


class NormedLinear(nn.Linear):
    """``y = normalize(x) @ normalize(W)^T``: cosine similarity to each class vector (no bias).

    A subclass of ``nn.Linear`` with weight shape ``(out_features, in_features)``, so
    ``prunable_parameters`` and masks treat it like any classifier.
    """

    def __init__(self, in_features: int, out_features: int, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__(in_features, out_features, bias=False, device=device, dtype=dtype)
        with torch.no_grad():  # the LDAM-DRW initialisation: random unit-norm class vectors
            self.weight.uniform_(-1, 1).renorm_(2, 0, 1e-5).mul_(1e5)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(F.normalize(x, dim=-1), F.normalize(self.weight, dim=-1))


def with_normed_head(model: nn.Module, name: str | None = None) -> nn.Module:
    """A deep copy of ``model`` whose classifier (``name``, default: the last ``nn.Linear``) is cosine.

    The new head keeps the old weight rows (their directions are what a cosine head uses);
    ``model`` itself is not changed (:func:`labkit.models.heads.replace_head`).
    """
    def make(old: nn.Linear) -> nn.Module:
        if isinstance(old, NormedLinear):
            return old
        head = NormedLinear(old.in_features, old.out_features, device=old.weight.device, dtype=old.weight.dtype)
        with torch.no_grad():
            head.weight.copy_(old.weight)
        return head

    return replace_head(model, make, name)
