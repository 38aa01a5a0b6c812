"""compact: filter masks -> a smaller model whose outputs equal the masked model's (resnet20, vgg16_bn, resnet18)."""
from __future__ import annotations

import warnings

import pytest
import torch
import torchvision
from torch import nn

from labkit.criteria import score
from labkit.models import load_model
from labkit.pruning import Masks, allocate, apply_masks, compact, couple_scores, coupled_groups, make_masks


def _n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _agree(model, masks, x, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        small = compact(model, masks, x, **kw)
    masked = apply_masks(model, masks)
    with torch.no_grad():
        a, b = masked.eval()(x), small.eval()(x)
    assert torch.allclose(a, b, rtol=1e-4, atol=1e-5 * (1 + float(a.abs().max())))
    return small


def test_sequential_net_shrinks_exactly(net, data) -> None:
    x, _ = data
    keep6 = torch.ones(16, dtype=torch.bool)
    keep6[:6] = False
    masks = Masks({"3.weight": torch.arange(12) < 9, "6.weight": keep6, "11.weight": torch.arange(10) < 7}, "filter")
    before = {k: v.clone() for k, v in net.state_dict().items()}
    small = _agree(net, masks, x)
    assert (small[3].out_channels, small[4].num_features, small[6].in_channels) == (9, 9, 9)
    assert (small[6].out_channels, small[11].in_features, small[11].out_features, small[13].in_features) == (10, 10, 7, 7)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items()), "dense model mutated"


@pytest.mark.parametrize("name,channels,size", [("resnet20", 1, 16), ("vgg16_bn", 1, 32), ("resnet18", 3, 32)])
def test_masked_and_compacted_agree_on_the_zoo(name, channels, size) -> None:
    torch.manual_seed(0)
    model = load_model(name, num_classes=10, in_channels=channels).eval()
    x = torch.randn(2, channels, size, size)
    sc = score(model, "magnitude", granularity="filter")
    coupled = couple_scores(sc, coupled_groups(model, x, layers=list(sc)))
    for scores, mode in ((sc, "global"), (coupled, "uniform")):
        masks = make_masks(scores, allocate(scores, 0.5, mode=mode, normalize="l2" if mode == "global" else "none"))
        small = _agree(model, masks, x)
        assert _n_params(small) < 0.8 * _n_params(model)


@pytest.mark.parametrize("name", ["csasml_baseline", "csasml_lite"])
def test_attention_networks_compact_and_keep_their_heads_whole(name) -> None:
    """q / k / v of multi-head attention keep their width (labkit_fixed_width); the rest shrinks."""
    torch.manual_seed(0)
    kw = {"input_size": 16} if name == "csasml_lite" else {}
    model = load_model(name, num_classes=10, in_channels=1, **kw).eval()
    x = torch.randn(2, 1, 16, 16)
    sc = score(model, "magnitude", granularity="filter")
    masks = make_masks(sc, allocate(sc, 0.3, mode="uniform"))
    small = _agree(model, masks, x)  # masked and compacted outputs agree
    assert _n_params(small) < 0.95 * _n_params(model)
    for n, m in model.named_modules():
        if getattr(m, "labkit_fixed_width", ()):
            for child in m.labkit_fixed_width:
                assert small.get_submodule(f"{n}.{child}").weight.shape == m.get_submodule(child).weight.shape


def test_torchvision_resnet18_directly() -> None:
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10).eval()
    x = torch.randn(1, 3, 32, 32)
    masks = make_masks(score(model, "magnitude", granularity="filter", layers=["layer2.1.conv1.weight"]),
                       {"layer2.1.conv1.weight": 0.5})
    small = _agree(model, masks, x)
    assert small.layer2[1].conv1.out_channels == 64 and small.layer2[1].conv2.in_channels == 64


def test_partial_cut_of_a_residual_group() -> None:
    """Our choice: keep the group's union of kept channels (warn), or refuse with strict=True."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10).eval()
    x = torch.randn(1, 3, 32, 32)
    keep = torch.ones(128, dtype=torch.bool)
    keep[:10] = False
    masks = Masks({"layer2.0.conv2.weight": keep}, "filter")   # its stage partners keep channel 0..9
    with pytest.raises(ValueError, match=r"only some layers of their group.*couple_scores"):
        compact(model, masks, x, strict=True)
    with pytest.warns(UserWarning, match="kept 10 masked channel"):
        small = compact(model, masks, x)
    assert small.layer2[0].conv2.out_channels == 128
    assert float(small.layer2[0].conv2.weight.detach()[:10].abs().sum()) == 0    # still zeroed, as in the masked model


def test_refusals(net, data) -> None:
    x, _ = data
    with pytest.raises(ValueError, match="filter masks"):
        compact(net, Masks({"3.weight": torch.ones(12, 8, 3, 3, dtype=torch.bool)}), x)
    with pytest.raises(ValueError, match="every channel"):
        compact(net, Masks({"3.weight": torch.zeros(12, dtype=torch.bool)}, "filter"), x)
    with pytest.raises(KeyError, match="unknown layer"):
        compact(net, Masks({"9.weight": torch.ones(2, dtype=torch.bool)}, "filter"), x)


def test_default_example_inputs_come_from_what_the_model_declares(net) -> None:
    """No guessed 32 x 32: an undeclared size raises naming the fix; a declared one is used."""
    masks = Masks({"3.weight": torch.arange(12) < 6}, "filter")
    with pytest.raises(ValueError, match=r"example_inputs=torch.randn\(1, C, H, W\).*input_shape"):
        compact(net, masks)
    net.input_shape = (3, 8, 8)
    small = compact(net, masks)
    assert small[3].out_channels == 6
