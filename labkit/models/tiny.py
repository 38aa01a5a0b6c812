"""The tiny CNN of docs/methods.md §1.7: the default lab model, trained on a laptop CPU in seconds.

    conv3x3(1->16) -> conv3x3(16->32, stride 2) -> conv3x3(32->64, stride 2) -> GAP -> FC(64->10)

each conv followed by BN and ReLU. Measured size at 10 classes and 1 input channel:
24,058 parameters (convs have no bias because BN's shift replaces it), docs/methods.md's "about
25 K". On 8x8 digits the feature maps are 8x8, 4x4 and 2x2.

Stages: ``stem, layer1, layer2, head``; parameter names ``layer1.conv.weight``,
``head.fc.weight``.

Example:
    >>> net = tiny_cnn()
    >>> net(torch.zeros(3, 1, 8, 8)).shape
    torch.Size([3, 10])
    >>> sum(p.numel() for p in net.parameters())
    24058
"""
from __future__ import annotations

from collections import OrderedDict

import torch  # noqa: F401  (the doctest examples use it)
from torch import nn

from ._base import StagedNet
from .registry import register_model

__all__ = ["TinyCNN", "conv_bn_relu", "tiny_cnn"]


def conv_bn_relu(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """A 3x3 conv (no bias), BN and ReLU as one named block: ``.conv``, ``.bn``, ``.relu``."""
    return nn.Sequential(OrderedDict(
        conv=nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        bn=nn.BatchNorm2d(out_channels),
        relu=nn.ReLU(),
    ))


class TinyCNN(StagedNet):
    """Three conv-BN-ReLU blocks of growing width, global average pooling and a linear head.

    Args:
        num_classes: size of the output.
        in_channels: 1 for digits.
        widths: output channels of the three convs.
    """

    stage_names = ("stem", "layer1", "layer2", "head")

    def __init__(self, *, num_classes: int = 10, in_channels: int = 1,
                 widths: tuple[int, int, int] = (16, 32, 64)) -> None:
        super().__init__()
        self.stem = conv_bn_relu(in_channels, widths[0])
        self.layer1 = conv_bn_relu(widths[0], widths[1], stride=2)
        self.layer2 = conv_bn_relu(widths[1], widths[2], stride=2)
        self.head = nn.Sequential(OrderedDict(
            pool=nn.AdaptiveAvgPool2d(1),
            flatten=nn.Flatten(1),
            fc=nn.Linear(widths[2], num_classes),
        ))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


@register_model("tiny_cnn")
def tiny_cnn(*, num_classes: int = 10, in_channels: int = 1) -> TinyCNN:
    """The docs/methods.md §1.7 CNN: 24,058 parameters at 10 classes, 1 channel."""
    return TinyCNN(num_classes=num_classes, in_channels=in_channels)
