"""``load_model``: build a registered architecture, sized for a dataset, with trained weights if asked.

The model registry (:mod:`labkit.models.registry`) only maps names to builder functions; the
checkpoint format (:mod:`labkit.models.checkpoints`) only reads and writes files. This module
puts the two together, the way timm separates ``_registry`` from ``_factory``:

1. look the builder up (an unknown name or builder argument raises, listing the choices);
2. with ``pretrained=True``, find the shipped checkpoint ``<assets>/<model>__<dataset>.safetensors``,
   check it is listed in the manifest with the right sha256 and names this model and dataset,
   rebuild the architecture at the checkpoint's size and load it with ``strict=True``;
3. otherwise size the builder from the dataset (``num_classes``, ``in_channels``).

Example:
    >>> net = load_model("tiny_cnn", num_classes=10, in_channels=1)
    >>> net(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
"""
from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checkpoints import (
    MANIFEST_NAME,
    CheckpointError,
    PathType,
    checkpoint_path,
    load_checkpoint,
    read_manifest,
    shipped_checkpoints,
)
from .registry import ModelBuilder, get_model

__all__ = ["load_model"]


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
        name: a name from :func:`~labkit.models.list_models`.
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
        if dataset is not None and checkpoint_path(name, dataset, assets_dir).is_file():
            state, meta = _load_shipped(name, dataset, assets_dir)
            for arg, given in (("num_classes", num_classes), ("in_channels", in_channels)):
                if given is not None and given != meta[arg]:
                    raise ValueError(
                        f"the shipped {name} checkpoint for {dataset!r} has {arg}={meta[arg]}, "
                        f"but {arg}={given} was passed; drop {arg}= to use the checkpoint, or use "
                        f"pretrained=False for a fresh model of that size"
                    )
            model = builder(num_classes=meta["num_classes"], in_channels=meta["in_channels"], **kwargs)
            _load_into(model, state, source=f"{name}__{dataset}.safetensors", model_name=name)
            # how it was trained (dataset_kwargs, metrics, seed), for the lab and CLI; torch's stub lets
            # Module.__setattr__ take only Tensor | Module, the runtime takes any value
            model.labkit_meta = meta  # type: ignore[assignment]
            return model
        if not _accepts(builder, "pretrained"):
            raise _missing_error(name, dataset, assets_dir)
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


# --- the builder's arguments and the dataset's shape ---------------------------------------------
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
        from ..data import dataset_info  # lazy: building a model by explicit size loads no dataset code
    except ImportError as err:
        raise ImportError(
            f"load_model(dataset={dataset!r}) needs labkit.data.dataset_info, which could not be "
            f"imported ({err}); pass num_classes= and in_channels= explicitly instead"
        ) from err
    info = dataset_info(dataset, **dict(dataset_kwargs or {}))
    return int(info["num_classes"]), int(info["input_shape"][0])


# --- shipped checkpoints --------------------------------------------------------------------------
def _shipped_list(assets_dir: PathType | None) -> str:
    pairs = shipped_checkpoints(assets_dir)
    return ", ".join(f"{m} on {d}" for m, d in pairs) if pairs else "none"


def _out_path(path: Path) -> str:
    rel = os.path.relpath(path)
    return rel if not rel.startswith("..") else str(path)


def _missing_error(name: str, dataset: str | None, assets_dir: PathType | None) -> CheckpointError:
    """The error for ``pretrained=True`` without a shipped checkpoint: what exists, how to make one."""
    ds = dataset if dataset is not None else "<dataset>"
    target = checkpoint_path(name, ds, assets_dir)
    what = (f"no shipped checkpoint for model {name!r} on dataset {dataset!r} (looked for {target})"
            if dataset is not None else f"pretrained=True for {name!r} needs dataset=...")
    return CheckpointError(
        f"{what}. Shipped checkpoints: {_shipped_list(assets_dir)}. Train one with: "
        f"labkit train --model {name} --dataset {ds} --out {_out_path(target)}"
    )


def _load_shipped(name: str, dataset: str,
                  assets_dir: PathType | None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load ``<name>__<dataset>.safetensors``: listed in the manifest, digest equal, metadata ours."""
    path = checkpoint_path(name, dataset, assets_dir)
    expected = read_manifest(path.parent).get(path.name)
    if expected is None:
        raise CheckpointError(f"{path.name} is not listed in {path.parent / MANIFEST_NAME}, so its "
                              f"integrity cannot be checked; if you made it yourself, run "
                              f"labkit.models.update_manifest({str(path)!r})")
    state, meta = load_checkpoint(path, sha256=expected)
    if meta["model"] != name:
        raise CheckpointError(f"foreign checkpoint: {path.name} holds weights of model "
                              f"{meta['model']!r}, not {name!r}; retrain it with labkit train "
                              f"--model {name} --dataset {dataset} --out {_out_path(path)}")
    if meta.get("dataset") != dataset:
        raise CheckpointError(f"foreign checkpoint: {path.name} was trained on "
                              f"{meta.get('dataset')!r}, not {dataset!r}")
    return state, meta


def _load_into(model: nn.Module, state: Mapping[str, torch.Tensor], *, source: str, model_name: str) -> None:
    """``model.load_state_dict(state, strict=True)`` with an error that says what does not fit."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
              for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or shapes:
        parts = [f"{label} {', '.join(items[:5])}{' ...' if len(items) > 5 else ''}"
                 for label, items in (("missing keys:", missing), ("unexpected keys:", unexpected),
                                      ("shape mismatch:", shapes)) if items]
        raise CheckpointError(f"foreign checkpoint: {source} does not fit {model_name} "
                              f"({'; '.join(parts)}); it was saved from another architecture or size")
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(f"{source} has NaN or infinite values in {', '.join(bad[:5])}; "
                              f"the training run diverged, retrain it")
    model.load_state_dict(dict(state), strict=True)

