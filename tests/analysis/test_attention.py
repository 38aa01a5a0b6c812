"""The attention a Cross-Scale Attention block computes on one image, as the viewer draws it."""
import numpy as np
import pytest
import torch
from torch import nn

from labkit.analysis.attention import attention_sample
from labkit.models import load_model


def test_attention_weights_are_distributions_over_the_pooled_tokens():
    torch.manual_seed(0)
    net = load_model("csasml_lite", num_classes=10, in_channels=1, input_size=16).train()
    image = torch.rand(1, 16, 16)
    s = attention_sample(net, image)
    assert s.weights.shape == (6, 16, 5) and s.scales == (1, 2) and s.size == (4, 4)  # 4x4 map, 1 + 4 pooled
    np.testing.assert_allclose(s.weights.sum(-1), 1.0, rtol=1e-5)
    assert np.array_equal(s.image, image.numpy()) and net.training  # the mode is restored
    again = attention_sample(net, image, block=[n for n, m in net.named_modules() if hasattr(m, "attn")][0])
    np.testing.assert_allclose(again.weights, s.weights)


def test_models_without_a_csa_block_are_refused():
    with pytest.raises(ValueError, match="no CrossScaleAttention"):
        attention_sample(nn.Sequential(nn.Conv2d(1, 2, 3)), torch.rand(1, 8, 8))
    net = load_model("csasml_lite", num_classes=10, in_channels=1, input_size=16)
    with pytest.raises(ValueError, match="not a CrossScaleAttention"):
        attention_sample(net, torch.rand(1, 16, 16), block="stem")
