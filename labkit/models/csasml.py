"""CSASML building blocks: a Split-and-Mixed module and a Cross-Scale Attention module.

Method 2 (METHODS.md §2) comes from a thesis whose body is not public: 廖柏諭 Liao Po-Yu,
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
from typing import Callable, Literal, Sequence

import torch
from torch import Tensor, nn

from ._base import StagedNet
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
    """Pooled grid sizes for a ``map_size × map_size`` map, following METHODS §2.2 [inferred].

    §2.2 uses {1, 2, 4} for 8×8 maps and {1, 2, 4, 7} for larger ones; on smaller maps we keep
    the sizes strictly below the map size, so the keys are a *reduction* (4×4 -> {1, 2}).
    """
    if map_size < 1:
        raise ValueError(f"map_size must be >= 1, got {map_size}")
    if map_size > 8:
        return (1, 2, 4, 7)
    return tuple(p for p in (1, 2, 4) if p < map_size) or (1,)


class SplitMixed(nn.Module):
    """Split-and-Mixed Module (METHODS §2.1) [inferred; ShuffleNetV2 / FasterNet style].

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
    """MACs of one :class:`SplitMixed` on an ``H × W`` map (METHODS §2.1).

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


def _heads_dim(channels: int, heads: int) -> int:
    if heads < 1 or channels % heads:
        raise ValueError(f"heads={heads} must be >= 1 and divide channels={channels}; "
                         f"divisors: {[h for h in range(1, channels + 1) if channels % h == 0][:8]}")
    return channels // heads


def _attend(q: Tensor, k: Tensor, v: Tensor, heads: int) -> tuple[Tensor, Tensor]:
    """Multi-head ``softmax(QKᵀ/√d) V`` written out, so the weights can be shown.

    ``q``: (B, N, c); ``k``, ``v``: (B, M, c); returns ``(B, N, c)`` and weights ``(B, h, N, M)``.
    """
    b, n, c = q.shape
    d = c // heads
    q = q.view(b, n, heads, d).transpose(1, 2)
    k = k.view(b, -1, heads, d).transpose(1, 2)
    v = v.view(b, -1, heads, d).transpose(1, 2)
    attn = ((q @ k.transpose(-2, -1)) * d ** -0.5).softmax(dim=-1)
    return (attn @ v).transpose(1, 2).reshape(b, n, c), attn


class CrossScaleAttention(nn.Module):
    """Cross-Scale Attention (METHODS §2.2) [inferred; P2T pooling attention + Shunted groups].

    On tokens ``X`` (B, N, C) of an ``H × W`` map::

        Q   = X W_q
        S_i = DW3x3(AvgPool(X, p_i)) + AvgPool(X, p_i)        for p_i in scales
        S   = LN(concat_i flatten(S_i))                       M = Σ p_i² tokens
        K,V = S W_k, S W_v
        out = W_o (softmax(Q Kᵀ / √d) V + DW3x3(X))          last term: local enhancement

    With ``shunted=True`` the heads form ``len(scales)`` groups; group ``g`` gets its own K/V
    projection (``C -> C/len(scales)``) of scale ``g``'s tokens only (Shunted Transformer,
    arXiv 2111.15193), which divides the K/V and attention cost by the number of scales.

    Args:
        dim: channels ``C``.
        heads: attention heads ``h`` (must divide ``C``; and be a multiple of ``len(scales)``
            when shunted).
        scales: pooled grid sizes ``p_i`` (default (1, 2, 4), meant for 8×8 maps).
        shunted: one scale per head group instead of all scales for every head.
        local: add the depthwise local-enhancement branch.

    Example:
        >>> attn = CrossScaleAttention(64, heads=4, scales=(1, 2, 4))
        >>> attn(torch.randn(2, 64, 64), (8, 8)).shape
        torch.Size([2, 64, 64])
        >>> attn.attention(torch.randn(1, 64, 64), (8, 8)).shape  # (B, heads, N, M = 1 + 4 + 16)
        torch.Size([1, 4, 64, 21])
    """

    def __init__(self, dim: int, heads: int = 4, scales: Sequence[int] = (1, 2, 4),
                 shunted: bool = False, local: bool = True) -> None:
        super().__init__()
        _heads_dim(dim, heads)
        scales = tuple(int(p) for p in scales)
        if not scales or any(p < 1 for p in scales):
            raise ValueError(f"scales must be a non-empty sequence of grid sizes >= 1, got {scales!r}")
        if shunted and heads % len(scales):
            raise ValueError(f"shunted mode splits heads={heads} into {len(scales)} groups (one per "
                             f"scale); use heads that is a multiple of {len(scales)}")
        self.dim, self.heads, self.scales, self.shunted, self.local = dim, heads, scales, shunted, local
        groups = len(scales) if shunted else 1
        self.q = nn.Linear(dim, dim)
        self.pool_dw = nn.ModuleList(nn.Conv2d(dim, dim, 3, padding=1, groups=dim) for _ in scales)
        self.norm = nn.LayerNorm(dim)
        self.k = nn.ModuleList(nn.Linear(dim, dim // groups) for _ in range(groups))
        self.v = nn.ModuleList(nn.Linear(dim, dim // groups) for _ in range(groups))
        if local:
            self.local_dw = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.proj = nn.Linear(dim, dim)

    @property
    def pooled_tokens(self) -> int:
        """``M = Σ p_i²``, the number of key/value tokens."""
        return sum(p * p for p in self.scales)

    def _pooled(self, img: Tensor) -> list[Tensor]:
        """Per scale, the (B, p², C) tokens ``DW3x3(pool) + pool``, each layer-normed."""
        out = []
        for p, dw in zip(self.scales, self.pool_dw):
            s = nn.functional.adaptive_avg_pool2d(img, p)
            out.append(self.norm((dw(s) + s).flatten(2).transpose(1, 2)))
        return out

    def _forward(self, x: Tensor, size: tuple[int, int]) -> tuple[Tensor, Tensor]:
        b, n, c = x.shape
        h, w = size
        if n != h * w or c != self.dim:
            raise ValueError(f"expected tokens (B, {h}*{w}, {self.dim}) for size={size}, got {tuple(x.shape)}")
        img = x.transpose(1, 2).reshape(b, c, h, w)
        q = self.q(x)
        pooled = self._pooled(img)
        if not self.shunted:
            s = torch.cat(pooled, dim=1)
            out, attn = _attend(q, self.k[0](s), self.v[0](s), self.heads)
        else:
            g_heads, g_dim = self.heads // len(self.scales), c // len(self.scales)
            outs, attn = [], x.new_zeros(b, self.heads, n, self.pooled_tokens)
            start = 0
            for g, s in enumerate(pooled):
                o, a = _attend(q[..., g * g_dim:(g + 1) * g_dim], self.k[g](s), self.v[g](s), g_heads)
                outs.append(o)
                attn[:, g * g_heads:(g + 1) * g_heads, :, start:start + s.shape[1]] = a
                start += s.shape[1]
            out = torch.cat(outs, dim=-1)
        if self.local:
            out = out + self.local_dw(img).flatten(2).transpose(1, 2)
        return self.proj(out), attn

    def forward(self, x: Tensor, size: tuple[int, int]) -> Tensor:
        return self._forward(x, size)[0]

    def attention(self, x: Tensor, size: tuple[int, int]) -> Tensor:
        """Attention weights ``(B, heads, N, M)``; token ranges per scale: :meth:`token_slices`.

        In shunted mode a head's weights are zero outside its own scale's tokens.
        """
        return self._forward(x, size)[1]

    def token_slices(self) -> list[slice]:
        """Which of the ``M`` key tokens belong to each scale, in ``scales`` order."""
        out, start = [], 0
        for p in self.scales:
            out.append(slice(start, start + p * p))
            start += p * p
        return out

    def macs(self, height: int, width: int) -> int:
        """Analytic MACs on an ``height × width`` map (see :func:`csa_macs`)."""
        return csa_macs(height * width, self.dim, self.scales, self.heads, self.shunted, self.local)


def csa_macs(tokens: int, channels: int, scales: Sequence[int] = (1, 2, 4), heads: int = 1,
             shunted: bool = False, local: bool = True) -> int:
    """MACs of one :class:`CrossScaleAttention` with ``N`` tokens (METHODS §2.2).

    ``2NC² + 2MC² + 2NMC + 9C(M + N)`` with ``M = Σ p_i²``: Q and output projections, K and V
    projections of the pooled tokens, ``QKᵀ`` and ``AV``, depthwise 3×3 on the pooled maps and
    (``local``) on the input map. Shunted: the K/V and attention terms are divided by the number
    of scales. Not counted here nor by FlopCounterMode: pooling (about ``N·C`` adds per scale),
    LayerNorm, softmax, the ``1/√d`` scaling, biases and additions. ``heads`` changes nothing
    unless shunted (it is only checked).

    Example (METHODS §2.2 worked example, N = 64, C = 64, M = 21):
        >>> csa_macs(64, 64, (1, 2, 4))
        917312
    """
    _heads_dim(channels, heads)
    n, c, m = tokens, channels, sum(p * p for p in scales)
    groups = len(scales) if shunted else 1
    if shunted and heads % groups:
        raise ValueError(f"shunted mode needs heads ({heads}) to be a multiple of len(scales) ({groups})")
    kv_attn = (2 * m * c * c + 2 * n * m * c) // groups
    return 2 * n * c * c + kv_attn + 9 * c * m + (9 * c * n if local else 0)


class FullSelfAttention(nn.Module):
    """Plain multi-head self-attention over all ``N`` tokens (ViT; Vaswani et al. 2017).

    The baseline of METHODS §2.3 and the "full MHSA" ablation: ``W_o softmax(QKᵀ/√d) V`` with
    ``Q, K, V = X W_q, X W_k, X W_v``. Same call signature as :class:`CrossScaleAttention`.

    Example:
        >>> FullSelfAttention(32, heads=2)(torch.randn(1, 16, 32), (4, 4)).shape
        torch.Size([1, 16, 32])
    """

    labkit_fixed_width = ("q", "k", "v")  # split into heads x head_dim: compact keeps their width

    def __init__(self, dim: int, heads: int = 4) -> None:
        super().__init__()
        _heads_dim(dim, heads)
        self.dim, self.heads = dim, heads
        self.q, self.k, self.v, self.proj = (nn.Linear(dim, dim) for _ in range(4))

    def _forward(self, x: Tensor, size: tuple[int, int]) -> tuple[Tensor, Tensor]:
        if x.shape[1] != size[0] * size[1] or x.shape[2] != self.dim:
            raise ValueError(f"expected tokens (B, {size[0]}*{size[1]}, {self.dim}), got {tuple(x.shape)}")
        out, attn = _attend(self.q(x), self.k(x), self.v(x), self.heads)
        return self.proj(out), attn

    def forward(self, x: Tensor, size: tuple[int, int]) -> Tensor:
        return self._forward(x, size)[0]

    def attention(self, x: Tensor, size: tuple[int, int]) -> Tensor:
        """Attention weights ``(B, heads, N, N)``."""
        return self._forward(x, size)[1]

    def macs(self, height: int, width: int) -> int:
        """Analytic MACs (see :func:`mhsa_macs`)."""
        return mhsa_macs(height * width, self.dim)


def mhsa_macs(tokens: int, channels: int) -> int:
    """MACs of full multi-head self-attention: ``4NC² + 2N²C`` (four projections, QKᵀ and AV).

    Example:
        >>> mhsa_macs(64, 64)
        1572864
    """
    return 4 * tokens * channels * channels + 2 * tokens * tokens * channels


def block_mlp_macs(tokens: int, channels: int, mlp_ratio: float = 2.0, mlp_dw: bool = False) -> int:
    """MACs of :class:`CSABlock`'s MLP: ``2·N·C·hidden`` (+ ``9·N·hidden`` with the inner DW 3×3)."""
    hidden = int(channels * mlp_ratio)
    return 2 * tokens * channels * hidden + (9 * tokens * hidden if mlp_dw else 0)


class CSABlock(nn.Module):
    """Pre-norm transformer block on feature maps (METHODS §2.2 block layout) [inferred].

    ``t = flatten(x)``; ``t = t + Attn(LN(t))``; ``t = t + MLP(LN(t))``; back to a map. ``MLP`` is
    ``Linear(C, rC) -> GELU -> Linear(rC, C)``, optionally with a depthwise 3×3 on the hidden map
    (``mlp_dw``). ``attention="csa"`` uses :class:`CrossScaleAttention` (the options go to it),
    ``"mhsa"`` uses :class:`FullSelfAttention`.

    Example:
        >>> blk = CSABlock(64, heads=4, scales=(1, 2))
        >>> blk(torch.randn(2, 64, 4, 4)).shape
        torch.Size([2, 64, 4, 4])
    """

    def __init__(self, dim: int, heads: int = 4, attention: Literal["csa", "mhsa"] = "csa",
                 scales: Sequence[int] = (1, 2, 4), shunted: bool = False, local: bool = True,
                 mlp_ratio: float = 2.0, mlp_dw: bool = False) -> None:
        super().__init__()
        if attention not in ("csa", "mhsa"):
            raise ValueError(f"attention must be 'csa' or 'mhsa', got {attention!r}")
        if mlp_ratio <= 0:
            raise ValueError(f"mlp_ratio must be > 0, got {mlp_ratio}")
        self.dim, self.mlp_ratio, self.mlp_dw = dim, mlp_ratio, mlp_dw
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim)
        self.attn: CrossScaleAttention | FullSelfAttention = (
            CrossScaleAttention(dim, heads, scales, shunted, local) if attention == "csa"
            else FullSelfAttention(dim, heads))
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        if mlp_dw:
            self.mlp_dwconv = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2)
        t = t + self.attn(self.norm1(t), (h, w))
        y = self.fc1(self.norm2(t))
        if self.mlp_dw:
            y = self.mlp_dwconv(y.transpose(1, 2).reshape(b, -1, h, w)).flatten(2).transpose(1, 2)
        t = t + self.fc2(self.act(y))
        return t.transpose(1, 2).reshape(b, c, h, w)

    def macs(self, height: int, width: int) -> int:
        """Attention + MLP MACs on an ``height × width`` map (LayerNorms and adds not counted)."""
        return self.attn.macs(height, width) + block_mlp_macs(height * width, self.dim,
                                                              self.mlp_ratio, self.mlp_dw)



# --------------------------------------------------------------------------------------------
# Backbones (METHODS §2.3) [inferred]: CSASML-lite and its same-macro baseline.
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
    """CSASML-lite (METHODS §2.3) [inferred]: SMM in stages 1–2, CSA blocks in stage 3.

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

    The comparison of METHODS §2.5: stages 1–2 use ``resnet_cifar.BasicBlock`` (two 3×3 convs,
    ``18·C²`` MACs per position) and stage 3 uses :class:`CSABlock` with ``attention="mhsa"``.

    Example:
        >>> csasml_baseline(num_classes=10, in_channels=1)(torch.zeros(1, 1, 16, 16)).shape
        torch.Size([1, 10])
    """

    def block(stage: int, c: int) -> nn.Module:
        return BasicBlock(c, c) if stage < 3 else CSABlock(c, heads, "mhsa", mlp_ratio=mlp_ratio)

    return CSASMLNet(block, num_classes=num_classes, in_channels=in_channels, widths=widths, depths=depths)
