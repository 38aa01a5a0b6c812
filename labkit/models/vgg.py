"""VGG nets for small images: CIFAR ``vgg16_bn`` and the ``vgg_small`` of docs/methods.md §4.5.

VGG (Simonyan & Zisserman 2015, arXiv 1409.1556) is a plain stack of 3x3 convs with
2x2 max-pools between blocks. It is the classic testbed for filter pruning (Li et al. 2017,
"Pruning Filters for Efficient ConvNets", used VGG-16 on CIFAR-10) because every conv's
filters can be removed without residual couplings.

The CIFAR variant keeps the 13 convs of VGG-16 (``cfg`` below, ``"M"`` = max-pool) and
replaces the three 4096-wide FC layers with global average pooling and one linear layer,
as the widely used CIFAR ports do (e.g. kuangliu/pytorch-cifar). Global average pooling to
1x1 means any input size works; the pools use ``ceil_mode=True`` so that inputs smaller
than 32 px (where a pool would meet a 1x1 map) still run; on 32 px inputs it changes
nothing.

Stages: one per pooling block (``block1`` ... ``blockK``) and ``head`` (GAP, flatten, FC).
Parameter names: ``block2.conv1.weight``, ``block2.bn1.weight``, ``head.fc.weight``.

Example:
    >>> net = vgg_small(num_classes=5, in_channels=1)
    >>> net(torch.zeros(2, 1, 32, 32)).shape
    torch.Size([2, 5])
    >>> net.stage_names
    ('block1', 'block2', 'block3', 'head')
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch  # noqa: F401  (the doctest examples use it)
from torch import nn

from ._base import StagedNet
from .registry import register_model

__all__ = ["VGGCifar", "VGG16_CFG", "VGG_SMALL_CFG", "vgg16_bn", "vgg_small"]

Cfg = Sequence[int | str]

VGG16_CFG: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
                                    512, 512, 512, "M", 512, 512, 512, "M")
VGG_SMALL_CFG: tuple[int | str, ...] = (16, 16, "M", 32, 32, "M", 64, 64, "M")


class VGGCifar(StagedNet):
    """A VGG built from ``cfg`` (ints = 3x3 conv widths, ``"M"`` = 2x2 max-pool ending a block).

    Args:
        cfg: layer list; it must end with ``"M"`` so every block ends in a pool.
        num_classes: size of the output.
        in_channels: 1 for digits, 3 for CIFAR.
        batch_norm: add BN after each conv (then the conv has no bias: BN's shift replaces it).
    """

    def __init__(self, cfg: Cfg, *, num_classes: int = 10, in_channels: int = 3,
                 batch_norm: bool = True) -> None:
        super().__init__()
        if not cfg or cfg[-1] != "M" or cfg[0] == "M":
            raise ValueError(f"cfg must start with a conv width and end with 'M', got {list(cfg)}")
        names: list[str] = []
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        channels = in_channels
        for item in cfg:
            if item == "M":
                layers["pool"] = nn.MaxPool2d(2, 2, ceil_mode=True)
                names.append(f"block{len(names) + 1}")
                setattr(self, names[-1], nn.Sequential(layers))
                layers = OrderedDict()
                continue
            if not isinstance(item, int) or item < 1:
                raise ValueError(f"cfg entries must be positive ints or 'M', got {item!r}")
            k = sum(1 for n in layers if n.startswith("conv")) + 1
            layers[f"conv{k}"] = nn.Conv2d(channels, item, 3, padding=1, bias=not batch_norm)
            if batch_norm:
                layers[f"bn{k}"] = nn.BatchNorm2d(item)
            layers[f"relu{k}"] = nn.ReLU()
            channels = item
        self.head = nn.Sequential(OrderedDict(
            pool=nn.AdaptiveAvgPool2d(1),
            flatten=nn.Flatten(1),
            fc=nn.Linear(channels, num_classes),
        ))
        self.stage_names = (*names, "head")
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)


@register_model("vgg16_bn")
def vgg16_bn(*, num_classes: int = 10, in_channels: int = 3) -> VGGCifar:
    """CIFAR VGG-16 with BN: 13 convs, GAP, one FC; 14,724,042 parameters at 10 classes, 3 channels."""
    return VGGCifar(VGG16_CFG, num_classes=num_classes, in_channels=in_channels, batch_norm=True)


@register_model("vgg_small")
def vgg_small(*, num_classes: int = 10, in_channels: int = 1) -> VGGCifar:
    """The small VGG of docs/methods.md §4.5: convs 16,16 | 32,32 | 64,64, no BN, then GAP -> FC.

    6 conv layers with 224 filters in all; 208 of them are prunable by default (the first
    conv's 16 are excluded, docs/methods.md §0.1), which is where §4.5's "208 filters" comes from.
    72,442 parameters at 10 classes, 1 channel.
    """
    return VGGCifar(VGG_SMALL_CFG, num_classes=num_classes, in_channels=in_channels, batch_norm=False)
