"""apply_masks: dense * mask in a copy; filter masks switch the whole channel off; the dense model is untouched."""
from __future__ import annotations

import copy

import pytest
import torch
from torch.func import functional_call

from labkit.criteria import score
from labkit.pruning import Masks, Ranking, apply_masks, expand_masks


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_weight_masks_equal_functional_call_oracle(net, data) -> None:
    x, _ = data
    before = _state(net)
    masks = Ranking(score(net, "magnitude")).masks(0.6)
    pruned = apply_masks(net, masks)
    assert pruned is not net
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items()), "dense model mutated"
    params = {n: p * masks[n] if n in masks else p for n, p in net.named_parameters()}
    with torch.no_grad():
        assert torch.allclose(pruned(x), functional_call(net, params, (x,)), atol=1e-6)
    for n, m in masks.items():
        w = pruned.get_parameter(n)
        assert bool((w[~m] == 0).all()) and torch.equal(w[m], net.get_parameter(n)[m])


def test_filter_masks_zero_the_channel_output(net, data) -> None:
    x, _ = data
    keep = torch.ones(16, dtype=torch.bool)
    keep[[1, 5, 6]] = False
    pruned = apply_masks(net, Masks({"6.weight": keep, "11.weight": torch.arange(10) % 2 == 0}, "filter"))
    pruned.requires_grad_(False)
    assert float(pruned[6].weight[~keep].abs().sum()) == 0 and float(pruned[6].bias[~keep].abs().sum()) == 0
    assert float(pruned[7].weight[~keep].abs().sum()) == 0 and float(pruned[7].bias[~keep].abs().sum()) == 0
    with torch.no_grad():
        out = pruned[:8](x)                      # after the BatchNorm: running stats cannot leak through
        hidden = pruned[:12](x)
    assert float(out[:, ~keep].abs().max()) == 0 and float(out[:, keep].abs().max()) > 0
    assert float(hidden[:, 1::2].abs().max()) == 0   # linear rows and their bias
    assert not torch.equal(pruned[7].running_mean, torch.zeros(16))


def test_out_reuses_a_working_copy_without_leftovers(net) -> None:
    r = Ranking(score(net, "magnitude"))
    work = copy.deepcopy(net)
    apply_masks(net, r.masks(0.9), out=work)
    again = apply_masks(net, r.masks(0.2), out=work)
    assert again is work
    fresh = apply_masks(net, r.masks(0.2))
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), fresh.state_dict().values()))
    with pytest.raises(ValueError, match="never mutated"):
        apply_masks(net, r.masks(0.2), out=net)


def test_expand_masks_lists_every_touched_parameter(net) -> None:
    full = expand_masks(net, Masks({"3.weight": torch.ones(12, dtype=torch.bool)}, "filter"))
    assert sorted(full) == ["3.bias", "3.weight", "4.bias", "4.weight"]
    assert full["3.weight"].shape == net[3].weight.shape


def test_bad_masks(net) -> None:
    with pytest.raises(KeyError, match="unknown layer 'conv9.weight'"):
        apply_masks(net, Masks({"conv9.weight": torch.ones(3, dtype=torch.bool)}))
    with pytest.raises(ValueError, match="mask shape mismatch for '3.weight'"):
        apply_masks(net, Masks({"3.weight": torch.ones(12, 8, 3, dtype=torch.bool)}))
    with pytest.raises(ValueError, match=r"need \(12,\)"):
        apply_masks(net, Masks({"3.weight": torch.ones(8, dtype=torch.bool)}, "filter"))
    with pytest.raises(TypeError, match="Masks"):
        apply_masks(net, {"3.weight": torch.ones(12, dtype=torch.bool)})
