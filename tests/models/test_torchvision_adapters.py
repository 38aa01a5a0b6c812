"""torchvision vgg16 / resnet18: stage adapters, head and input swaps, offline ImageNet weights."""
from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from labkit.models import load_model, stages
from labkit.models.torchvision_adapters import hub_checkpoint_path, load_hub_state_dict, resnet18

R18 = "resnet18-f37072fd.pth"
V16 = "vgg16-397923af.pth"
R18_URL = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.url


class NotATensor:  # a pickled custom object, which weights_only=True must refuse
    pass


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A private torch hub folder: ``<tmp>/checkpoints`` is where cached weights live."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    (tmp_path / "checkpoints").mkdir()
    return tmp_path / "checkpoints"


@pytest.fixture(scope="module")
def imagenet_r18() -> dict[str, torch.Tensor]:
    """Stand-in "ImageNet" weights: a seeded random resnet18 in torchvision's own layout."""
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None).state_dict()


def test_resnet_stages(zoo):
    net = zoo("resnet18", num_classes=5, in_channels=1)
    parts = stages(net)
    assert len(parts) == 6
    assert list(parts[0]) == [net.conv1, net.bn1, net.relu, net.maxpool]
    assert parts[1:5] == [net.layer1, net.layer2, net.layer3, net.layer4]
    assert parts[5][-1] is net.fc and isinstance(parts[5][1], nn.Flatten)


def test_vgg_stages_cut_at_pools(zoo):
    net = zoo("vgg16", num_classes=5, in_channels=1)
    parts = stages(net)
    assert len(parts) == 6  # five pooling blocks + head
    assert all(isinstance(p[-1], nn.MaxPool2d) for p in parts[:5])
    assert [sum(isinstance(m, nn.Conv2d) for m in p) for p in parts[:5]] == [2, 2, 3, 3, 3]
    assert parts[5][-1] is net.classifier


@pytest.mark.parametrize("name", ["resnet18", "vgg16"])
def test_head_and_input_swaps(zoo, name):
    net = zoo(name, num_classes=5, in_channels=1)
    with torch.no_grad():
        assert net(torch.rand(2, 1, 32, 32)).shape == (2, 5)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert convs[0].in_channels == 1


def test_missing_weights_name_the_file_and_folder(hub):
    for name, fname in (("resnet18", R18), ("vgg16", V16)):
        with pytest.raises(FileNotFoundError) as err:
            load_model(name, pretrained=True)
        assert fname in str(err.value) and str(hub) in str(err.value)
        assert "download=True" in str(err.value)
    assert not list(hub.iterdir())  # nothing was fetched or half-written


def test_pretrained_from_hub_cache(hub, imagenet_r18):
    torch.save(imagenet_r18, hub / R18)
    assert hub_checkpoint_path(R18_URL) == hub / R18
    net = load_model("resnet18", pretrained=True)
    for k, v in net.state_dict().items():
        assert torch.equal(v, imagenet_r18[k]), k


def test_pretrained_with_new_head_and_gray_input(hub, imagenet_r18):
    torch.save(imagenet_r18, hub / R18)
    net = resnet18(pretrained=True, num_classes=5, in_channels=1)
    assert net.fc.out_features == 5
    # a gray image is R = G = B, so the gray filter is the sum of the RGB filters (timm's rule)
    assert torch.allclose(net.conv1.weight, imagenet_r18["conv1.weight"].sum(1, keepdim=True))
    assert torch.equal(net.layer4[1].conv2.weight, imagenet_r18["layer4.1.conv2.weight"])
    net3 = resnet18(pretrained=True, num_classes=5, in_channels=2)
    w = imagenet_r18["conv1.weight"]
    assert torch.allclose(net3.conv1.weight, torch.cat([w, w], 1)[:, :2] * 1.5)


def test_gray_conv_gives_rgb_response_on_gray_images(hub, imagenet_r18):
    torch.save(imagenet_r18, hub / R18)
    gray = resnet18(pretrained=True, in_channels=1).conv1
    rgb = resnet18(pretrained=True).conv1
    x = torch.rand(1, 1, 16, 16)
    assert torch.allclose(gray(x), rgb(x.expand(1, 3, 16, 16)), atol=1e-5)


def test_refuses_pickled_objects(hub):
    torch.save({"conv1.weight": torch.zeros(1), "evil": NotATensor()}, hub / R18)
    with pytest.raises(RuntimeError, match="refuses to unpickle"):
        load_hub_state_dict(R18_URL)


def test_truncated_file_says_delete_it(hub, imagenet_r18):
    torch.save(imagenet_r18, hub / R18)
    data = (hub / R18).read_bytes()
    (hub / R18).write_bytes(data[: len(data) // 2])
    with pytest.raises(RuntimeError, match="truncated"):
        load_hub_state_dict(R18_URL)
