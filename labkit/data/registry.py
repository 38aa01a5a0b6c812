"""The dataset registry: ``register_dataset``, ``list_datasets``, ``get_dataset``, ``load_dataset``.

A dataset is a *loader*: a function ``(**options) -> LabData``. It may also come with an
*info* function ``(**options) -> {"num_classes": int, "input_shape": (C, H, W), ...}`` that
answers without reading any image, so a model can be built for a dataset (``load_model(...,
dataset="cifar100-lt")``) on a machine that does not have the data.

Example:
    >>> dataset_info("digits-lt", size=32)["input_shape"]
    (1, 32, 32)
    >>> data = load_dataset("digits-lt", imbalance=20, seed=0)
    >>> int(data.class_counts.sum())
    453

A new dataset registers its loader (and, ideally, an info function)::

    @register_dataset("my-set", info=lambda **kw: {"num_classes": 5, "input_shape": (3, 64, 64)})
    def my_set(root: str, seed: int = 0) -> LabData:
        ...
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .._registry import Registry
from ..errors import OptionError
from ._base import LabData

__all__ = ["register_dataset", "list_datasets", "get_dataset", "load_dataset", "dataset_info"]

Loader = Callable[..., LabData]
Info = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class _Entry:
    loader: Loader
    info: Info | None


_DATASETS: Registry[_Entry] = Registry("dataset")


def register_dataset(name: str, *, info: Info | None = None) -> Callable[[Loader], Loader]:
    """Decorator: register ``loader`` under ``name`` (a duplicate name raises ``ValueError``).

    Args:
        name: registry name, e.g. ``"digits-lt"``.
        info: optional ``(**options) -> dict`` with at least ``num_classes`` and
            ``input_shape``, computed without loading images. Without it,
            :func:`dataset_info` has to load the dataset.
    """

    def wrapper(loader: Loader) -> Loader:
        _DATASETS.add(name, _Entry(loader, info))
        return loader

    return wrapper


def list_datasets() -> list[str]:
    """Registered dataset names, sorted."""
    return _DATASETS.names()


def get_dataset(name: str) -> Loader:
    """The loader registered as ``name`` (unknown -> ``KeyError`` listing the known names)."""
    return _DATASETS.get(name).loader


def _check_kwargs(name: str, loader: Loader, kwargs: Mapping[str, Any]) -> None:
    """Refuse options the loader does not take, listing the ones it does (instead of a bare ``TypeError``)."""
    try:
        params = inspect.signature(loader).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        raise OptionError(f"dataset {name!r} takes no option(s) {unknown}; its options: {', '.join(params)}")


def load_dataset(name: str, **kwargs: Any) -> LabData:
    """Load a registered dataset: ``load_dataset("digits-lt", imbalance=20, seed=0)``.

    Keyword arguments go to the loader (see each loader's docstring: ``root``, ``download``,
    ``seed``, ``imbalance``, ``size`` ...).
    """
    loader = get_dataset(name)
    _check_kwargs(name, loader, kwargs)
    data = loader(**kwargs)
    if not isinstance(data, LabData):
        raise TypeError(f"dataset loader {name!r} returned {type(data).__name__}, expected LabData")
    return data


def dataset_info(name: str, **kwargs: Any) -> dict[str, Any]:
    """``num_classes`` and ``input_shape`` (and, where cheap, ``classes``) without loading images.

    Options that change the answer are honoured (``size=32`` for digits, ``classes=[5, 6]``);
    options that only affect the images (``seed``, ``noise``) are accepted and ignored.
    Example: ``dataset_info("cifar100-lt") == {"name": "cifar100-lt", "num_classes": 100,
    "input_shape": (3, 32, 32), ...}``.
    """
    entry = _DATASETS.get(name)
    if entry.info is None:
        data = entry.loader(**kwargs)
        out: dict[str, Any] = {"num_classes": data.num_classes, "input_shape": tuple(data.input_shape),
                               "classes": list(data.classes)}
    else:
        out = dict(entry.info(**kwargs))
        missing = {"num_classes", "input_shape"} - set(out)
        if missing:
            raise TypeError(f"the info function of dataset {name!r} did not return {sorted(missing)}")
        out["input_shape"] = tuple(out["input_shape"])
    out["name"] = name
    return out
