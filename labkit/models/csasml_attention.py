"""CSASML's attention: Cross-Scale Attention, plain multi-head self-attention, and the block around them.

Part of method 2 (docs/methods.md §2.2; the designs are **[inferred]**, see :mod:`labkit.models.csasml`):

* :class:`CrossScaleAttention` (CSA): queries from all ``N`` positions, keys and values from
  ``M = Σ p_i²`` tokens pooled at several grid sizes ``p_i`` (P2T), optional Shunted head groups
  (one scale per group of heads) and a depthwise "local enhancement" branch. Cost ``O(N·M·C)``:
  linear in the number of tokens, where full attention is ``O(N²·C)``.
* :class:`FullSelfAttention`: ``W_o softmax(QKᵀ/√d) V`` over all tokens, the baseline and an ablation.
* :class:`CSABlock`: a pre-norm transformer block on feature maps around either attention.

:func:`csa_macs`, :func:`mhsa_macs` and :func:`block_mlp_macs` give their multiply-accumulates in
closed form; they match ``torch.utils.flop_counter`` exactly (tested). ``q``, ``k`` and ``v`` are
split into heads, so each module lists them in ``labkit_fixed_width``: compaction keeps their width.

Example:
    >>> import torch
    >>> CrossScaleAttention(32, heads=2, scales=(1, 2))(torch.randn(1, 16, 32), (4, 4)).shape
    torch.Size([1, 16, 32])
    >>> csa_macs(tokens=64, channels=64, scales=(1, 2, 4)), mhsa_macs(tokens=64, channels=64)
    (917312, 1572864)
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

__all__ = ["CrossScaleAttention", "FullSelfAttention", "CSABlock", "csa_macs", "mhsa_macs", "block_mlp_macs"]


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
    """Cross-Scale Attention (docs/methods.md §2.2) [inferred; P2T pooling attention + Shunted groups].

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
        # q, k, v are split into heads x head_dim: compaction keeps their width (labkit.pruning.compact)
        self.labkit_fixed_width = ("q", *(f"k.{i}" for i in range(groups)), *(f"v.{i}" for i in range(groups)))

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
    """MACs of one :class:`CrossScaleAttention` with ``N`` tokens (docs/methods.md §2.2).

    ``2NC² + 2MC² + 2NMC + 9C(M + N)`` with ``M = Σ p_i²``: Q and output projections, K and V
    projections of the pooled tokens, ``QKᵀ`` and ``AV``, depthwise 3×3 on the pooled maps and
    (``local``) on the input map. Shunted: the K/V and attention terms are divided by the number
    of scales. Not counted here nor by FlopCounterMode: pooling (about ``N·C`` adds per scale),
    LayerNorm, softmax, the ``1/√d`` scaling, biases and additions. ``heads`` changes nothing
    unless shunted (it is only checked).

    Example (docs/methods.md §2.2 worked example, N = 64, C = 64, M = 21):
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

    The baseline of docs/methods.md §2.3 and the "full MHSA" ablation: ``W_o softmax(QKᵀ/√d) V`` with
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
    """Pre-norm transformer block on feature maps (docs/methods.md §2.2 block layout) [inferred].

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
