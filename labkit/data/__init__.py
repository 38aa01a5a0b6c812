"""Datasets: a strict registry of loaders that return :class:`LabData`.

Registered: ``digits``, ``digits-lt`` (embedded, offline), ``cifar10``, ``cifar100``,
``cifar10-lt``, ``cifar100-lt``, ``imagenet-lt``, ``flowers102``, ``imagefolder``.
Importing this package reads no data and does not import torchvision's datasets, PIL or
scikit-learn; each loader imports what it needs when called.

Example:
    >>> import labkit.data as lkd
    >>> data = lkd.load_dataset("digits-lt", imbalance=20, seed=0)
    >>> data.num_classes, data.input_shape
    (10, (1, 16, 16))
"""
from __future__ import annotations

# Importing the loader modules registers them (each imports torchvision / PIL only when called).
from . import cifar as cifar  # noqa: E402
from . import digits as digits  # noqa: E402
from . import flowers as flowers  # noqa: E402
from . import folder as folder  # noqa: E402
from . import imagenet_lt as imagenet_lt  # noqa: E402
from ._base import LabData as LabData
from ._base import Split as Split
from .longtail import class_groups as class_groups
from .longtail import longtail_counts as longtail_counts
from .registry import dataset_info as dataset_info
from .registry import get_dataset as get_dataset
from .registry import list_datasets as list_datasets
from .registry import load_dataset as load_dataset
from .registry import register_dataset as register_dataset

__all__ = [
    "LabData",
    "Split",
    "class_groups",
    "longtail_counts",
    "dataset_info",
    "get_dataset",
    "list_datasets",
    "load_dataset",
    "register_dataset",
]
