"""Registry behaviour (strict names, sizable builders) and the contract every registered model must meet."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import labkit.models.registry as registry_mod
from labkit._registry import Registry
from labkit.models import get_model, list_models, load_model, prunable_parameters, register_model, stages

EXPECTED = {"tiny_cnn", "resnet20", "resnet32", "resnet56", "vgg16_bn", "vgg_small", "vgg16", "resnet18"}


def test_list_models_has_the_zoo():
    assert EXPECTED <= set(list_models())
    assert list_models() == sorted(list_models())


def test_unknown_name_suggests_close_matches():
    with pytest.raises(KeyError, match="resnet20"):
        get_model("resnet2")


def test_duplicate_registration_raises():
    with pytest.raises(ValueError, match="already registered"):
        @register_model("resnet20")
        def other(*, num_classes: int = 10, in_channels: int = 3) -> nn.Module:
            return nn.Identity()


def test_builder_must_take_sizes(monkeypatch):
    monkeypatch.setattr(registry_mod, "_MODELS", Registry("model"))
    with pytest.raises(TypeError, match="in_channels"):
        @register_model("bad")
        def bad(*, num_classes: int = 10) -> nn.Module:
            return nn.Identity()

    @register_model("good")
    def good(*, num_classes: int = 10, in_channels: int = 3) -> nn.Module:
        return nn.Linear(in_channels, num_classes)

    assert list_models() == ["good"]
    assert load_model("good", num_classes=4, in_channels=2).out_features == 4


# --- the contract every registered model meets (timm's test_models.py pattern) -------------

NEEDS_32PX = {"vgg16"}  # torchvision's VGG pools five times without ceil_mode


@pytest.fixture(params=list_models())
def case(request, zoo) -> tuple[nn.Module, torch.Tensor]:
    """(model with 5 classes and 1 input channel, a seeded input batch it accepts)."""
    net = zoo(request.param, num_classes=5, in_channels=1)  # the same builds as the other files
    size = 32 if request.param in NEEDS_32PX else 16
    return net, torch.randn(2, 1, size, size, generator=torch.Generator().manual_seed(0))


@torch.no_grad()
def test_stages_compose_to_forward_exactly(case):
    model, x = case
    h = x
    for stage in stages(model):
        before = h.clone()
        out = stage(h)
        assert torch.equal(h, before), f"{type(stage).__name__} modified its input in place"
        h = out
    y = model(x)
    assert y.shape == (2, 5)
    assert torch.equal(h, y)
    assert torch.isfinite(y).all()


def test_stages_hold_every_parameter(case):
    model, _ = case
    inside = {id(p) for s in stages(model) for p in s.parameters()}
    assert inside == {id(p) for p in model.parameters()}
    assert len(stages(model)) >= 3


@torch.no_grad()
def test_prunable_parameters_in_forward_order(case):
    model, x = case
    called: list[str] = []
    names = {m: n for n, m in model.named_modules()}
    hooks = [m.register_forward_pre_hook(lambda mod, _: called.append(f"{names[mod]}.weight"))
             for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        model(x)
    finally:
        for h in hooks:
            h.remove()
    assert prunable_parameters(model, exclude_first=False, exclude_last=False) == called
    default = prunable_parameters(model)
    assert default == called[1:-1]  # first conv and last linear excluded (docs/methods.md §0.1)
