"""torchvision's classification families as one list: what labkit is tested on, end to end.

``ZOO`` names one model per family (25 in all, ``weights=None`` so nothing is downloaded) with
the smallest input it accepts; :func:`build` makes one, :func:`filter_path` runs the filter
pipeline a user would (``score -> Ranking.masks -> apply_masks`` and ``compact``) and reports
what it did. ``tests/models/test_torchvision_zoo.py`` runs it on every entry and
``benchmarks/zoo.py`` times it next to Torch-Pruning's own ``MagnitudePruner``.

Example:
    >>> m = build("squeezenet1_1")
    >>> r = filter_path(m, example(m, "squeezenet1_1"))
    >>> r["agree"], r["classes"], r["params_after"] < r["params_before"]
    (True, 1000, True)
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["ZooEntry", "ZOO", "build", "example", "filter_path"]


@dataclass(frozen=True)
class ZooEntry:
    """One torchvision builder, its keyword arguments and the smallest square input it accepts."""

    name: str
    family: str
    size: int
    kwargs: dict[str, Any] = field(default_factory=dict)


_NO_AUX = {"aux_logits": False, "init_weights": False}

ZOO: list[ZooEntry] = [
    ZooEntry("resnet18", "ResNet", 32),
    ZooEntry("resnet50", "ResNet", 32),
    ZooEntry("resnext50_32x4d", "ResNeXt", 32),
    ZooEntry("wide_resnet50_2", "Wide ResNet", 32),
    ZooEntry("regnet_x_400mf", "RegNet X", 32),
    ZooEntry("regnet_y_400mf", "RegNet Y", 32),
    ZooEntry("mobilenet_v2", "MobileNet V2", 32),
    ZooEntry("mobilenet_v3_small", "MobileNet V3", 32),
    ZooEntry("mobilenet_v3_large", "MobileNet V3", 32),
    ZooEntry("mnasnet0_5", "MNASNet", 32),
    ZooEntry("efficientnet_b0", "EfficientNet", 32),
    ZooEntry("efficientnet_v2_s", "EfficientNet V2", 33),
    ZooEntry("shufflenet_v2_x0_5", "ShuffleNet V2", 32),
    ZooEntry("squeezenet1_0", "SqueezeNet", 32),
    ZooEntry("squeezenet1_1", "SqueezeNet", 32),
    ZooEntry("densenet121", "DenseNet", 32),
    ZooEntry("googlenet", "GoogLeNet", 32, _NO_AUX),
    ZooEntry("inception_v3", "Inception v3", 75, _NO_AUX),
    ZooEntry("vgg11_bn", "VGG", 32),
    ZooEntry("alexnet", "AlexNet", 63),
    ZooEntry("convnext_tiny", "ConvNeXt", 32),
    ZooEntry("vit_b_16", "ViT", 224),
    ZooEntry("swin_t", "Swin", 32),
    ZooEntry("swin_v2_t", "Swin V2", 32),
    ZooEntry("maxvit_t", "MaxViT", 224),
]

_BY_NAME = {e.name: e for e in ZOO}


def build(name: str, **kwargs: Any) -> nn.Module:
    """``torchvision.models.get_model(name, weights=None, ...)`` in eval mode (entry kwargs + ``kwargs``)."""
    import torchvision

    if name not in _BY_NAME:
        raise KeyError(f"{name!r} is not in the zoo list; choose from {', '.join(_BY_NAME)}")
    return torchvision.models.get_model(name, weights=None, **{**_BY_NAME[name].kwargs, **kwargs}).eval()


def example(model: nn.Module, name: str, batch_size: int = 1, seed: int = 0) -> Tensor:
    """A random batch at the entry's smallest input size."""
    e = _BY_NAME[name]
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch_size, 3, e.size, e.size, generator=g)


def _n(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def filter_path(model: nn.Module, x: Tensor, sparsity: float = 0.3, *, progress: bool | None = False) -> dict[str, Any]:
    """The user's filter path on ``model``; returns timings, sizes and whether outputs agree.

    ``score(model, "magnitude", granularity="filter") -> Ranking.masks(sparsity, mode="global",
    normalize="l2", min_keep=0.1)``, then ``compact(..., check=False)`` and ``apply_masks``,
    whose outputs are compared here (``compact``'s own check would run the same two forwards). Keys: ``seconds``, ``params_before`` /
    ``params_after``, ``classes`` (output width of the compacted model), ``agree``,
    ``max_diff``, ``kept_zeroed`` (masked channels their group still needs).
    """
    from ..pruning import Ranking, apply_masks, compact
    from ..criteria import score

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
