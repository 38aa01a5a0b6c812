"""flowers102: torchvision's reader on the real layout, fabricated tiny (md5-free presence check)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from labkit.data import dataset_info, load_dataset


def make_flowers(root: Path) -> np.ndarray:
    base = root / "flowers-102"
    (base / "jpg").mkdir(parents=True)
    labels = np.array([1, 1, 1, 2, 2, 2, 3, 3, 3, 102, 102, 102])  # 1-based, as in imagelabels.mat
    for i in range(1, len(labels) + 1):
        Image.new("RGB", (20, 16), (i * 20, 50, 90)).save(base / "jpg" / f"image_{i:05d}.jpg")
    scipy.io.savemat(base / "imagelabels.mat", {"labels": labels[None, :]})
    scipy.io.savemat(base / "setid.mat", {"trnid": np.array([[1, 4, 7, 10, 2]]), "valid": np.array([[3, 5, 8]]),
                                          "tstid": np.array([[6, 9, 11, 12]])})
    return labels


def test_loads_the_real_layout(tmp_path: Path) -> None:
    make_flowers(tmp_path)
    data = load_dataset("flowers102", root=tmp_path, size=32)
    assert data.num_classes == 102 and data.classes[0] == "pink primrose"
    assert (len(data.train), len(data.val), len(data.test)) == (5, 3, 4)
    assert data.train.targets.tolist() == [0, 1, 2, 101, 0]
    assert data.class_counts[[0, 1, 2, 101]].tolist() == [2, 1, 1, 1] and data.class_counts.sum() == 5
    x, y = data.test.dataset[3]
    assert x.shape == (3, 32, 32) and y == 101
    info = dataset_info("flowers102", size=32)
    assert (info["num_classes"], info["input_shape"]) == (data.num_classes, data.input_shape)


def test_missing_root_names_path_and_download(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        load_dataset("flowers102", root=tmp_path)
    msg = str(info.value)
    assert str(tmp_path / "flowers-102") in msg and "download=True" in msg and "setid.mat" in msg
