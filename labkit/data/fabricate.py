"""Datasets written in their real on-disk format with random pixels: offline tests, benchmarks, classes.

A loader is only tested when it reads the files it will meet. Downloading CIFAR-100 is not always
possible (a class offline, a CI machine without internet), but its format is simple: three pickles
under ``cifar-100-python/`` holding ``uint8`` rows of 3,072 values (3 × 32 × 32, channel-major) and
the fine / coarse labels, exactly as torchvision and the original release ship them. Full size
(500 + 100 per class) takes about a second to write, and then every path of the real pipeline runs
on it: the loader, the long-tail cut, training, the lab at CIFAR scale. The pixels are noise, so
accuracies mean nothing; timings and shapes do.

Example:
    >>> import tempfile, pathlib
    >>> from labkit.data import load_dataset
    >>> root = fabricate_cifar100(pathlib.Path(tempfile.mkdtemp()), train_per_class=5, test_per_class=12)
    >>> d = load_dataset("cifar100", root=root)
    >>> d.num_classes, tuple(d.input_shape)
    (100, (3, 32, 32))
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

__all__ = ["fabricate_cifar100"]


def fabricate_cifar100(root: Path, train_per_class: int = 500, test_per_class: int = 100, seed: int = 0,
                       prefix: str = "class") -> Path:
    """Write CIFAR-100 (``cifar-100-python/{train,test,meta}``) with random pixels under ``root``.

    Args:
        root: the folder to pass as ``root=`` to the loaders (created if missing).
        train_per_class, test_per_class: items per class (the real dataset: 500 and 100).
        seed: the pixels and the label order.
        prefix: class names are ``f"{prefix}{i}"``.

    Returns:
        ``root``.
    """
    if train_per_class < 1 or test_per_class < 1:
        raise ValueError(f"train_per_class and test_per_class must be >= 1, got {train_per_class}, {test_per_class}")
    folder = Path(root) / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name, per in (("train", train_per_class), ("test", test_per_class)):
        fine = rng.permutation(np.repeat(np.arange(100), per))
        with open(folder / name, "wb") as f:
            pickle.dump({b"fine_labels": fine.tolist(), b"coarse_labels": (fine // 5).tolist(),
                         b"data": rng.integers(0, 256, (len(fine), 3072), dtype=np.uint8)}, f, protocol=2)
    with open(folder / "meta", "wb") as f:
        pickle.dump({b"fine_label_names": [f"{prefix}{i}".encode() for i in range(100)],
                     b"coarse_label_names": [f"super{i}".encode() for i in range(20)]}, f, protocol=2)
    return Path(root)
