"""labkit's model zoo: a strict registry of architectures, their stages, and safe checkpoints.

Registered names (``list_models()``):

- ``tiny_cnn``: the ~24 K-parameter CNN of docs/methods.md §1.7 (default lab model);
- ``resnet20`` / ``resnet32`` / ``resnet56``: He et al.'s CIFAR ResNets (docs/methods.md §5.7);
- ``vgg16_bn`` / ``vgg_small``: CIFAR VGG-16 with BN and the small VGG of docs/methods.md §4.5;
- ``vgg16`` / ``resnet18``: torchvision's ImageNet nets, ImageNet weights from the hub cache;
- ``csasml_lite`` / ``csasml_baseline``: the lightweight nets of docs/methods.md §2 (``csasml.py``).

Every model splits into ``stages(model)`` whose composition is ``model(x)``, and lists its
``prunable_parameters(model)`` in forward order.

Example:
    >>> from labkit.models import load_model, stages
    >>> net = load_model("resnet20", num_classes=10, in_channels=1)
    >>> len(stages(net))
    5
"""
from __future__ import annotations

# Importing the architecture modules registers them.
from . import csasml as csasml  # registers csasml_lite, csasml_baseline (docs/methods.md §2)
from ._base import StagedNet as StagedNet
from ._base import layer_of as layer_of
from ._base import prunable_parameters as prunable_parameters
from ._base import register_stage_adapter as register_stage_adapter
from ._base import stages as stages
from .checkpoints import ASSETS_DIR as ASSETS_DIR
from .checkpoints import CheckpointError as CheckpointError
from .checkpoints import load_checkpoint as load_checkpoint
from .checkpoints import save_checkpoint as save_checkpoint
from .checkpoints import shipped_checkpoints as shipped_checkpoints
from .checkpoints import update_manifest as update_manifest
from .factory import load_model as load_model
from .registry import get_model as get_model
from .registry import list_models as list_models
from .registry import register_model as register_model
from .resnet_cifar import ResNetCifar as ResNetCifar
from .resnet_cifar import resnet20 as resnet20
from .resnet_cifar import resnet32 as resnet32
from .resnet_cifar import resnet56 as resnet56
from .tiny import TinyCNN as TinyCNN
from .tiny import tiny_cnn as tiny_cnn
from .torchvision_adapters import resnet18 as resnet18
from .torchvision_adapters import vgg16 as vgg16
from .vgg import VGGCifar as VGGCifar
from .vgg import vgg16_bn as vgg16_bn
from .vgg import vgg_small as vgg_small

__all__ = [
    "ASSETS_DIR",
    "CheckpointError",
    "ResNetCifar",
    "StagedNet",
    "TinyCNN",
    "VGGCifar",
    "get_model",
    "layer_of",
    "list_models",
    "load_checkpoint",
    "load_model",
    "prunable_parameters",
    "register_model",
    "register_stage_adapter",
    "resnet18",
    "resnet20",
    "resnet32",
    "resnet56",
    "save_checkpoint",
    "shipped_checkpoints",
    "stages",
    "tiny_cnn",
    "update_manifest",
    "vgg16",
    "vgg16_bn",
    "vgg_small",
]
