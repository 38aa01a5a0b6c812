"""CSASML building blocks: a Split-and-Mixed module and a Cross-Scale Attention module.

Method 2 (docs/methods.md §2) comes from a thesis whose body is not public: 廖柏諭 Liao Po-Yu,
"CSASML: Combining Cross-Scale Attention with Split-and-Mixed Layer for Lightweight
Classification Network" (NCU, 2024). Its abstract names the two modules and claims 25% less
computation and +1.8% accuracy on CIFAR-100; it does not describe them. **Every design below is
[inferred]** from the closest public designs (ShuffleNetV2 split + shuffle, FasterNet partial
conv, P2T pooled multi-scale keys/values, Shunted head groups, PVT spatial reduction). Each
choice is an option, so the lab can vary it; none of them is the thesis author's exact method.

* :class:`SplitMixed` (SMM, §2.1): a cheap op on a fraction ``split_ratio`` of the channels,
  identity (or a "ghost" depthwise op) on the rest, a channel shuffle, a pointwise "mix" and a
  residual add. MACs per position ``9·C·r + (C·r)² + C²`` vs ``18·C²`` for a ResNet basic block.
* :class:`CrossScaleAttention` (CSA, §2.2): queries from all ``N`` positions, keys and values
  from ``M = Σ p_i²`` tokens pooled at several grid sizes ``p_i``, plus a depthwise "local
  enhancement" branch. Cost ``O(N·M·C)``: linear in ``N``, where full attention is ``O(N²·C)``.
* :class:`FullSelfAttention`: plain multi-head self-attention, the baseline and an ablation.
* :class:`CSABlock`: a pre-norm transformer block on feature maps around either attention.

The three attention classes live in :mod:`labkit.models.csasml_attention` and are re-exported
here; this file holds the SMM with its MAC formula, the shared helpers and the two backbones.

All weights live in plain ``nn.Conv2d`` / ``nn.Linear`` layers, so
:func:`labkit.models.prunable_parameters` lists them and the pruning engine can mask them.
The MAC formulas (:func:`smm_macs`, :func:`csa_macs`, :func:`mhsa_macs`) match
``torch.utils.flop_counter.FlopCounterMode`` exactly (FLOPs / 2 = MACs), because both count
only convolutions and matrix products and skip the same small terms: biases, BatchNorm,
LayerNorm, GELU, softmax, the ``1/√d`` scaling, additions and average pooling (pooling is
about ``N·C`` adds per scale, < 2% of a CSA at the sizes used here).

Example:
    >>> smm = SplitMixed(64)
    >>> smm(torch.zeros(2, 64, 8, 8)).shape
    torch.Size([2, 64, 8, 8])
    >>> csa_macs(tokens=64, channels=64, scales=(1, 2, 4)), mhsa_macs(tokens=64, channels=64)
    (917312, 1572864)
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from ._base import StagedNet
from .csasml_attention import CrossScaleAttention, CSABlock, FullSelfAttention, block_mlp_macs, csa_macs, mhsa_macs
from .registry import register_model
from .resnet_cifar import BasicBlock

__all__ = ["SplitMixed", "CrossScaleAttention", "FullSelfAttention", "CSABlock", "CSASMLNet",
           "csasml_lite", "csasml_baseline",
           "channel_shuffle", "split_channels", "default_scales",
           "smm_macs", "csa_macs", "mhsa_macs", "block_mlp_macs"]

SplitOp = Literal["dw", "dense"]


def split_channels(channels: int, split_ratio: float) -> int:
    """Channels of the worked-on part ``X1``: ``round(C·r_s)``, checked to leave both parts non-empty."""
    if not 0.0 < split_ratio < 1.0:
        raise ValueError(f"split_ratio must be in (0, 1), got {split_ratio!r}; "
                         "use 0.5 (ShuffleNetV2) or 0.25 (FasterNet)")
    c1 = int(round(channels * split_ratio))
    if not 1 <= c1 < channels:
        raise ValueError(f"split_ratio={split_ratio} of {channels} channels leaves an empty part; "
                         "pick a ratio with 1 <= round(C * ratio) < C")
    return c1


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """ShuffleNet's channel shuffle (arXiv 1707.01083): interleave ``groups`` channel groups.

    ``[a0 a1 a2 b0 b1 b2] -> [a0 b0 a1 b1 a2 b2]`` for ``groups=2``, so the pointwise mix after
    it sees worked-on and passed-through channels side by side.
    """
    b, c, h, w = x.shape
    if c % groups:
        raise ValueError(f"channel_shuffle needs channels ({c}) divisible by groups ({groups})")
    return x.view(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)


def default_scales(map_size: int) -> tuple[int, ...]:
    """Pooled grid sizes for a ``map_size × map_size`` map, following docs/methods.md §2.2 [inferred].

    §2.2 uses {1, 2, 4} for 8×8 maps and {1, 2, 4, 7} for larger ones; on smaller maps we keep
    the sizes strictly below the map size, so the keys are a *reduction* (4×4 -> {1, 2}).
    """
    if map_size < 1:
        raise ValueError(f"map_size must be >= 1, got {map_size}")
    if map_size > 8:
        return (1, 2, 4, 7)
    return tuple(p for p in (1, 2, 4) if p < map_size) or (1,)


class SplitMixed(nn.Module):
    """Split-and-Mixed Module (docs/methods.md §2.1) [inferred; ShuffleNetV2 / FasterNet style].

    ``X1, X2 = X[:C·r], X[C·r:]``; ``X1' = BN(PW(DW3x3(X1)))`` (``split_op="dw"``) or
    ``BN(Conv3x3(X1))`` (``"dense"``, FasterNet PConv); ``X2' = X2`` or ``DW3x3(X2)``
    (``ghost=True``, GhostNet's cheap op); ``Y = GELU(BN(PW(shuffle(cat(X1', X2')))))``;
    output ``X + Y``. Shape-preserving, so it drops into any residual stage.

    Args:
        channels: ``C`` (input = output channels).
        split_ratio: ``r_s``, the fraction worked on (0.5 default; FasterNet uses 0.25).
        split_op: ``"dw"`` (depthwise 3×3 + pointwise) or ``"dense"`` (dense 3×3) on ``X1``.
        ghost: also run a depthwise 3×3 on the passed-through part ``X2``.
        shuffle_groups: groups of the channel shuffle (1 disables it).

    Example:
        >>> m = SplitMixed(32, split_ratio=0.25, split_op="dense")
        >>> m(torch.randn(1, 32, 16, 16)).shape
        torch.Size([1, 32, 16, 16])
    """

    def __init__(self, channels: int, split_ratio: float = 0.5, split_op: SplitOp = "dw",
                 ghost: bool = False, shuffle_groups: int = 2) -> None:
        super().__init__()
        if split_op not in ("dw", "dense"):
            raise ValueError(f"split_op must be 'dw' or 'dense', got {split_op!r}")
        if shuffle_groups < 1 or channels % shuffle_groups:
            raise ValueError(f"shuffle_groups={shuffle_groups} must be >= 1 and divide channels={channels}")
        self.channels, self.split_ratio, self.split_op, self.ghost = channels, split_ratio, split_op, ghost
        self.c1 = c1 = split_channels(channels, split_ratio)
        self.shuffle_groups = shuffle_groups
        if split_op == "dw":
            self.dw = nn.Conv2d(c1, c1, 3, padding=1, groups=c1, bias=False)
            self.pw = nn.Conv2d(c1, c1, 1, bias=False)
        else:
            self.conv = nn.Conv2d(c1, c1, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c1)
        if ghost:
            self.ghost_dw = nn.Conv2d(channels - c1, channels - c1, 3, padding=1,
                                      groups=channels - c1, bias=False)
        self.mix = nn.Conv2d(channels, channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.act = nn.GELU()

    def forward(self, x: Tensor) -> Tensor:
        x1, x2 = x[:, :self.c1], x[:, self.c1:]
        x1 = self.pw(self.dw(x1)) if self.split_op == "dw" else self.conv(x1)
        x1 = self.bn1(x1)
        if self.ghost:
            x2 = self.ghost_dw(x2)
        y = torch.cat([x1, x2], dim=1)
        if self.shuffle_groups > 1:
            y = channel_shuffle(y, self.shuffle_groups)
        return x + self.act(self.bn2(self.mix(y)))

    def macs(self, height: int, width: int) -> int:
        """Analytic MACs on an ``height × width`` map (see :func:`smm_macs`)."""
        return smm_macs(self.channels, height, width, self.split_ratio, self.split_op, self.ghost)


def smm_macs(channels: int, height: int, width: int, split_ratio: float = 0.5,
             split_op: SplitOp = "dw", ghost: bool = False) -> int:
    """MACs of one :class:`SplitMixed` on an ``H × W`` map (docs/methods.md §2.1).

    Per position, with ``c = round(C·r_s)``: ``9c + c² + C²`` (``"dw"``) or ``9c² + C²``
    (``"dense"``), plus ``9(C − c)`` with ``ghost``. Not counted (nor by FlopCounterMode):
    BatchNorm, GELU, the shuffle and the residual add.

    Example:
        >>> smm_macs(64, 8, 8)  # 64·(9·32 + 32² + 64²); one 3×3 conv would be 64·9·64² = 2,359,296
        346112
    """
    c1 = split_channels(channels, split_ratio)
    per_pos = (9 * c1 + c1 * c1 if split_op == "dw" else 9 * c1 * c1) + channels * channels
    if ghost:
        per_pos += 9 * (channels - c1)
    return height * width * per_pos


# --------------------------------------------------------------------------------------------
# Backbones (docs/methods.md §2.3) [inferred]: CSASML-lite and its same-macro baseline.
# --------------------------------------------------------------------------------------------

def _conv_bn_act(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(OrderedDict(conv=nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                                     bn=nn.BatchNorm2d(cout), act=nn.ReLU()))


class CSASMLNet(StagedNet):
    """The §2.3 macro-structure with pluggable blocks: stem, three stages, GAP -> LN -> FC.

    Stages (``stem, layer1, layer2, layer3, head``, like ``resnet20``): ``layer1`` runs at the
    input resolution; ``layer2`` and ``layer3`` start with a strided 3×3 conv (``down``) that
    halves the resolution and changes the width. ``block(stage, channels)`` builds each block,
    so CSASML-lite and its baseline differ only in their blocks.
    """

    stage_names = ("stem", "layer1", "layer2", "layer3", "head")

    def __init__(self, block: Callable[[int, int], nn.Module], *, num_classes: int, in_channels: int,
                 widths: Sequence[int], depths: Sequence[int]) -> None:
        super().__init__()
        if len(widths) != 3 or len(depths) != 3 or min(widths) < 1 or min(depths) < 0:
            raise ValueError(f"widths and depths need 3 positive entries (one per stage), got {widths}, {depths}")
        self.stem = _conv_bn_act(in_channels, widths[0])
        cin = widths[0]
        for i, (c, d) in enumerate(zip(widths, depths), start=1):
            layers: list[tuple[str, nn.Module]] = [] if i == 1 else [("down", _conv_bn_act(cin, c, stride=2))]
            layers += [(str(j), block(i, c)) for j in range(d)]
            setattr(self, f"layer{i}", nn.Sequential(OrderedDict(layers)))
            cin = c
        self.head = nn.Sequential(OrderedDict(pool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(1),
                                              norm=nn.LayerNorm(cin), fc=nn.Linear(cin, num_classes)))


@register_model("csasml_lite")
def csasml_lite(*, num_classes: int = 10, in_channels: int = 3, input_size: int = 32,
                widths: Sequence[int] = (32, 64, 96), depths: Sequence[int] = (2, 2, 2),
                split_ratio: float = 0.5, split_op: SplitOp = "dw", ghost: bool = False,
                scales: Sequence[int] | None = None, heads: int = 6, shunted: bool = False,
                local: bool = True, attention: Literal["csa", "mhsa"] = "csa",
                mlp_ratio: float = 2.0, mlp_dw: bool = False) -> CSASMLNet:
    """CSASML-lite (docs/methods.md §2.3) [inferred]: SMM in stages 1–2, CSA blocks in stage 3.

    Stem 3×3 (32), 2× :class:`SplitMixed` (32), down, 2× SMM (64), down, 2× :class:`CSABlock`
    (96), GAP -> LN -> FC. ``scales=None`` picks :func:`default_scales` for the stage-3 map of an
    ``input_size`` input (``input_size // 4``): (1, 2, 4) for 32×32 inputs, (1, 2) for 16×16.
    ``attention="mhsa"`` is the "full MHSA" ablation; ``local=False`` the "no-LE" one.
    About 0.2 M parameters at 10 classes.

    Example:
        >>> net = csasml_lite(num_classes=10, in_channels=1, input_size=16)
        >>> net(torch.zeros(2, 1, 16, 16)).shape, net.layer3[1].attn.scales
        (torch.Size([2, 10]), (1, 2))
    """
    pooled = tuple(scales) if scales is not None else default_scales(max(1, input_size // 4))

    def block(stage: int, c: int) -> nn.Module:
        if stage < 3:
            return SplitMixed(c, split_ratio, split_op, ghost)
        return CSABlock(c, heads, attention, pooled, shunted, local, mlp_ratio, mlp_dw)

    return CSASMLNet(block, num_classes=num_classes, in_channels=in_channels, widths=widths, depths=depths)


@register_model("csasml_baseline")
def csasml_baseline(*, num_classes: int = 10, in_channels: int = 3,
                    widths: Sequence[int] = (32, 64, 96), depths: Sequence[int] = (2, 2, 2),
                    heads: int = 6, mlp_ratio: float = 2.0) -> CSASMLNet:
    """Same macro-structure as :func:`csasml_lite` with ResNet basic blocks and full MHSA (§2.3).

    The comparison of docs/methods.md §2.5: stages 1–2 use ``resnet_cifar.BasicBlock`` (two 3×3 convs,
    ``18·C²`` MACs per position) and stage 3 uses :class:`CSABlock` with ``attention="mhsa"``.

    Example:
        >>> csasml_baseline(num_classes=10, in_channels=1)(torch.zeros(1, 1, 16, 16)).shape
        torch.Size([1, 10])
    """

    def block(stage: int, c: int) -> nn.Module:
        return BasicBlock(c, c) if stage < 3 else CSABlock(c, heads, "mhsa", mlp_ratio=mlp_ratio)

    return CSASMLNet(block, num_classes=num_classes, in_channels=in_channels, widths=widths, depths=depths)
