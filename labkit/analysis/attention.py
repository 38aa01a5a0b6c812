"""What a Cross-Scale Attention block looks at: its attention weights on one image (docs/methods.md §2).

A :class:`~labkit.models.csasml.CrossScaleAttention` block lets every token of a feature map
attend to pooled tokens at several scales. :func:`attention_sample` runs one image through the
model and returns the weights the block computed (heads × queries × pooled keys), with the scales
and the map size to draw them (:func:`labkit.views.csasml.attention_map`).

Example:
    >>> from labkit.models import load_model
    >>> net = load_model("csasml_lite", num_classes=10, in_channels=1, input_size=16)
    >>> s = attention_sample(net, torch.rand(1, 16, 16))
    >>> s.weights.shape, s.scales, s.size
    ((6, 16, 5), (1, 2), (4, 4))
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from ..models.csasml import CrossScaleAttention

__all__ = ["AttentionSample", "attention_sample"]


class AttentionSample(NamedTuple):
    """Attention of one block on one image: ``weights`` (heads, N, M), ``scales``, map ``size``."""

    weights: np.ndarray
    scales: tuple[int, ...]
    size: tuple[int, int]
    image: np.ndarray


def attention_sample(model: nn.Module, image: Tensor, block: str | None = None) -> AttentionSample:
    """Run ``image`` (C, H, W) through ``model`` and return a CSA block's attention weights.

    ``block`` names a :class:`~labkit.models.csasml.CrossScaleAttention` (or the module holding
    it as ``.attn``); default: the first one. The weights come from the block's own
    :meth:`~labkit.models.csasml.CrossScaleAttention.attention` on the tokens it received.
    """
    if block is None:
        found = [n for n, m in model.named_modules() if isinstance(m, CrossScaleAttention)]
        if not found:
            raise ValueError("the model has no CrossScaleAttention block; use csasml_lite or plug_csa")
        block = found[0]
    attn = model.get_submodule(block)
    attn = getattr(attn, "attn", attn)
    if not isinstance(attn, CrossScaleAttention):
        raise ValueError(f"{block!r} is a {type(attn).__name__}, not a CrossScaleAttention")
    seen: dict[str, Any] = {}
    h = attn.register_forward_hook(lambda m, args, out: seen.update(x=args[0], size=args[1]))
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            dev = next(model.parameters()).device
            model(image.unsqueeze(0).to(dev))
            w = attn.attention(seen["x"], seen["size"])[0]
    finally:
        h.remove()
        model.train(was)
    return AttentionSample(w.cpu().numpy(), attn.scales, tuple(seen["size"]), image.cpu().numpy())
