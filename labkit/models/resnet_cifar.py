"""CIFAR ResNets (He et al. 2016, "Deep Residual Learning", arXiv 1512.03385, §4.2).

The CIFAR family is not the ImageNet one: a 3x3 stem with 16 channels, then three stages of
``n`` basic blocks with 16, 32 and 64 channels (stages 2 and 3 halve the resolution), global
average pooling and one linear layer. Depth is ``6n + 2``: ResNet-20/32/56 have n = 3/5/9.
docs/methods.md §5.7 (DOMINOS) runs ResNet-20 on 16x16 digits.

Stages (for incremental evaluation, docs/design.md §4): ``stem, layer1, layer2, layer3, head``.
Parameter names follow torchvision: ``layer1.0.conv1.weight``, ``head.fc.weight``.

Shortcut choice: the paper's CIFAR nets use *option A* (the identity, subsampled and
zero-padded to the new width: no parameters). We use *option B* (a 1x1 conv + BN on the
blocks that change shape). Why: option A is a slicing/padding lambda, which Torch-Pruning's
dependency graph cannot trace, so when it removes output channels of ``conv2`` it cannot
remove the matching channels of the padded shortcut, and the residual add fails or
misaligns. A 1x1 conv is an ordinary layer whose output channels Torch-Pruning couples with
``conv2`` through the add, so structured pruning and ``compact`` work on every block.
Cost of the choice, measured: resnet20 (10 classes, 3 channels) has 272,474 parameters; the
same net with option-A shortcuts has 269,722 (the two 1x1 convs + BN add 2,752, i.e. +1.0%).
The paper's "0.27M" covers both.

Example:
    >>> import torch
    >>> net = resnet20(num_classes=10, in_channels=1)
    >>> net(torch.zeros(2, 1, 16, 16)).shape
    torch.Size([2, 10])
    >>> net.stage_names
    ('stem', 'layer1', 'layer2', 'layer3', 'head')
"""
from __future__ import annotations

from collections import OrderedDict

from torch import Tensor, nn

from ._base import StagedNet
from .registry import register_model

__all__ = ["BasicBlock", "ResNetCifar", "resnet20", "resnet32", "resnet56"]


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers plus a shortcut: ``relu(bn2(conv2(relu(bn1(conv1(x))))) + sc(x))``.

    ``shortcut`` is the identity when shape is kept and a 1x1 conv (stride 2) + BN otherwise
    (option B, see the module docstring). It is registered *after* ``conv2`` and runs after
    it, so registration order is forward order (``prunable_parameters`` relies on it). The two
    ReLUs are separate, non-inplace modules so that activation criteria (mean activation,
    APoZ) can hook each one and captum sees unmodified tensors.
    """

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2: nn.Module = nn.BatchNorm2d(planes)  # labkit.models.se.add_se makes it BN + SE gate
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(OrderedDict(
                conv=nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                bn=nn.BatchNorm2d(planes),
            ))
        self.relu2 = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + self.shortcut(x))


class ResNetCifar(StagedNet):
    """He et al.'s CIFAR ResNet with ``blocks_per_stage`` basic blocks in each of 3 stages.

    Works for any input of at least 8x8 pixels (two stride-2 stages, then global pooling),
    e.g. the 8x8, 16x16 and 32x32 digits.

    Args:
        blocks_per_stage: ``n``; depth is ``6n + 2``.
        num_classes: size of the output.
        in_channels: 1 for digits, 3 for CIFAR.
        widths: channels of the three stages.
    """

    stage_names = ("stem", "layer1", "layer2", "layer3", "head")

    def __init__(self, blocks_per_stage: int, *, num_classes: int = 10, in_channels: int = 3,
                 widths: tuple[int, int, int] = (16, 32, 64)) -> None:
        super().__init__()
        if blocks_per_stage < 1:
            raise ValueError(f"blocks_per_stage must be >= 1, got {blocks_per_stage}")
        self.stem = nn.Sequential(OrderedDict(
            conv=nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False),
            bn=nn.BatchNorm2d(widths[0]),
            relu=nn.ReLU(),
        ))
        in_planes = widths[0]
        for i, (planes, stride) in enumerate(zip(widths, (1, 2, 2)), start=1):
            blocks = []
            for b in range(blocks_per_stage):
                blocks.append(BasicBlock(in_planes, planes, stride if b == 0 else 1))
                in_planes = planes
            setattr(self, f"layer{i}", nn.Sequential(*blocks))
        self.head = nn.Sequential(OrderedDict(
            pool=nn.AdaptiveAvgPool2d(1),
            flatten=nn.Flatten(1),
            fc=nn.Linear(in_planes, num_classes),
        ))
        # He init for convs, as in the paper (fan_out keeps activations' variance through ReLUs).
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)


@register_model("resnet20")
def resnet20(*, num_classes: int = 10, in_channels: int = 3) -> ResNetCifar:
    """ResNet-20 for CIFAR (n = 3): 272,474 parameters at 10 classes, 3 channels (option B)."""
    return ResNetCifar(3, num_classes=num_classes, in_channels=in_channels)


@register_model("resnet32")
def resnet32(*, num_classes: int = 10, in_channels: int = 3) -> ResNetCifar:
    """ResNet-32 for CIFAR (n = 5): 466,906 parameters at 10 classes, 3 channels (option B)."""
    return ResNetCifar(5, num_classes=num_classes, in_channels=in_channels)


@register_model("resnet56")
def resnet56(*, num_classes: int = 10, in_channels: int = 3) -> ResNetCifar:
    """ResNet-56 for CIFAR (n = 9): 855,770 parameters at 10 classes, 3 channels (option B)."""
    return ResNetCifar(9, num_classes=num_classes, in_channels=in_channels)
