"""What input a model expects: ``(C, H, W)`` from what is known, never a guessed default.

Tracing (compaction, coupled groups, MACs) needs one example batch of the right size. A wrong
guess is worse than no guess: ViT asserts 224 x 224, Inception-v3 and AlexNet shrink a 32 x 32
image to nothing. :func:`input_shape` asks, in this order:

1. ``model.input_shape``: a ``(C, H, W)`` the model declares (labkit's convention);
2. the model's own size attribute: ``image_size`` (torchvision's ViT), the first block's
   ``grid_size`` (MaxViT: the image is 4x it, after the stride-2 stem and first block);
3. torchvision's weights metadata for the model's family: the largest ``min_size`` any of its
   weights declares (75 for Inception-v3, 63 for AlexNet, 224 for Swin; at least
   ``floor`` = 32 px, so a 1 x 1 ``min_size`` still gives a meaningful trace);

and ``C`` is the first conv's ``in_channels``. When none of these is known it returns ``None``,
and :func:`example_inputs` raises an error that names the fix (``example_inputs=torch.randn(...)``
or a ``model.input_shape``).

Example:
    >>> import torchvision
    >>> input_shape(torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False))
    (3, 75, 75)
    >>> input_shape(torchvision.models.vit_b_32(weights=None, image_size=64))
    (3, 64, 64)
"""
from __future__ import annotations

import importlib
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["input_shape", "example_inputs", "torchvision_min_size"]


def _first_channels(model: nn.Module) -> int | None:
    first = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    return None if first is None else int(first.in_channels)


def torchvision_min_size(model: nn.Module) -> tuple[int, int] | None:
    """Largest ``min_size`` over the weights of the torchvision module defining ``type(model)``."""
    mod_name = type(model).__module__
    if not mod_name.startswith("torchvision.models."):
        return None
    try:
        from torchvision.models._api import WeightsEnum

        mod = importlib.import_module(mod_name)
    except ImportError:
        return None
    sizes = [w.meta["min_size"] for obj in vars(mod).values()
             if isinstance(obj, type) and issubclass(obj, WeightsEnum) and obj is not WeightsEnum
             for w in obj if "min_size" in w.meta]  # type: ignore[attr-defined]  # untyped torchvision: obj is a `type`
    if not sizes:
        return None
    return max(s[0] for s in sizes), max(s[1] for s in sizes)


def _declared_hw(model: nn.Module) -> tuple[int, int] | None:
    size = getattr(model, "image_size", None)  # torchvision VisionTransformer
    if isinstance(size, int) and not isinstance(size, bool):
        return size, size
    blocks = getattr(model, "blocks", None)  # torchvision MaxVit: grid of the first block
    grid = getattr(blocks[0], "grid_size", None) if isinstance(blocks, nn.ModuleList) and len(blocks) else None
    if isinstance(grid, tuple) and len(grid) == 2 and type(model).__name__ == "MaxVit":
        return 4 * int(grid[0]), 4 * int(grid[1])
    return None


def input_shape(model: nn.Module, floor: int = 32) -> tuple[int, ...] | None:
    """``(C, H, W)`` the model expects, from what it declares (see module doc), else ``None``."""
    shape = getattr(model, "input_shape", None)
    if shape is not None:
        return tuple(int(s) for s in shape)
    channels = _first_channels(model)
    if channels is None:
        return None
    hw = _declared_hw(model)
    if hw is None:
        mins = torchvision_min_size(model)
        if mins is None:
            return None
        hw = (max(mins[0], floor), max(mins[1], floor))
    return (channels, *hw)


def example_inputs(model: nn.Module, batch_size: int = 1, *, seed: int = 0) -> Tensor:
    """A random batch ``(batch_size, *input_shape(model))`` on the model's device.

    Raises:
        ValueError: the input size is not known; the message says how to give it.
    """
    shape = input_shape(model)
    if shape is None:
        raise ValueError(f"cannot tell what input {type(model).__name__} expects: it declares no input_shape and "
                         f"is not a torchvision model with a known size. Pass example_inputs=torch.randn(1, C, H, W) "
                         f"(an item of your data), or set model.input_shape = (C, H, W)")
    g = torch.Generator().manual_seed(seed)
    dev = _device(model)
    return torch.randn(batch_size, *shape, generator=g).to(dev)


def _device(model: nn.Module) -> Any:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")
