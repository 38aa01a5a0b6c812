"""torchvision's classification families as one list: what labkit is tested on, end to end.

``ZOO`` names one model per family (25 in all, ``weights=None`` so nothing is downloaded) with
the smallest input it accepts; :func:`build` makes one and :func:`example` a batch it accepts.
:func:`labkit.pruning.filter_path.filter_path` runs the filter pipeline a user would on it;
``tests/models/test_torchvision_zoo.py`` does so on every entry and ``benchmarks/zoo.py`` times
it next to Torch-Pruning's own ``MagnitudePruner``.

Example:
    >>> m = build("squeezenet1_1")
    >>> example(m, "squeezenet1_1").shape
    torch.Size([1, 3, 32, 32])
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["ZooEntry", "ZOO", "build", "example"]


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
