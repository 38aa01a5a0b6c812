"""Masks as data: make_masks, sparsity bookkeeping, atomic safetensors files, overlap; the per-layer oracle."""
from __future__ import annotations

import copy
import json
import os

import pytest
import torch
import torch.nn.utils.prune as prune
from safetensors.torch import save_file

from labkit.criteria import score
from labkit.models import load_model
import labkit.io
from labkit.io import ContainerError
from labkit.pruning import Masks, allocate, make_masks, overlap


def test_make_masks_keeps_the_highest_scores_per_layer() -> None:
    sc = {"a.weight": torch.tensor([[0.1, 0.9], [0.5, 0.3]]), "b.weight": torch.tensor([3.0, 1.0, 2.0])}
    m = make_masks(sc, {"a.weight": 0.5, "b.weight": 0.4})  # b: round(0.4 * 3) = 1 removed
    assert m["a.weight"].tolist() == [[False, True], [True, False]]
    assert m["b.weight"].tolist() == [True, False, True]
    assert m.granularity == "weight"          # a 2-D score tensor: weight level
    assert m.total == 7 and m.kept == 4 and m.sparsity == pytest.approx(3 / 7)
    assert m.layer_sparsity == {"a.weight": 0.5, "b.weight": pytest.approx(1 / 3)}
    assert list(m.summary().columns) == ["layer", "units", "kept", "sparsity"]


def test_ties_are_broken_by_position() -> None:
    m = make_masks({"w": torch.ones(6)}, {"w": 0.5})
    assert m["w"].tolist() == [False, False, False, True, True, True]


def test_layers_missing_from_the_allocation_stay_dense() -> None:
    m = make_masks({"a": torch.rand(4), "b": torch.rand(4)}, {"a": 0.5})
    assert bool(m["b"].all()) and int(m["a"].sum()) == 2


@pytest.mark.parametrize("bad", [1.0, -0.1, 50, float("nan")])
def test_sparsity_outside_unit_interval(bad: float) -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        make_masks({"a": torch.rand(4)}, {"a": bad})


def test_percent_hint() -> None:
    with pytest.raises(ValueError, match="use 0.5 for 50%"):
        make_masks({"a": torch.rand(4)}, {"a": 50})


def test_unknown_layer_and_nan_scores() -> None:
    with pytest.raises(KeyError, match="no scores"):
        make_masks({"a": torch.rand(4)}, {"b": 0.5})
    with pytest.raises(ValueError, match="NaN"):
        make_masks({"a": torch.tensor([1.0, float("nan")])}, {"a": 0.5})


def test_masks_validate_values_and_filter_shape() -> None:
    assert Masks({"a": torch.tensor([1, 0, 1])})["a"].dtype == torch.bool
    with pytest.raises(ValueError, match="boolean"):
        Masks({"a": torch.tensor([0.5, 1.0])})
    with pytest.raises(ValueError, match=r"\(out_channels,\)"):
        Masks({"a": torch.ones(2, 2, dtype=torch.bool)}, "filter")
    with pytest.raises(KeyError, match="no mask for layer"):
        Masks({"a": torch.ones(2, dtype=torch.bool)})["b"]


def test_uniform_magnitude_masks_equal_l1_unstructured_per_layer() -> None:
    """Oracle: torch.nn.utils.prune.l1_unstructured, layer by layer, same amount."""
    torch.manual_seed(0)
    model = load_model("resnet20", num_classes=10, in_channels=1)
    sc = score(model, "magnitude")
    for amount in (0.3, 0.55, 0.9):
        ours = make_masks(sc, allocate(sc, amount, mode="uniform"))
        ref = copy.deepcopy(model)
        for n in sc:
            module = ref.get_submodule(n.rsplit(".", 1)[0])
            prune.l1_unstructured(module, "weight", amount=amount)
            assert_same_up_to_ties(ours[n], module.weight_mask.bool(), sc[n])


def assert_same_up_to_ties(ours: torch.Tensor, ref: torch.Tensor, scores: torch.Tensor) -> None:
    """Equal masks, except that units tied at the cut may be swapped (top-k picks among ties freely)."""
    assert int(ours.sum()) == int(ref.sum())
    differ = ours != ref
    if bool(differ.any()):
        cut = scores[~ours].max()           # the highest removed score
        assert bool((scores[differ] == cut).all()), "masks differ away from a tie at the threshold"


def test_save_load_roundtrip_with_metadata(tmp_path) -> None:
    sc = score(load_model("resnet20", num_classes=10, in_channels=1), "random", granularity="filter", seed=4)
    m = make_masks(sc, allocate(sc, 0.5, mode="layered"))
    path = m.save(tmp_path / "sub" / "m.safetensors", meta={"model": "resnet18"})
    back = Masks.load(path)
    assert back.equal(m) and back.granularity == "filter"
    assert back.meta["criterion"] == "random" and back.meta["seed"] == 4 and back.meta["model"] == "resnet18"
    assert back.meta["allocation"]["mode"] == "layered" and "torch" in back.meta["versions"]
    assert os.listdir(path.parent) == ["m.safetensors"]      # no temp file left behind


def test_failed_save_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch) -> None:
    m = Masks({"a": torch.tensor([True, False])})
    path = m.save(tmp_path / "m.safetensors")
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(labkit.io, "save_file", boom)
    with pytest.raises(OSError, match="disk full"):
        Masks({"a": torch.tensor([False, False])}).save(path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.safetensors"]
    with pytest.raises(ContainerError, match="JSON-able"):
        m.save(tmp_path / "x.safetensors", meta={"bad": object()})
    assert os.listdir(tmp_path) == ["m.safetensors"]


def test_load_refuses_foreign_and_corrupt_files(tmp_path) -> None:
    save_file({"a": torch.ones(2)}, str(tmp_path / "weights.safetensors"))
    with pytest.raises(ContainerError, match="without labkit metadata, so it is not a mask file"):
        Masks.load(tmp_path / "weights.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"\x00\x01garbage")
    with pytest.raises(ContainerError, match="bad.safetensors is not a safetensors file, or it was cut short"):
        Masks.load(tmp_path / "bad.safetensors")
    with pytest.raises(FileNotFoundError):   # a ContainerError too
        Masks.load(tmp_path / "missing.safetensors")


def test_masks_written_before_the_container_still_load(tmp_path) -> None:
    """The v0 layout (format/granularity/meta keys, no digest) that Masks.save wrote until issue 13."""
    m = {"a": torch.tensor([True, False, True]), "b": torch.tensor([False, True])}
    save_file(m, str(tmp_path / "old.safetensors"),
              metadata={"format": "labkit-masks", "format_version": "1", "granularity": "filter",
                        "meta": json.dumps({"criterion": "apoz", "seed": 3})})
    back = Masks.load(tmp_path / "old.safetensors")
    assert back.equal(Masks(m, "filter")) and back.meta == {"criterion": "apoz", "seed": 3}


def test_overlap_is_per_layer_jaccard() -> None:
    a = Masks({"x": torch.tensor([True, True, False, False]), "y": torch.tensor([False, False])})
    b = Masks({"x": torch.tensor([True, False, True, False]), "y": torch.tensor([False, False])})
    df = overlap(a, b)
    assert df["layer"].tolist() == ["x", "y"]
    assert df["jaccard"].tolist() == [pytest.approx(1 / 3), 1.0]   # both empty: identical
    assert df.attrs["total"]["jaccard"] == pytest.approx(1 / 3)
    assert overlap(a, a)["jaccard"].tolist() == [1.0, 1.0]


def test_overlap_mismatches() -> None:
    a = Masks({"x": torch.ones(3, dtype=torch.bool)})
    with pytest.raises(ValueError, match="different layers"):
        overlap(a, Masks({"z": torch.ones(3, dtype=torch.bool)}))
    with pytest.raises(ValueError, match="shape mismatch"):
        overlap(a, Masks({"x": torch.ones(4, dtype=torch.bool)}))
    with pytest.raises(ValueError, match="filter"):
        overlap(a, Masks({"x": torch.ones(3, dtype=torch.bool)}, "filter"))


def test_meta_is_json(tmp_path) -> None:
    m = make_masks({"a": torch.rand(8)}, allocate({"a": torch.rand(8)}, 0.25, mode="uniform"))
    assert json.loads(json.dumps(m.meta)) == m.meta  # plain JSON: survives a save unchanged
    assert m.meta["allocation"]["mode"] == "uniform" and m.meta["allocation"]["achieved"] == 0.25
