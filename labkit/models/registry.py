"""The model registry: one name -> one architecture builder, strict.

Every architecture is a keyword-only builder function registered under a short name, the
way torchvision and timm do it::

    @register_model("resnet20")
    def resnet20(*, num_classes: int = 10, in_channels: int = 3) -> ResNetCifar: ...

Registering a name twice raises, and so does a builder that cannot be sized (it must take
``num_classes`` and ``in_channels``). Building a model, sizing it for a dataset and loading
trained weights is :func:`labkit.models.load_model` (:mod:`labkit.models.factory`); the
checkpoint files are :mod:`labkit.models.checkpoints`.

Example:
    >>> "resnet20" in list_models()
    True
    >>> get_model("tiny_cnn")(num_classes=10, in_channels=1)(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
"""
from __future__ import annotations

import inspect
from collections.abc import Callable

import torch  # noqa: F401  (the doctest examples use it)
from torch import nn

from .._registry import Registry

__all__ = ["register_model", "list_models", "get_model", "ModelBuilder"]

ModelBuilder = Callable[..., nn.Module]

_MODELS: Registry[ModelBuilder] = Registry("model")


def register_model(name: str | None = None) -> Callable[[ModelBuilder], ModelBuilder]:
    """Decorator recording a keyword-only builder under ``name`` (default: the function name).

    The builder must accept ``num_classes`` and ``in_channels`` so that ``load_model`` can
    size it for any dataset; a duplicate name raises ``ValueError``.
    """

    def wrapper(fn: ModelBuilder) -> ModelBuilder:
        params = inspect.signature(fn).parameters
        missing = [p for p in ("num_classes", "in_channels") if p not in params]
        if missing:
            raise TypeError(f"model builder {fn.__name__} must accept keyword arguments "
                            f"num_classes and in_channels (missing: {', '.join(missing)})")
        return _MODELS.register(name)(fn)

    return wrapper


def list_models() -> list[str]:
    """Names of all registered architectures, sorted."""
    return _MODELS.names()


def get_model(name: str) -> ModelBuilder:
    """The builder registered as ``name``; an unknown name raises ``KeyError`` with close matches."""
    return _MODELS.get(name)
