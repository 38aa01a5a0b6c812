"""The DOMINOS attention stage (docs/methods.md §5.5, **[inferred]**): zero-initialised squeeze-and-excitation gates.

After pruning, DOMINOS applies "an attention mechanism that emphasises informative structures"
on the slimmed network. Our design is a Squeeze-and-Excitation gate (Hu et al. 2018,
arXiv 1709.01507) on each remaining residual block's branch output ``U``, before the addition:

    g = 2 · σ(W₂ ReLU(W₁ GAP(U)))        U ← g ⊙ U

``W₁: C -> C/r`` and ``W₂: C/r -> C`` (with biases), ``r = 4`` when ``C <= 64`` else 16. ``W₂`` and
its bias start at zero, so ``g = 2·σ(0) = 1``: adding the gates does not change the network's
output, and fine-tuning starts from the pruned network exactly. The factor 2 lets a gate
amplify a channel as well as damp it. Extra parameters: ``Σ 2C²/r`` weights (+ ``C/r + C``
biases per gate); extra MACs per item: the same ``Σ 2C²/r``.

Example:
    >>> from labkit import load_model
    >>> net = load_model("resnet20", num_classes=10, in_channels=1).eval()
    >>> att = add_se(net)
    >>> x = torch.rand(2, 1, 16, 16)
    >>> torch.allclose(att(x), net(x)), se_overhead(att)["weights"]   # 3·(128 + 512 + 2048)
    (True, 8064)
"""
from __future__ import annotations

import copy
from collections import OrderedDict

import torch
from torch import Tensor, nn

from .resnet_cifar import BasicBlock

__all__ = ["SEGate", "add_se", "se_gates", "se_overhead", "default_reduction"]


def default_reduction(channels: int) -> int:
    """``r = 4`` for ``C <= 64``, else 16 (§5.5)."""
    return 4 if channels <= 64 else 16


class SEGate(nn.Module):
    """``x * 2σ(W₂ ReLU(W₁ GAP(x)))`` with ``W₂ = 0`` at init (the identity).

    Args:
        channels: ``C`` of the input ``(N, C, H, W)``.
        reduction: ``r``; default :func:`default_reduction`.
    """

    def __init__(self, channels: int, reduction: int | None = None) -> None:
        super().__init__()
        r = default_reduction(channels) if reduction is None else int(reduction)
        if r < 1:
            raise ValueError(f"reduction must be >= 1, got {reduction}")
        hidden = max(1, channels // r)
        self.channels, self.reduction = channels, r
        self.fc1 = nn.Linear(channels, hidden)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(hidden, channels)
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def gate(self, x: Tensor) -> Tensor:
        """The per-channel gate ``g`` of shape ``(N, C)``, in (0, 2)."""
        return 2.0 * torch.sigmoid(self.fc2(self.relu(self.fc1(x.mean(dim=(2, 3))))))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gate(x)[:, :, None, None]


def add_se(model: nn.Module, reduction: int | None = None) -> nn.Module:
    """A copy of ``model`` with an :class:`SEGate` after every :class:`BasicBlock`'s ``bn2``.

    The block computes ``relu2(bn2(conv2(...)) + shortcut(x))``; ``bn2`` becomes
    ``Sequential(bn=bn2, se=SEGate)``, so the gate scales the branch output before the addition.
    Removed blocks (:class:`~labkit.pruning.blocks.RemovedBlock`) have no branch and get none.
    ``model`` is not modified; the gates live on the model's device. Add gates *after* pruning:
    ``conv2`` is no longer followed directly by a BatchNorm, so filter masks on it would miss
    the norm (:func:`labkit.models.topology.paired_norm`).

    Raises:
        ValueError: the model has no basic block, or already has gates.
    """
    if se_gates(model):
        raise ValueError("the model already has SE gates; add_se takes a network without them")
    work = copy.deepcopy(model)
    blocks = [m for m in work.modules() if isinstance(m, BasicBlock)]
    if not blocks:
        raise ValueError("add_se needs a network with labkit BasicBlocks (resnet20/32/56, or one slimmed "
                         "by labkit.pruning.blocks.slim)")
    dev = next(work.parameters()).device
    for b in blocks:
        bn = b.bn2
        assert isinstance(bn, nn.modules.batchnorm._BatchNorm)  # its own BN: no gate yet (checked above)
        b.bn2 = nn.Sequential(OrderedDict(bn=bn, se=SEGate(bn.num_features, reduction).to(dev)))
    return work


def se_gates(model: nn.Module) -> dict[str, SEGate]:
    """The SE gates of ``model`` by module name."""
    return {n: m for n, m in model.named_modules() if isinstance(m, SEGate)}


def se_overhead(model: nn.Module) -> dict[str, int]:
    """Extra cost of the gates: ``weights`` (``Σ 2C·C/r``, the §5.5 formula with ``C/r`` rounded down),
    ``params`` (weights + biases) and ``macs`` per item (the two linear layers)."""
    gates = se_gates(model)
    weights = sum(g.fc1.weight.numel() + g.fc2.weight.numel() for g in gates.values())
    params = sum(p.numel() for g in gates.values() for p in g.parameters())
    return {"gates": len(gates), "weights": weights, "params": params, "macs": weights}
