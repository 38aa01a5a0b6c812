"""Influence curves: batched ablation equals one-at-a-time masking, jvp is exact on a linear net,
sites, dead channels, errors (the Weibull fit: test_weibull.py; the score: test_score.py)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from labkit.criteria.influence import domino_scores, fit_weibull, influence_curves, survival
from labkit.models.topology import depth_sites
from labkit.models import load_model
from labkit.pruning import Masks, apply_masks


@pytest.fixture(scope="module")
def resnet() -> nn.Module:
    torch.manual_seed(0)
    net = load_model("resnet20", num_classes=10, in_channels=1)
    with torch.no_grad():  # non-trivial BN statistics so that eval mode is not the identity
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.3)
    return net.eval()


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    return torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(1))


def _site_outputs(net: nn.Module, x: torch.Tensor, names: list[str]) -> dict[str, torch.Tensor]:
    mods = dict(net.named_modules())
    out: dict[str, torch.Tensor] = {}
    hs = [mods[n].register_forward_hook(lambda _m, _i, o, n=n: out.__setitem__(n, o)) for n in names if n != "logits"]
    with torch.no_grad():
        out["logits"] = net(x)
    for h in hs:
        h.remove()
    return out


@pytest.mark.parametrize("layer", ["layer1.1.conv1.weight", "layer2.0.conv2.weight", "layer2.0.shortcut.conv.weight"])
def test_batched_ablation_equals_masking_one_channel_at_a_time(resnet, x, layer):
    curves = influence_curves(resnet, x, layers=[layer], chunk_items=12)  # 2 channels per pass: several passes
    sites = curves.sites[layer]
    ref = _site_outputs(resnet, x, sites)
    C = resnet.get_parameter(layer).shape[0]
    for c in (0, 5, C - 1):
        keep = torch.ones(C, dtype=torch.bool)
        keep[c] = False
        abl = _site_outputs(apply_masks(resnet, Masks({layer: keep}, "filter")).eval(), x, sites)
        want = [float(((abl[s] - ref[s]).flatten(1).norm(dim=1) / ref[s].flatten(1).norm(dim=1)).mean())
                for s in sites]
        np.testing.assert_allclose(curves.deltas[layer][c].numpy(), want, rtol=1e-4, atol=1e-6)


def test_sites_run_from_the_layer_to_the_logits(resnet, x):
    sites = depth_sites(resnet, x[:1])
    assert sites[:3] == ["stem.relu", "layer1.0.relu1", "layer1.0.relu2"] and sites[-1] == "logits"
    assert len(sites) == 20  # 19 convs on the main path + the logits: ResNet-20's 20 layers
    c = influence_curves(resnet, x, layers=["layer1.0.conv1.weight", "layer3.2.conv2.weight"])
    assert c.own_site["layer1.0.conv1.weight"] == "layer1.0.relu1"
    assert c.sites["layer1.0.conv1.weight"][0] == "layer1.0.relu2" and c.depths["layer1.0.conv1.weight"] == 18
    assert c.sites["layer3.2.conv2.weight"] == ["logits"]
    short = influence_curves(resnet, x, layers=["layer1.0.conv1.weight"], horizon=3)
    assert short.deltas["layer1.0.conv1.weight"].shape == (16, 3) and short.depths["layer1.0.conv1.weight"] == 18
    torch.testing.assert_close(short.deltas["layer1.0.conv1.weight"], c.deltas["layer1.0.conv1.weight"][:, :3])


def test_jvp_is_exact_on_a_linear_network():
    torch.manual_seed(0)
    lin = lambda: nn.LeakyReLU(negative_slope=1.0)  # an activation module that is linear: first order is exact
    net = nn.Sequential(nn.Conv2d(2, 6, 3, padding=1), nn.BatchNorm2d(6), lin(), nn.Conv2d(6, 5, 3, padding=1),
                        nn.BatchNorm2d(5), lin(), nn.Conv2d(5, 4, 3), nn.BatchNorm2d(4), lin(), nn.Flatten(),
                        nn.Linear(4 * 4 * 4, 3)).eval()
    x = torch.randn(5, 2, 6, 6)
    exact = influence_curves(net, x, layers=["0.weight", "3.weight"])
    first = influence_curves(net, x, layers=["0.weight", "3.weight"], method="jvp")
    for n in exact.deltas:
        torch.testing.assert_close(first.deltas[n], exact.deltas[n], rtol=1e-4, atol=1e-6)


def test_jvp_approximates_exact_ablation_on_resnet(resnet, x):
    layer = "layer3.0.conv1.weight"
    e = influence_curves(resnet, x, layers=[layer]).deltas[layer]
    j = influence_curves(resnet, x, layers=[layer], method="jvp").deltas[layer]
    assert j.shape == e.shape and bool(torch.isfinite(j).all())
    corr = np.corrcoef(e[:, 0].numpy(), j[:, 0].numpy())[0, 1]
    assert corr > 0.9, corr


def test_dead_channel_has_no_influence(resnet, x):
    layer = "layer2.1.conv1.weight"
    keep = torch.ones(32, dtype=torch.bool)
    keep[7] = False
    dead = apply_masks(resnet, Masks({layer: keep}, "filter"))
    c = influence_curves(dead, x, layers=[layer])
    assert float(c.deltas[layer][7].abs().max()) == 0.0 and float(c.deltas[layer][keep].min()) >= 0.0
    f = fit_weibull(c.survival(layer))
    assert f.kind[7] == "dead" and float(domino_scores(c.deltas[layer], f)[7]) == 0.0


def test_model_is_not_modified(resnet, x):
    before = {k: v.clone() for k, v in resnet.state_dict().items()}
    influence_curves(resnet, x, layers=["layer1.0.conv1.weight"], method="jvp")
    assert all(torch.equal(before[k], v) for k, v in resnet.state_dict().items())
    assert not resnet.training and all(h == {} for h in [m._forward_hooks for m in resnet.modules()])


def test_errors_name_the_fix(resnet, x):
    with pytest.raises(ValueError, match="method"):
        influence_curves(resnet, x, layers=["layer1.0.conv1.weight"], method="taylor")
    with pytest.raises(KeyError, match="unknown layer"):
        influence_curves(resnet, x, layers=["layer9.conv.weight"])
    with pytest.raises(ValueError, match="exclude_last"):
        influence_curves(resnet, x, layers=["head.fc.weight"])
    with pytest.raises(ValueError, match="horizon"):
        influence_curves(resnet, x, layers=["layer1.0.conv1.weight"], horizon=0)
    with pytest.raises(ValueError, match="empty"):
        influence_curves(resnet, x[:0], layers=["layer1.0.conv1.weight"])


# --- survival ---------------------------------------------------------------------------------------------
def test_survival_normalises_by_the_first_depth():
    s = survival(torch.tensor([[0.4, 0.2, 0.1], [0.0, 0.0, 0.0], [0.2, 0.3, 0.1]]))
    torch.testing.assert_close(s, torch.tensor([[1.0, 0.5, 0.25], [0.0, 0.0, 0.0], [1.0, 1.5, 0.5]]))


# --- torchvision's ResNet (one ReLU module reused per block) and a one-stage module -----------------------
@pytest.fixture(scope="module")
def tv_resnet18() -> nn.Module:
    import torchvision

    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None, num_classes=4).eval()


def test_torchvision_resnet18_blocks_stand_in_for_their_reused_relu(tv_resnet18):
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    sites = depth_sites(tv_resnet18, x[:1])
    assert sites == ["relu"] + [f"layer{i}.{j}" for i in range(1, 5) for j in range(2)] + ["logits"]
    layer = "layer3.1.conv1.weight"
    c = influence_curves(tv_resnet18, x, layers=[layer], chunk_items=96, min_depths=3)  # 32 channels per pass
    assert c.own_site[layer] == "layer3.1" and c.sites[layer] == ["layer4.0", "layer4.1", "logits"]
    # oracle: mask one channel with the filter-mask machinery and run the whole model
    ref = _site_outputs(tv_resnet18, x, c.sites[layer])
    C = tv_resnet18.get_parameter(layer).shape[0]
    for ch in (0, C - 1):
        keep = torch.ones(C, dtype=torch.bool)
        keep[ch] = False
        abl = _site_outputs(apply_masks(tv_resnet18, Masks({layer: keep}, "filter")).eval(), x, c.sites[layer])
        want = [float(((abl[s] - ref[s]).flatten(1).norm(dim=1) / ref[s].flatten(1).norm(dim=1)).mean())
                for s in c.sites[layer]]
        np.testing.assert_allclose(c.deltas[layer][ch].numpy(), want, rtol=1e-4, atol=1e-6)
    fits = fit_weibull(c.survival(layer))
    assert len(fits) == C and (fits.kind != "short").all()  # three depths: real decay curves, not the fallback


class _OneStage(nn.Module):
    """A user's module: one stage, activations as function calls (no activation module to hook)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(4, 6, 3, padding=1)
        self.fc1, self.fc2 = nn.Linear(6, 8), nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv2(torch.relu(self.conv1(x)))).mean((2, 3))
        return self.fc2(torch.relu(self.fc1(x)))


def test_a_one_stage_module_says_what_it_can_and_cannot_measure():
    torch.manual_seed(0)
    net, x = _OneStage().eval(), torch.rand(4, 1, 6, 6)
    c = influence_curves(net, x, layers=["conv2.weight"])  # Δ_1 at the next site can be measured ...
    assert c.depths["conv2.weight"] == 1 and c.deltas["conv2.weight"].shape == (6, 1)
    with pytest.raises(ValueError) as err:  # ... a decay fit cannot: said, not fitted on one point
        influence_curves(net, x, layers=["conv2.weight"], min_depths=3)
    msg = str(err.value)
    assert "Δ_1 can be measured" in msg and "Weibull fit needs at least 3" in msg and "functional calls" in msg
    with pytest.raises(ValueError, match="no channel effect can be measured"):
        influence_curves(net, x, layers=["fc1.weight"])
