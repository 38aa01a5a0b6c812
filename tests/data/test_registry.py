"""The dataset registry: names, strictness, info without data, and a light import."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import labkit.data as lkd
from labkit._registry import Registry
from labkit.data import registry

ALL = ["cifar10", "cifar10-lt", "cifar100", "cifar100-lt", "digits", "digits-lt", "flowers102",
       "imagefolder", "imagenet-lt"]


def test_all_datasets_registered() -> None:
    assert lkd.list_datasets() == ALL
    assert lkd.get_dataset("digits-lt") is lkd.digits.digits_lt


def test_unknown_name_lists_known_names() -> None:
    with pytest.raises(KeyError, match=r"unknown dataset 'digit-lt'.*Did you mean 'digits-lt'.*Known: cifar10"):
        lkd.load_dataset("digit-lt")
    with pytest.raises(KeyError, match="imagenet-lt"):
        lkd.dataset_info("nope")


def test_duplicate_name_raises() -> None:
    with pytest.raises(ValueError, match="already registered"):
        lkd.register_dataset("digits")(lambda: None)


@pytest.mark.parametrize("name, classes, shape", [
    ("cifar10", 10, (3, 32, 32)), ("cifar100-lt", 100, (3, 32, 32)), ("imagenet-lt", 1000, (3, 224, 224)),
    ("flowers102", 102, (3, 224, 224)), ("digits-lt", 10, (1, 16, 16)),
])
def test_info_needs_no_data(name: str, classes: int, shape: tuple, tmp_path) -> None:
    info = lkd.dataset_info(name, root=tmp_path / "absent")
    assert (info["name"], info["num_classes"], info["input_shape"]) == (name, classes, shape)


def test_info_honours_shape_options() -> None:
    assert lkd.dataset_info("imagenet-lt", size=64)["input_shape"] == (3, 64, 64)
    info = lkd.dataset_info("digits", size=32, classes=[5, 6, 7])
    assert info["input_shape"] == (1, 32, 32) and info["num_classes"] == 3 and info["classes"] == ["5", "6", "7"]
    data = lkd.load_dataset("digits", size=32, classes=[5, 6, 7])
    assert (data.num_classes, data.input_shape) == (info["num_classes"], info["input_shape"])


def test_plugin_without_info_and_type_check(monkeypatch) -> None:
    monkeypatch.setattr(registry, "_DATASETS", Registry("dataset"))
    toy = lkd.digits.digits

    @lkd.register_dataset("toy")
    def load_toy(**kw):
        return toy(classes=[0, 1], **kw)

    @lkd.register_dataset("broken")
    def load_broken():
        return {"train": []}

    assert lkd.list_datasets() == ["broken", "toy"]
    assert lkd.dataset_info("toy", size=8) == {"name": "toy", "num_classes": 2, "input_shape": (1, 8, 8),
                                               "classes": ["0", "1"]}
    with pytest.raises(TypeError, match="expected LabData"):
        lkd.load_dataset("broken")


def test_import_is_light() -> None:
    """No module of labkit.data imports torchvision, PIL, scikit-learn or scipy at import time.

    (Checked on the source, because in a test session other tests have imported them already.)
    """
    heavy = ("torchvision", "PIL", "sklearn", "scipy")
    for path in Path(lkd.__file__).parent.glob("*.py"):
        for node in ast.parse(path.read_text()).body:  # top-level statements only
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not [n for n in names if n.split(".")[0] in heavy], f"{path.name} imports {names} at top level"
