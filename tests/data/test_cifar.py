"""CIFAR(-LT) on tiny batches fabricated in the official pickle format, read through the real code."""
from __future__ import annotations

import os
import pickle
import struct
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

from labkit.data import dataset_info, load_dataset, longtail_counts
from labkit.data.cifar import _STATS

C10_NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]


def _images(start: int, n: int) -> np.ndarray:
    """uint8 rows (n, 3072) whose first two bytes spell the image's global index; the rest is noise."""
    rng = np.random.default_rng(start)
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    idx = np.arange(start, start + n)
    data[:, 0], data[:, 1] = idx % 256, idx // 256
    return data


def _index_of(x_uint8: np.ndarray) -> np.ndarray:
    return x_uint8[:, 0].astype(int) + 256 * x_uint8[:, 1].astype(int)


class _Py2Pickler(pickle._Pickler):
    """Writes ``bytes`` as Python 2 ``str`` opcodes, as the official (Python 2 cPickle) files do.

    Read with ``encoding="latin1"`` (torchvision) such keys are ``'data'``; read with
    ``encoding="bytes"`` (the snippet on the CIFAR page) they are ``b'data'``.
    """

    dispatch = pickle._Pickler.dispatch.copy()

    def save_bytes(self, obj: bytes) -> None:
        n = len(obj)
        head = pickle.SHORT_BINSTRING + bytes([n]) if n < 256 else pickle.BINSTRING + struct.pack("<i", n)
        self.write(head + obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes


def _dump(path: Path, obj: dict, style: str = "py2") -> None:
    with open(path, "wb") as f:
        if style == "py2":
            _Py2Pickler(f, protocol=2).dump(obj)
        else:  # what Python 3 writes when someone re-pickles a batch
            pickle.dump(obj, f, protocol=2)


def make_cifar10(root: Path, train_per_class: int = 20, test_per_class: int = 4, style: str = "py2") -> np.ndarray:
    """Five train batches, a test batch and batches.meta with the real keys; returns train labels."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    labels = rng.permutation(np.repeat(np.arange(10), train_per_class))
    data = _images(0, len(labels))
    for b, chunk in enumerate(np.array_split(np.arange(len(labels)), 5), 1):
        _dump(folder / f"data_batch_{b}", {b"batch_label": f"training batch {b} of 5".encode(),
                                            b"labels": labels[chunk].tolist(), b"data": data[chunk],
                                            b"filenames": [f"img_{i}.png".encode() for i in chunk]}, style)
    test_labels = rng.permutation(np.repeat(np.arange(10), test_per_class))
    _dump(folder / "test_batch", {b"batch_label": b"testing batch 1 of 1", b"labels": test_labels.tolist(),
                                  b"data": _images(10_000, len(test_labels)), b"filenames": []}, style)
    _dump(folder / "batches.meta", {b"num_cases_per_batch": len(labels) // 5, b"label_names": C10_NAMES,
                                    b"num_vis": 3072}, style)
    return labels


def make_cifar100(root: Path, train_per_class: int = 5, test_per_class: int = 2) -> None:
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for name, per, start in (("train", train_per_class, 0), ("test", test_per_class, 20_000)):
        fine = rng.permutation(np.repeat(np.arange(100), per))
        _dump(folder / name, {b"filenames": [], b"batch_label": name.encode(), b"fine_labels": fine.tolist(),
                              b"coarse_labels": (fine // 5).tolist(), b"data": _images(start, len(fine))})
    _dump(folder / "meta", {b"fine_label_names": [f"class{i}".encode() for i in range(100)],
                            b"coarse_label_names": [f"super{i}".encode() for i in range(20)]})


def test_cifar10_matches_torchvision_reader(tmp_path: Path, monkeypatch) -> None:
    make_cifar10(tmp_path)
    data = load_dataset("cifar10", root=tmp_path, val_per_class=1)
    assert data.classes == [n.decode() for n in C10_NAMES] and data.input_shape == (3, 32, 32)
    assert len(data.train) == 200 and len(data.val) == 10 and len(data.test) == 30
    assert data.class_counts.tolist() == [20] * 10 and data.groups["medium"] == list(range(10))

    # Oracle: torchvision's own CIFAR10 + ToTensor + Normalize on the same files. Its md5 check
    # rejects fabricated files, so the test (only) switches that check off.
    import torchvision
    from torchvision import transforms as T

    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *a, **k: True)
    tf = T.Compose([T.ToTensor(), T.Normalize(*_STATS["cifar10"])])
    ref = torchvision.datasets.CIFAR10(str(tmp_path), train=True, transform=tf)
    x, y = data.train.tensors()
    for i in (0, 57, 199):
        rx, ry = ref[i]
        torch.testing.assert_close(x[i], rx, atol=1e-5, rtol=0)
        assert int(y[i]) == ry
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_1", "rb") as f:  # our own fabricated file
        assert {b"data", b"labels"} <= set(pickle.load(f, encoding="bytes"))  # the real files' keys
    test_ref = torchvision.datasets.CIFAR10(str(tmp_path), train=False)
    assert sorted(data.val.targets.tolist() + data.test.targets.tolist()) == sorted(test_ref.targets)


def test_cifar10_lt_is_ldam_selection(tmp_path: Path) -> None:
    labels = make_cifar10(tmp_path, style="py3")
    data = load_dataset("cifar10-lt", root=tmp_path, imbalance=10, val_per_class=1)
    counts = longtail_counts(20, 10, 10)
    assert data.class_counts.tolist() == counts == [20, 15, 11, 9, 7, 5, 4, 3, 2, 2]
    # Reference: kaidic/LDAM-DRW gen_imbalanced_data with np.random.seed(0).
    np.random.seed(0)
    expected = []
    for c, n in enumerate(counts):
        idx = np.where(labels == c)[0]
        np.random.shuffle(idx)
        expected.extend(idx[:n].tolist())
    got = _index_of(data.train.dataset.x.numpy().reshape(len(data.train), -1))
    assert got.tolist() == expected
    assert data.groups == {"many": [], "medium": [0], "few": list(range(1, 10))}  # thresholds on tiny counts
    assert data.meta["imbalance"] == 10 and data.meta["val_from"] == "official test set"


def test_cifar100_lt_fine_labels_and_balanced_test(tmp_path: Path) -> None:
    make_cifar100(tmp_path)
    data = load_dataset("cifar100-lt", root=tmp_path, imbalance=5, val_per_class=1, seed=0)
    assert data.num_classes == 100 and data.classes[7] == "class7"
    assert data.class_counts.tolist() == longtail_counts(5, 5, 100)
    assert data.test.class_counts(100).tolist() == [1] * 100 and data.val.class_counts(100).tolist() == [1] * 100
    info = dataset_info("cifar100-lt")
    assert (info["num_classes"], info["input_shape"]) == (data.num_classes, data.input_shape)
    other = load_dataset("cifar100", root=tmp_path, val_per_class=1, seed=1)
    assert len(other.train) == 500
    assert other.val.class_counts(100).tolist() == [1] * 100
    val_images = [set(_index_of(d.val.dataset.x.numpy().reshape(100, -1)).tolist()) for d in (data, other)]
    assert val_images[0] != val_images[1]  # the seed picks which test images become val
    with pytest.raises(ValueError, match="largest imbalance"):
        load_dataset("cifar100-lt", root=tmp_path, imbalance=6)


def test_augment_only_on_train(tmp_path: Path) -> None:
    make_cifar10(tmp_path)
    data = load_dataset("cifar10", root=tmp_path, augment=True, val_per_class=1)
    torch.manual_seed(0)
    a = torch.stack([data.train.dataset[i][0] for i in range(40)])
    torch.manual_seed(0)
    b = torch.stack([data.train.dataset[i][0] for i in range(40)])
    torch.manual_seed(1)
    c = torch.stack([data.train.dataset[i][0] for i in range(40)])
    assert a.shape == (40, 3, 32, 32) and torch.equal(a, b) and not torch.equal(a, c)
    plain = load_dataset("cifar10", root=tmp_path, val_per_class=1)
    assert torch.equal(data.test.dataset[3][0], plain.test.dataset[3][0])
    assert not torch.equal(a, torch.stack([plain.train.dataset[i][0] for i in range(40)]))


def test_missing_root_names_path_and_download(tmp_path: Path) -> None:
    root = tmp_path / "no-cifar-here"
    with pytest.raises(FileNotFoundError) as info:
        load_dataset("cifar100-lt", root=root)
    msg = str(info.value)
    assert str(root / "cifar-100-python") in msg and "download=True" in msg and "cifar-100-python.tar.gz" in msg


def test_failed_download_is_explained(tmp_path: Path, monkeypatch) -> None:
    import torchvision.datasets.utils as tvu

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(tvu, "download_and_extract_archive", offline)
    with pytest.raises(FileNotFoundError, match=r"download of https://www\.cs\.toronto\.edu.*failed"):
        load_dataset("cifar10", root=tmp_path, download=True)


class _Evil:
    def __reduce__(self):
        return (os.getcwd, ())


def test_refuses_pickles_that_run_code(tmp_path: Path) -> None:
    make_cifar10(tmp_path)
    _dump(tmp_path / "cifar-10-batches-py" / "data_batch_3", {b"data": _Evil(), b"labels": []})
    with pytest.raises(ValueError, match=r"posix\.getcwd is not allowed|getcwd is not allowed"):
        load_dataset("cifar10", root=tmp_path)


def test_corrupt_batch_is_reported(tmp_path: Path) -> None:
    make_cifar10(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="not a readable CIFAR batch"):
        load_dataset("cifar10", root=tmp_path)


def test_old_numpy_module_names_are_accepted() -> None:
    from labkit.data.cifar import _BatchUnpickler, _reconstruct

    u = _BatchUnpickler.__new__(_BatchUnpickler)
    assert u.find_class("numpy.core.multiarray", "_reconstruct") is _reconstruct()  # Python 2 era files
    with pytest.raises(pickle.UnpicklingError, match="builtins.eval is not allowed"):
        u.find_class("builtins", "eval")
