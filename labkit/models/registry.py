"""The model registry and ``load_model``: one name -> one architecture, rebuilt from code.

Every architecture is a keyword-only builder function registered under a short name, the
way torchvision and timm do it::

    @register_model("resnet20")
    def resnet20(*, num_classes: int = 10, in_channels: int = 3) -> ResNetCifar: ...

``load_model`` is the one entry point notebooks use. It fills ``num_classes`` and
``in_channels`` from the dataset when you name one, and with ``pretrained=True`` it loads
weights without ever unpickling: a shipped safetensors checkpoint
(``labkit/models/assets/<model>__<dataset>.safetensors``, sha256-checked, see
:mod:`labkit.models.checkpoints`) or, for the torchvision models, ImageNet weights from the
local torch hub cache.

Example:
    >>> net = load_model("tiny_cnn", num_classes=10, in_channels=1)
    >>> net(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    >>> "resnet20" in list_models()
    True
"""
from __future__ import annotations

import inspect
from collections.abc import Mapping
from os import PathLike
from typing import Any, Callable

import torch  # noqa: F401  (the doctest examples use it)
from torch import nn

from .._registry import Registry

__all__ = ["register_model", "list_models", "get_model", "load_model"]

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


def _accepts(fn: Callable, arg: str) -> bool:
    return arg in inspect.signature(fn).parameters


def _check_kwargs(name: str, builder: ModelBuilder, kwargs: Mapping[str, Any]) -> None:
    params = inspect.signature(builder).parameters
    unknown = [k for k in kwargs if k not in params]
    if unknown:
        raise TypeError(f"model {name!r} does not take {', '.join(map(repr, unknown))}; "
                        f"it accepts: {', '.join(params)}")


def _shape_from_dataset(dataset: str, dataset_kwargs: Mapping[str, Any] | None) -> tuple[int, int]:
    """``(num_classes, in_channels)`` of a dataset, asked of :func:`labkit.data.dataset_info`."""
    try:
        from ..data import dataset_info  # lazy: data and models sit side by side, neither imports the other at load
    except ImportError as err:
        raise ImportError(
            f"load_model(dataset={dataset!r}) needs labkit.data.dataset_info, which could not be "
            f"imported ({err}); pass num_classes= and in_channels= explicitly instead"
        ) from err
    info = dataset_info(dataset, **dict(dataset_kwargs or {}))
    return int(info["num_classes"]), int(info["input_shape"][0])


def load_model(name: str, dataset: str | None = None, pretrained: bool = False,
               num_classes: int | None = None, in_channels: int | None = None, *,
               dataset_kwargs: Mapping[str, Any] | None = None,
               assets_dir: str | PathLike[str] | None = None, **kwargs: Any) -> nn.Module:
    """Build architecture ``name``, sized for ``dataset``, optionally with trained weights.

    Sizing: explicit ``num_classes`` / ``in_channels`` win; otherwise they come from
    ``labkit.data.dataset_info(dataset, **dataset_kwargs)``; otherwise the builder's defaults.

    Weights (``pretrained=True``), in this order:

    1. a shipped checkpoint ``<assets_dir>/<name>__<dataset>.safetensors``: its sha256 is
       checked against ``manifest.json``, its metadata must name this model and dataset, the
       architecture is rebuilt with the checkpoint's ``num_classes`` / ``in_channels`` and
       loaded with ``strict=True``;
    2. for builders with their own weights (the torchvision ``vgg16`` / ``resnet18``):
       ImageNet weights from the local torch hub cache, with a fresh head when
       ``num_classes != 1000`` (transfer learning, docs/methods.md §4);
    3. otherwise a :class:`~labkit.models.checkpoints.CheckpointError` that lists what is
       shipped and the ``labkit train`` command that makes the missing checkpoint.

    Args:
        name: a name from :func:`list_models`.
        dataset: a dataset name such as ``"digits-lt"``.
        pretrained: load trained weights (see above) instead of a random initialisation.
        num_classes: output size; overrides the dataset's.
        in_channels: input channels; overrides the dataset's.
        dataset_kwargs: passed to ``dataset_info`` (e.g. ``{"size": 16}``).
        assets_dir: where shipped checkpoints live (default ``labkit/models/assets``).
        **kwargs: extra builder arguments (e.g. ``download=True`` for torchvision weights).

    Returns:
        The model, on the CPU, in training mode (as ``torch.nn`` constructs it). A model loaded
        from a shipped checkpoint carries that checkpoint's metadata as ``model.labkit_meta``
        (dataset and its kwargs, training config, metrics, seed, versions).

    Example:
        >>> net = load_model("resnet20", num_classes=10, in_channels=1)
        >>> net(torch.zeros(1, 1, 16, 16)).shape
        torch.Size([1, 10])
    """
    builder = get_model(name)
    _check_kwargs(name, builder, kwargs)

    if pretrained:
        from . import checkpoints as ck  # lazy: checkpoints imports this module

        if dataset is not None and ck._has_shipped(name, dataset, assets_dir):
            state, meta = ck._load_shipped(name, dataset, assets_dir)
            for arg, given in (("num_classes", num_classes), ("in_channels", in_channels)):
                if given is not None and given != meta[arg]:
                    raise ValueError(
                        f"the shipped {name} checkpoint for {dataset!r} has {arg}={meta[arg]}, "
                        f"but {arg}={given} was passed; drop {arg}= to use the checkpoint, or use "
                        f"pretrained=False for a fresh model of that size"
                    )
            model = builder(num_classes=meta["num_classes"], in_channels=meta["in_channels"], **kwargs)
            ck._load_into(model, state, source=f"{name}__{dataset}.safetensors", model_name=name)
            model.labkit_meta = meta  # how it was trained (dataset_kwargs, metrics, seed), for the lab and CLI
            return model
        if not _accepts(builder, "pretrained"):
            raise ck._missing_error(name, dataset, assets_dir)
        kwargs["pretrained"] = True

    if dataset is not None and (num_classes is None or in_channels is None):
        ds_classes, ds_channels = _shape_from_dataset(dataset, dataset_kwargs)
        num_classes = ds_classes if num_classes is None else num_classes
        in_channels = ds_channels if in_channels is None else in_channels
    sizes = {k: v for k, v in (("num_classes", num_classes), ("in_channels", in_channels)) if v is not None}
    for arg, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{arg} must be a positive int, got {value!r}")
    return builder(**sizes, **kwargs)
