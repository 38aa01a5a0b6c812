"""imagefolder on fabricated class-per-folder trees (both layouts)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from labkit.data import dataset_info, load_dataset
from labkit.data.folder import stratified_split


def _tree(root: Path, counts: dict[str, int], ext: str = "jpg") -> None:
    for c, n in counts.items():
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.new("RGB", (9, 7), (10 * i % 256, 100, 200)).save(root / c / f"{c}.{i}.{ext}")


def test_train_val_test_folders(tmp_path: Path) -> None:
    _tree(tmp_path / "train", {"cat": 6, "dog": 4})
    _tree(tmp_path / "val", {"cat": 2, "dog": 2}, ext="png")
    _tree(tmp_path / "test", {"dog": 3})  # a class may be absent from test
    data = load_dataset("imagefolder", root=tmp_path, size=24)
    assert data.classes == ["cat", "dog"] and data.class_counts.tolist() == [6, 4]
    assert (len(data.val), len(data.test)) == (4, 3) and data.test.targets.tolist() == [1, 1, 1]
    x, y = data.train.dataset[0]
    assert x.shape == (3, 24, 24) and y == 0 and data.input_shape == (3, 24, 24)
    assert data.meta["layout"] == {"train": "folder", "val": "folder", "test": "folder"}
    assert dataset_info("imagefolder", root=tmp_path, size=24)["classes"] == ["cat", "dog"]


def test_single_folder_is_split_stratified_and_seeded(tmp_path: Path) -> None:
    _tree(tmp_path, {"cat": 10, "dog": 20})
    data = load_dataset("imagefolder", root=tmp_path, size=16, val_fraction=0.1, test_fraction=0.2, seed=0)
    assert data.val.class_counts(2).tolist() == [1, 2] and data.test.class_counts(2).tolist() == [2, 4]
    assert data.class_counts.tolist() == [7, 14]
    paths = {s: {p for p, _ in getattr(data, s).dataset.samples} for s in ("train", "val", "test")}
    assert not (paths["train"] & paths["val"]) and not (paths["train"] & paths["test"])
    again = load_dataset("imagefolder", root=tmp_path, size=16, seed=0)
    other = load_dataset("imagefolder", root=tmp_path, size=16, seed=1)
    assert again.test.dataset.samples == data.test.dataset.samples != other.test.dataset.samples
    assert data.meta["layout"]["test"] == "cut 0.2 of train"


def test_stratified_split_counts() -> None:
    parts = stratified_split([0] * 10 + [1] * 30, {"val": 0.1, "test": 0.2}, seed=3)
    y = np.array([0] * 10 + [1] * 30)
    assert np.bincount(y[parts["val"]]).tolist() == [1, 3] and np.bincount(y[parts["test"]]).tolist() == [2, 6]
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(40))
    with pytest.raises(ValueError, match="sum below 1"):
        stratified_split([0, 1], {"val": 0.6, "test": 0.5})
    with pytest.raises(ValueError, match="nothing left to train"):
        stratified_split([0, 0, 1, 1, 1, 1, 1, 1], {"val": 0.5, "test": 0.4})


def test_new_class_in_val_is_an_error(tmp_path: Path) -> None:
    _tree(tmp_path / "train", {"cat": 3, "dog": 3})
    _tree(tmp_path / "val", {"cat": 1, "fox": 1})
    with pytest.raises(ValueError, match=r"\['fox'\].*training folder lacks"):
        load_dataset("imagefolder", root=tmp_path)


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "absent")):
        load_dataset("imagefolder", root=tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no class sub-folders"):
        load_dataset("imagefolder", root=tmp_path / "empty")
