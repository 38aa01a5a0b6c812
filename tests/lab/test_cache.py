"""Scores cached on disk: a hit on the same weights and data, a miss when either changes, digest checked."""
from __future__ import annotations

import copy

import pytest
import torch

import labkit as lk
from labkit.lab.cache import ScoreCache

from .conftest import many_class_data


def _lab(net, data, folder):
    lab = lk.Lab(net, data, preview=None)
    lab.progress = False
    lab.cache_scores(folder)
    return lab


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return lk.load_model("tiny_cnn", num_classes=12, in_channels=1).eval()


@pytest.fixture(scope="module")
def data():
    return many_class_data(classes=12, test_per_class=5)


def _equal(a, b):
    return sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a)


def test_a_second_lab_reads_the_scores_from_disk(net, data, tmp_path):
    first = _lab(net, data, tmp_path)
    s = first.scores("mean_activation", "filter")
    assert first._disk.misses == 1 and len(list(tmp_path.glob("*.safetensors"))) == 1
    second = _lab(net, data, tmp_path)
    again = second.scores("mean_activation", "filter")
    assert second._disk.hits == 1 and _equal(s, again)
    assert again.granularity == "filter" and again.meta["criterion"] == "mean_activation"


def test_changed_weights_or_data_miss(net, data, tmp_path):
    _lab(net, data, tmp_path).scores("mean_activation", "filter")
    changed = copy.deepcopy(net)
    with torch.no_grad():
        changed.get_parameter(_lab(net, data, tmp_path).layers[0]).mul_(2)
    lab = _lab(changed, data, tmp_path)
    lab.scores("mean_activation", "filter")
    assert lab._disk.hits == 0 and lab._disk.misses == 1
    other = many_class_data(classes=12, test_per_class=5, seed=1)
    lab = _lab(net, other, tmp_path)
    lab.scores("mean_activation", "filter")
    assert lab._disk.hits == 0
    # a criterion that reads no data hits across data sets
    _lab(net, data, tmp_path).scores("magnitude")
    lab = _lab(net, other, tmp_path)
    lab.scores("magnitude")
    assert lab._disk.hits == 1
    # and options are part of the key
    lab.scores("random", seed=1)
    lab.scores("random", seed=2)
    assert lab._disk.misses == 2


def test_a_damaged_file_is_detected_warned_and_recomputed(net, data, tmp_path):
    s = _lab(net, data, tmp_path).scores("magnitude")
    (path,) = tmp_path.glob("*.safetensors")
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0xFF                       # one flipped byte in the last tensor
    path.write_bytes(bytes(raw))
    lab = _lab(net, data, tmp_path)
    with pytest.warns(UserWarning, match="damaged score cache"):
        again = lab.scores("magnitude")
    assert _equal(s, again) and lab._disk.misses == 1
    assert ScoreCache(tmp_path).load(lab._disk.key(lab._digest("weights"), "magnitude", "weight",
                                                   {"_layers": lab.layers}, None)) is not None
