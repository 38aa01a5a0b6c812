"""Plug CSASML modules into another network (docs/methods.md §2.3 "plug-in mode") [inferred].

The thesis abstract says its modules "can be plugged into other networks"; how is not public.
Two [inferred] ways, both on a copy (the given model is never mutated):

* :func:`plug_smm`: in the named stages of a CIFAR ResNet, every shape-preserving
  ``BasicBlock`` (stride 1, in = out channels) becomes a :class:`~labkit.models.csasml.SplitMixed`.
  Blocks that change resolution or width are kept, since SMM is shape-preserving.
  Per position that is ``9·C·r + (C·r)² + C²`` MACs instead of ``18·C²``.
* :func:`plug_csa`: append ``blocks`` :class:`~labkit.models.csasml.CSABlock` to the end of a
  stage (stage 3 by default), adding global context at a linear-in-``N`` cost.

Replaced or added blocks are freshly initialised; the rest keeps its weights.

Example:
    >>> from labkit.models.resnet_cifar import resnet20
    >>> net = resnet20(num_classes=10, in_channels=1)
    >>> small = plug_smm(net, stages=("layer1",))
    >>> type(small.layer1[0]).__name__, type(net.layer1[0]).__name__
    ('SplitMixed', 'BasicBlock')
"""
from __future__ import annotations

import copy
from collections.abc import Sequence

from torch import nn

from .csasml import CSABlock, SplitMixed, SplitOp, default_scales
from .resnet_cifar import BasicBlock

__all__ = ["plug_smm", "plug_csa"]


def _stage(model: nn.Module, stage: str) -> nn.Sequential:
    seq = getattr(model, stage, None)
    if not isinstance(seq, nn.Sequential):
        names = [n for n, m in model.named_children() if isinstance(m, nn.Sequential)]
        raise KeyError(f"model has no sequential stage {stage!r}; stages: {', '.join(names)}")
    return seq


def _out_channels(seq: nn.Sequential) -> int:
    convs = [m for m in seq.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError("cannot infer the stage width: it has no Conv2d")
    last = seq[-1]
    if isinstance(last, BasicBlock):
        return last.conv2.out_channels
    if isinstance(last, (SplitMixed, CSABlock)):
        return last.channels if isinstance(last, SplitMixed) else last.dim
    return convs[-1].out_channels


def plug_smm(model: nn.Module, stages: Sequence[str] = ("layer1", "layer2", "layer3"),
             split_ratio: float = 0.5, split_op: SplitOp = "dw", ghost: bool = False) -> nn.Module:
    """A copy of ``model`` whose shape-preserving basic blocks in ``stages`` are SMM blocks.

    Args:
        model: a network whose stages are ``nn.Sequential`` of ``resnet_cifar.BasicBlock``
            (``resnet20/32/56``).
        stages: attribute names of the stages to convert.
        split_ratio, split_op, ghost: :class:`~labkit.models.csasml.SplitMixed` options.

    Raises:
        ValueError: when a named stage has no shape-preserving basic block to replace.
    """
    new = copy.deepcopy(model)
    for name in stages:
        seq = _stage(new, name)
        replaced = 0
        for i, blk in enumerate(seq):
            if (isinstance(blk, BasicBlock) and isinstance(blk.shortcut, nn.Identity)
                    and blk.conv1.stride == (1, 1)):
                seq[i] = SplitMixed(blk.conv1.in_channels, split_ratio, split_op, ghost)
                replaced += 1
        if not replaced:
            raise ValueError(f"stage {name!r} has no stride-1, same-width BasicBlock to replace with SMM")
    return new


def plug_csa(model: nn.Module, stage: str = "layer3", blocks: int = 1, heads: int = 4,
             scales: Sequence[int] | None = None, map_size: int | None = None,
             shunted: bool = False, local: bool = True, mlp_ratio: float = 2.0) -> nn.Module:
    """A copy of ``model`` with ``blocks`` CSA transformer blocks appended to ``stage``.

    Args:
        model: a network whose ``stage`` is an ``nn.Sequential`` ending in a known block.
        stage: attribute name of the stage (``"layer3"``: the last, smallest map).
        blocks: how many :class:`~labkit.models.csasml.CSABlock` to append (>= 1).
        heads, shunted, local, mlp_ratio: block options.
        scales: pooled grid sizes; default :func:`~labkit.models.csasml.default_scales` of
            ``map_size`` (the stage's output map side), or (1, 2, 4) when that is not given.
    """
    if blocks < 1:
        raise ValueError(f"blocks must be >= 1, got {blocks}")
    new = copy.deepcopy(model)
    seq = _stage(new, stage)
    c = _out_channels(seq)
    pooled = tuple(scales) if scales is not None else (default_scales(map_size) if map_size else (1, 2, 4))
    for _ in range(blocks):
        seq.append(CSABlock(c, heads, "csa", pooled, shunted, local, mlp_ratio))
    return new
