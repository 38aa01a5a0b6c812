"""torchvision's ImageNet ``vgg16`` and ``resnet18`` as labkit models, with offline weights.

Method 4 (docs/methods.md §4) prunes filters of an ImageNet-pretrained network after transfer to a
small dataset. These builders wrap torchvision's constructors (``weights=None``, so nothing is
fetched) and, with ``pretrained=True``, load the ImageNet weights from the local torch hub
cache, the same file torchvision itself would download:

    <torch.hub.get_dir()>/checkpoints/vgg16-397923af.pth
    <torch.hub.get_dir()>/checkpoints/resnet18-f37072fd.pth

If the file is missing we raise an error naming it and the folder, rather than reaching for
the network in the middle of a lab session; ``download=True`` lets torchvision fetch it
(``check_hash=True``: the hex digits in the file name are the start of its sha256). The
file is read with ``torch.load(..., weights_only=True)``, which cannot run code.

``num_classes != 1000`` replaces the last linear layer with a freshly initialised one;
``in_channels != 3`` replaces the first conv, and with pretrained weights it is initialised
from the RGB filters the way timm's ``adapt_input_conv`` does (sum for 1 channel; repeat and
rescale otherwise), so grayscale digits can use an ImageNet backbone.

Stage adapters (docs/design.md §4) are registered here for the two torchvision classes:
ResNet -> ``[Sequential(conv1, bn1, relu, maxpool), layer1, layer2, layer3, layer4,
Sequential(avgpool, Flatten(1), fc)]``; VGG -> ``features`` cut after each max-pool, then
``Sequential(avgpool, Flatten(1), classifier)``. The stages share the model's modules, and
running them in order gives exactly ``model(x)``.

Example:
    >>> net = resnet18(num_classes=5, in_channels=1)
    >>> [type(s).__name__ for s in stages(net)][:2]
    ['Sequential', 'Sequential']
    >>> net(torch.zeros(2, 1, 32, 32)).shape
    torch.Size([2, 5])
"""
from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import torch
import torchvision
from torch import nn
from torchvision.models import ResNet18_Weights, VGG16_Weights

from ._base import (
    register_stage_adapter,
    stages,  # noqa: F401  (the doctest example uses it)
)
from .registry import register_model

__all__ = ["resnet18", "vgg16", "hub_checkpoint_path", "load_hub_state_dict"]


def hub_checkpoint_path(url: str) -> Path:
    """Where torch hub keeps the file for ``url``: ``<torch.hub.get_dir()>/checkpoints/<name>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def load_hub_state_dict(url: str, *, download: bool = False) -> dict[str, torch.Tensor]:
    """Read torchvision weights for ``url`` from the local hub cache, without unpickling code.

    Raises ``FileNotFoundError`` naming the exact file and folder when the file is missing and
    ``download`` is False.
    """
    path = hub_checkpoint_path(url)
    if not path.is_file():
        if not download:
            raise FileNotFoundError(
                f"pretrained weights not found: {path.name} is not in {path.parent}. "
                f"labkit never downloads during a session: put the file there (from {url}), "
                f"or pass download=True on a machine with internet."
            )
        return torch.hub.load_state_dict_from_url(url, model_dir=str(path.parent), map_location="cpu",
                                                  check_hash=True, weights_only=True)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:  # weights_only refused a non-tensor object
        raise RuntimeError(f"{path} holds Python objects other than tensors, which labkit refuses to "
                           f"unpickle; replace it with the file from {url}") from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as err:
        raise RuntimeError(f"could not read {path} ({err}); the file is probably truncated: delete it "
                           f"and copy it again (or pass download=True)") from err


def _pair(size: tuple[int, ...]) -> tuple[int, int]:
    """A conv's ``kernel_size`` / ``stride`` / ... as the 2-tuple ``nn.Conv2d`` always stores."""
    a, b = size
    return a, b


def _adapt_first_conv(conv: nn.Conv2d, in_channels: int, pretrained: bool) -> nn.Conv2d:
    """A copy of ``conv`` taking ``in_channels`` inputs; with ``pretrained``, weights derived from RGB."""
    padding = conv.padding if isinstance(conv.padding, str) else _pair(conv.padding)
    new = nn.Conv2d(in_channels, conv.out_channels, _pair(conv.kernel_size), _pair(conv.stride), padding,
                    _pair(conv.dilation), conv.groups, bias=conv.bias is not None)
    if pretrained:
        w = conv.weight.detach()
        with torch.no_grad():
            if in_channels == 1:  # a gray image is R = G = B: summing keeps the response
                new.weight.copy_(w.sum(dim=1, keepdim=True))
            else:  # tile the RGB filters and rescale so the summed response keeps its size
                reps = -(-in_channels // w.shape[1])
                new.weight.copy_(w.repeat(1, reps, 1, 1)[:, :in_channels] * (w.shape[1] / in_channels))
            if conv.bias is not None:
                assert new.bias is not None  # made with bias=True just above
                new.bias.copy_(conv.bias.detach())
    return new


def _check_sizes(num_classes: int, in_channels: int) -> None:
    for arg, value in (("num_classes", num_classes), ("in_channels", in_channels)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{arg} must be a positive int, got {value!r}")


@register_model("vgg16")
def vgg16(*, num_classes: int = 1000, in_channels: int = 3, pretrained: bool = False,
          download: bool = False) -> torchvision.models.VGG:
    """torchvision's VGG-16 (no BN; 138,357,544 parameters at 1000 classes, 3 channels).

    With ``pretrained=True`` the ImageNet weights ``vgg16-397923af.pth`` come from the hub cache;
    a new ``classifier[6]`` is made when ``num_classes != 1000``. Inputs need at least 32 px.
    """
    _check_sizes(num_classes, in_channels)
    if not pretrained:
        model = torchvision.models.vgg16(weights=None, num_classes=num_classes)
    else:
        state = load_hub_state_dict(VGG16_Weights.IMAGENET1K_V1.url, download=download)  # fail before building
        model = torchvision.models.vgg16(weights=None)
        model.load_state_dict(state)
        if num_classes != 1000:
            fc = nn.Linear(model.classifier[6].in_features, num_classes)
            nn.init.normal_(fc.weight, 0, 0.01)  # torchvision's VGG init for linear layers
            nn.init.zeros_(fc.bias)
            model.classifier[6] = fc
    if in_channels != 3:
        model.features[0] = _adapt_first_conv(model.features[0], in_channels, pretrained)
    return model


@register_model("resnet18")
def resnet18(*, num_classes: int = 1000, in_channels: int = 3, pretrained: bool = False,
             download: bool = False) -> torchvision.models.ResNet:
    """torchvision's ResNet-18 (11,689,512 parameters at 1000 classes, 3 channels).

    With ``pretrained=True`` the ImageNet weights ``resnet18-f37072fd.pth`` come from the hub
    cache; a new ``fc`` is made when ``num_classes != 1000``. Inputs need at least 32 px.
    """
    _check_sizes(num_classes, in_channels)
    if not pretrained:
        model = torchvision.models.resnet18(weights=None, num_classes=num_classes)
    else:
        state = load_hub_state_dict(ResNet18_Weights.IMAGENET1K_V1.url, download=download)
        model = torchvision.models.resnet18(weights=None)
        model.load_state_dict(state)
        if num_classes != 1000:
            model.fc = nn.Linear(model.fc.in_features, num_classes)
    if in_channels != 3:
        model.conv1 = _adapt_first_conv(model.conv1, in_channels, pretrained)
    return model


@register_stage_adapter(torchvision.models.ResNet)
def _resnet_stages(model: nn.Module) -> list[nn.Module]:
    """Stem (conv1, bn1, relu, maxpool), the four residual stages, head (avgpool, flatten, fc)."""
    assert isinstance(model, torchvision.models.ResNet)  # stages() calls it only for ResNets
    stem = nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool)
    head = nn.Sequential(model.avgpool, nn.Flatten(1), model.fc)
    return [stem, model.layer1, model.layer2, model.layer3, model.layer4, head]


@register_stage_adapter(torchvision.models.VGG)
def _vgg_stages(model: nn.Module) -> list[nn.Module]:
    """``features`` cut after every max-pool, then the head (avgpool, flatten, classifier)."""
    assert isinstance(model, torchvision.models.VGG)  # stages() calls it only for VGGs
    out: list[nn.Module] = []
    start = 0
    for i, layer in enumerate(model.features):
        if isinstance(layer, nn.MaxPool2d):
            out.append(model.features[start:i + 1])
            start = i + 1
    if start < len(model.features):  # a features stack that does not end in a pool
        out.append(model.features[start:])
    out.append(nn.Sequential(model.avgpool, nn.Flatten(1), model.classifier))
    return out

