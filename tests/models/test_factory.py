"""load_model: sizing from explicit arguments or the dataset, builder arguments, pretrained=True without a dataset."""
from __future__ import annotations

import sys
import types

import pytest
import torch

from labkit.models import CheckpointError, load_model


def test_explicit_sizes():
    net = load_model("tiny_cnn", num_classes=7, in_channels=3)
    assert net(torch.zeros(2, 3, 8, 8)).shape == (2, 7)


def test_unknown_builder_argument_lists_accepted_ones():
    with pytest.raises(TypeError, match="num_classes, in_channels"):
        load_model("resnet20", depth=20)


@pytest.mark.parametrize("bad", [0, -3, 2.0, True])
def test_bad_sizes(bad):
    with pytest.raises(ValueError, match="positive int"):
        load_model("tiny_cnn", num_classes=bad)


def _fake_data(monkeypatch, calls):
    def dataset_info(name, **kwargs):
        calls.append((name, kwargs))
        return {"num_classes": 5, "input_shape": (1, 16, 16)}

    fake = types.ModuleType("labkit.data")
    fake.dataset_info = dataset_info
    monkeypatch.setitem(sys.modules, "labkit.data", fake)


def test_sizes_come_from_dataset_info(monkeypatch):
    calls: list = []
    _fake_data(monkeypatch, calls)
    net = load_model("resnet20", dataset="fake-lt", dataset_kwargs={"size": 16})
    assert calls == [("fake-lt", {"size": 16})]
    assert net.head.fc.out_features == 5 and net.stem.conv.in_channels == 1


def test_explicit_sizes_beat_the_dataset(monkeypatch):
    calls: list = []
    _fake_data(monkeypatch, calls)
    net = load_model("resnet20", dataset="fake-lt", num_classes=3)
    assert net.head.fc.out_features == 3 and net.stem.conv.in_channels == 1
    load_model("resnet20", dataset="fake-lt", num_classes=3, in_channels=2)
    assert len(calls) == 1  # not asked when both sizes are given


def test_missing_dataset_info_says_what_to_pass(monkeypatch):
    monkeypatch.setitem(sys.modules, "labkit.data", types.ModuleType("labkit.data"))
    with pytest.raises(ImportError, match="num_classes= and in_channels="):
        load_model("resnet20", dataset="digits-lt")


def test_real_dataset_info_if_present():
    data = pytest.importorskip("labkit.data")
    if not hasattr(data, "dataset_info"):
        pytest.skip("labkit.data.dataset_info not written yet")
    info = data.dataset_info("digits")
    net = load_model("tiny_cnn", dataset="digits")
    assert net.head.fc.out_features == info["num_classes"]
    assert net.stem.conv.in_channels == info["input_shape"][0]


def test_pretrained_needs_a_dataset_for_our_models(tmp_path):
    with pytest.raises(CheckpointError, match="needs dataset="):
        load_model("resnet20", pretrained=True, assets_dir=tmp_path)
