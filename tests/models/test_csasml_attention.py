"""CSASML attention (Cross-Scale, full multi-head, the block): shapes, gradients, options, attention
weights, and analytic MACs against FlopCounterMode (the oracle, via the ``counted_macs`` fixture)."""
from __future__ import annotations

import pytest
import torch

from labkit.models.csasml_attention import CrossScaleAttention, CSABlock, FullSelfAttention, csa_macs, mhsa_macs


@pytest.mark.parametrize("c,heads,h,w", [(32, 4, 8, 8), (64, 4, 4, 4), (48, 6, 16, 16), (96, 6, 8, 12)])
@pytest.mark.parametrize("scales,shunted,local", [((1, 2, 4), False, True), ((1, 2), True, True),
                                                  ((2,), False, False), ((1, 2, 4, 7), False, True)])
def test_csa_shape_grad_and_macs(c, heads, h, w, scales, shunted, local, counted_macs):
    if shunted and heads % len(scales):
        pytest.skip("shunted needs heads divisible by the number of scales")
    m = CrossScaleAttention(c, heads=heads, scales=scales, shunted=shunted, local=local)
    x = torch.randn(2, h * w, c, requires_grad=True)
    y = m(x, (h, w))
    assert y.shape == x.shape
    y.square().mean().backward()
    assert torch.isfinite(x.grad).all()
    assert all(p.grad is not None for p in m.parameters())
    expected = csa_macs(h * w, c, scales, heads, shunted, local)
    assert counted_macs(m, x[:1].detach(), (h, w)) == expected == m.macs(h, w)


def test_worked_example_of_methods_2_2(counted_macs):
    # N = 64, C = 64, M = 1 + 4 + 16 = 21: full MHSA 1,572,864 MACs, CSA 917,312 (0.58x).
    assert mhsa_macs(64, 64) == 1_572_864
    assert csa_macs(64, 64, (1, 2, 4)) == 917_312
    assert round(917_312 / 1_572_864, 2) == 0.58
    # ... and torch's counter agrees on the modules themselves.
    x = torch.randn(1, 64, 64)
    assert counted_macs(CrossScaleAttention(64, 4, (1, 2, 4)), x, (8, 8)) == 917_312
    assert counted_macs(FullSelfAttention(64, 4), x, (8, 8)) == 1_572_864


def test_shunted_divides_kv_and_attention_cost():
    full, shunted = csa_macs(64, 64, (1, 2), 4), csa_macs(64, 64, (1, 2), 4, shunted=True)
    n, c, m = 64, 64, 5
    assert full - shunted == (2 * m * c * c + 2 * n * m * c) // 2


@pytest.mark.parametrize("n_side,c", [(4, 32), (8, 64)])
def test_full_attention_macs(n_side, c, counted_macs):
    m = FullSelfAttention(c, heads=4)
    x = torch.randn(1, n_side * n_side, c)
    assert counted_macs(m, x, (n_side, n_side)) == mhsa_macs(n_side ** 2, c) == m.macs(n_side, n_side)


def test_attention_weights_are_distributions_and_shunted_heads_see_one_scale():
    x = torch.randn(2, 64, 32)
    a = CrossScaleAttention(32, heads=4, scales=(1, 2, 4)).attention(x, (8, 8))
    assert a.shape == (2, 4, 64, 21)
    torch.testing.assert_close(a.sum(-1), torch.ones(2, 4, 64))
    m = CrossScaleAttention(32, heads=4, scales=(1, 2), shunted=True)
    a = m.attention(x, (8, 8))
    s1, s2 = m.token_slices()
    torch.testing.assert_close(a[:, :2, :, s1].sum(-1), torch.ones(2, 2, 64))  # group 0: scale 1
    assert a[:, :2, :, s2].abs().sum() == 0 and a[:, 2:, :, s1].abs().sum() == 0


def test_csa_bad_options_name_the_fix():
    with pytest.raises(ValueError, match="divide"):
        CrossScaleAttention(30, heads=4)
    with pytest.raises(ValueError, match="multiple of 3"):
        CrossScaleAttention(32, heads=4, scales=(1, 2, 4), shunted=True)
    with pytest.raises(ValueError, match="scales"):
        CrossScaleAttention(32, heads=4, scales=())
    with pytest.raises(ValueError, match="expected tokens"):
        CrossScaleAttention(32, heads=4)(torch.randn(1, 10, 32), (4, 4))


@pytest.mark.parametrize("attention,mlp_dw", [("csa", False), ("csa", True), ("mhsa", False)])
def test_block_shape_grad_and_macs(attention, mlp_dw, counted_macs):
    blk = CSABlock(48, heads=6, attention=attention, scales=(1, 2), mlp_dw=mlp_dw)
    x = torch.randn(2, 48, 4, 6, requires_grad=True)
    y = blk(x)
    assert y.shape == x.shape
    y.sum().backward()
    assert torch.isfinite(x.grad).all()
    assert counted_macs(blk, x[:1].detach()) == blk.macs(4, 6)
