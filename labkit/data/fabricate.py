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

__all__ = ["fabricate_cifar100", "fabricate_cifar10"]


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


def fabricate_cifar10(root: Path, train_per_class: int = 5000, test_per_class: int = 1000, seed: int = 0) -> Path:
    """Write CIFAR-10 (``cifar-10-batches-py/data_batch_1..5, test_batch, batches.meta``) with random pixels.

    The same format as the real release: five training pickles of ``uint8`` rows (3 × 32 × 32,
    channel-major) with ``labels``, one test pickle, and the class names in ``batches.meta``.

    Args:
        root: the folder to pass as ``root=`` to the loaders (created if missing).
        train_per_class, test_per_class: items per class (the real dataset: 5,000 and 1,000).
        seed: the pixels and the label order.

    Returns:
        ``root``.

    Example:
        >>> import tempfile, pathlib
        >>> from labkit.data import load_dataset
        >>> root = fabricate_cifar10(pathlib.Path(tempfile.mkdtemp()), train_per_class=5, test_per_class=12)
        >>> load_dataset("cifar10", root=root).num_classes
        10
    """
    if train_per_class < 1 or test_per_class < 1:
        raise ValueError(f"train_per_class and test_per_class must be >= 1, got {train_per_class}, {test_per_class}")
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(10), train_per_class))
    for b, chunk in enumerate(np.array_split(np.arange(len(labels)), 5), 1):
        with open(folder / f"data_batch_{b}", "wb") as f:
            pickle.dump({b"batch_label": f"training batch {b} of 5".encode(), b"labels": labels[chunk].tolist(),
                         b"data": rng.integers(0, 256, (len(chunk), 3072), dtype=np.uint8)}, f, protocol=2)
    test = rng.permutation(np.repeat(np.arange(10), test_per_class))
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"batch_label": b"testing batch 1 of 1", b"labels": test.tolist(),
                     b"data": rng.integers(0, 256, (len(test), 3072), dtype=np.uint8)}, f, protocol=2)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"num_cases_per_batch": len(labels) // 5, b"label_names": names, b"num_vis": 3072}, f, protocol=2)
    return Path(root)
