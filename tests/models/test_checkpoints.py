"""Safetensors checkpoints: round trip, atomic saves, the sha256 manifest, and every refusal."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import labkit
import labkit.io
import labkit.models.checkpoints as ck
from labkit.models import (CheckpointError, load_checkpoint, load_model, save_checkpoint,
                           shipped_checkpoints, update_manifest)
from labkit.models.tiny import tiny_cnn
from labkit.models.vgg import vgg_small

META = {"model": "tiny_cnn", "dataset": "digits-lt", "dataset_kwargs": {"imbalance": 20},
        "training": {"epochs": 1, "lr": 1e-3}, "metrics": {"test_overall": 0.5}, "seed": 0}


def trained_tiny(seed: int = 0, **kw) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = tiny_cnn(**kw)
    with torch.no_grad():  # make BN statistics non-default so buffers are really round-tripped
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
                m.num_batches_tracked.fill_(7)
    return net


def ship(net: torch.nn.Module, folder: Path, name: str = "tiny_cnn__digits-lt", **meta) -> Path:
    path = save_checkpoint(net, folder / f"{name}.safetensors", {**META, **meta})
    update_manifest(path)
    return path


def test_round_trip(tmp_path):
    net = trained_tiny()
    path = save_checkpoint(net, tmp_path / "a.safetensors", META)
    state, meta = load_checkpoint(path)
    assert state.keys() == net.state_dict().keys()
    assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())
    assert {k: meta[k] for k in META} == META
    assert (meta["num_classes"], meta["in_channels"]) == (10, 1)
    assert meta["versions"]["labkit"] == labkit.__version__ and "torch" in meta["versions"]


def test_metadata_is_one_json_string(tmp_path):
    from safetensors import safe_open

    path = save_checkpoint(trained_tiny(), tmp_path / "a.safetensors", META)
    with safe_open(str(path), framework="pt") as f:
        raw = f.metadata()
    assert list(raw) == ["labkit"]
    head = json.loads(raw["labkit"])
    assert head["format"] == "labkit/checkpoint/v1" and head["meta"]["model"] == "tiny_cnn"


def test_save_checks_meta(tmp_path):
    net = trained_tiny()
    with pytest.raises(ValueError, match="registered model"):
        save_checkpoint(net, tmp_path / "a.safetensors", {"model": "nope"})
    with pytest.raises(ValueError, match="num_classes"):
        save_checkpoint(net, tmp_path / "a.safetensors", {**META, "num_classes": 3})
    with pytest.raises(ValueError, match="plain JSON"):
        save_checkpoint(net, tmp_path / "a.safetensors", {**META, "metrics": {"acc": float("nan")}})
    with pytest.raises(ValueError, match=".safetensors"):
        save_checkpoint(net, tmp_path / "a.pt", META)
    assert not list(tmp_path.iterdir())


def test_save_is_atomic(tmp_path, monkeypatch):
    path = save_checkpoint(trained_tiny(0), tmp_path / "a.safetensors", META)
    before = path.read_bytes()

    def crash(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(labkit.io, "save_file", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(trained_tiny(1), path, META)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.safetensors"]


def test_manifest_records_sha256(tmp_path):
    a = save_checkpoint(trained_tiny(0), tmp_path / "a.safetensors", META)
    b = save_checkpoint(trained_tiny(1), tmp_path / "b.safetensors", META)
    assert update_manifest(a) == hashlib.sha256(a.read_bytes()).hexdigest()
    update_manifest(b)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b)}


def test_load_model_pretrained_from_assets(tmp_path):
    net = trained_tiny().eval()
    ship(net, tmp_path)
    loaded = load_model("tiny_cnn", dataset="digits-lt", pretrained=True, assets_dir=tmp_path).eval()
    x = torch.rand(3, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x))
    assert loaded.labkit_meta["dataset_kwargs"] == {"imbalance": 20}
    assert shipped_checkpoints(tmp_path) == [("tiny_cnn", "digits-lt")]


def test_architecture_size_comes_from_the_checkpoint(tmp_path):
    ship(trained_tiny(num_classes=4, in_channels=3), tmp_path)
    loaded = load_model("tiny_cnn", dataset="digits-lt", pretrained=True, assets_dir=tmp_path)
    assert (loaded.head.fc.out_features, loaded.stem.conv.in_channels) == (4, 3)
    with pytest.raises(ValueError, match="num_classes=4"):
        load_model("tiny_cnn", dataset="digits-lt", pretrained=True, num_classes=10, assets_dir=tmp_path)


def test_bare_name_resolves_in_assets_dir(tmp_path):
    ship(trained_tiny(), tmp_path)
    _, meta = load_checkpoint("tiny_cnn__digits-lt.safetensors", assets_dir=tmp_path)
    assert meta["model"] == "tiny_cnn"


def test_bad_sha256_is_corrupt(tmp_path):
    path = ship(trained_tiny(), tmp_path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # flip a weight byte: still a valid safetensors file, but not the shipped one
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupted: its content digest"):  # the file's own digest
        load_checkpoint(path, sha256=hashlib.sha256(bytes(data)).hexdigest())
    with pytest.raises(CheckpointError, match="corrupt.*sha256"):
        load_model("tiny_cnn", dataset="digits-lt", pretrained=True, assets_dir=tmp_path)
    with pytest.raises(CheckpointError, match="sha256"):
        load_checkpoint(path)  # the manifest beside it is checked too


def test_not_safetensors_is_corrupt(tmp_path):
    path = tmp_path / "tiny_cnn__digits-lt.safetensors"
    path.write_bytes(b"\x80\x04 this is a pickle, or anything else" * 4)
    update_manifest(path)
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        load_model("tiny_cnn", dataset="digits-lt", pretrained=True, assets_dir=tmp_path)


def test_safetensors_without_labkit_metadata(tmp_path):
    path = tmp_path / "x.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointError, match="without labkit metadata.*save_checkpoint"):
        load_checkpoint(path)


def test_a_mask_file_is_not_a_checkpoint(tmp_path):
    path = labkit.Masks({"w": torch.ones(2, dtype=torch.bool)}).save(tmp_path / "m.safetensors")
    with pytest.raises(CheckpointError, match="is a mask file, not a model checkpoint; read it with "
                                              "labkit.pruning.Masks.load"):
        load_checkpoint(path)


def test_unlisted_file_is_refused(tmp_path):
    save_checkpoint(trained_tiny(), tmp_path / "tiny_cnn__digits-lt.safetensors", META)
    with pytest.raises(CheckpointError, match="update_manifest"):
        load_model("tiny_cnn", dataset="digits-lt", pretrained=True, assets_dir=tmp_path)


def test_foreign_model_name(tmp_path):
    ship(vgg_small(), tmp_path, model="vgg_small")  # a vgg_small saved under tiny_cnn's file name
    with pytest.raises(CheckpointError, match="foreign checkpoint.*'vgg_small', not 'tiny_cnn'"):
        load_model("tiny_cnn", dataset="digits-lt", pretrained=True, assets_dir=tmp_path)


def test_foreign_dataset(tmp_path):
    ship(trained_tiny(), tmp_path, dataset="cifar10")
    with pytest.raises(CheckpointError, match="foreign checkpoint.*'cifar10'"):
        load_model("tiny_cnn", dataset="digits-lt", pretrained=True, assets_dir=tmp_path)


def _fabricate(folder: Path, state: dict, **meta) -> None:
    path = folder / "tiny_cnn__digits-lt.safetensors"
    full = {**META, "num_classes": 10, "in_channels": 1, **meta}
    save_file({k: v.contiguous() for k, v in state.items()}, str(path), metadata={"labkit": json.dumps(full)})
    update_manifest(path)


def test_missing_keys(tmp_path):
    state = trained_tiny().state_dict()
    del state["layer1.conv.weight"]
    _fabricate(tmp_path, state)
    with pytest.raises(CheckpointError, match="foreign checkpoint.*missing keys: layer1.conv.weight"):
        load_model("tiny_cnn", dataset="digits-lt", pretrained=True, assets_dir=tmp_path)


def test_shape_mismatch(tmp_path):
    _fabricate(tmp_path, trained_tiny(in_channels=3).state_dict(), in_channels=1)
    with pytest.raises(CheckpointError, match=r"shape mismatch: stem.conv.weight: file \(16, 3, 3, 3\)"):
        load_model("tiny_cnn", dataset="digits-lt", pretrained=True, assets_dir=tmp_path)


def test_nan_weights(tmp_path):
    state = trained_tiny().state_dict()
    state["head.fc.weight"][0, 0] = float("nan")
    _fabricate(tmp_path, state)
    with pytest.raises(CheckpointError, match="NaN.*head.fc.weight"):
        load_model("tiny_cnn", dataset="digits-lt", pretrained=True, assets_dir=tmp_path)


def test_no_shipped_checkpoint_lists_them_and_the_train_command(tmp_path):
    ship(trained_tiny(), tmp_path)
    with pytest.raises(CheckpointError) as err:
        load_model("resnet20", dataset="digits-lt", pretrained=True, assets_dir=tmp_path)
    msg = str(err.value)
    assert "Shipped checkpoints: tiny_cnn on digits-lt" in msg
    assert (f"labkit train --model resnet20 --dataset digits-lt --out "
            f"{tmp_path / 'resnet20__digits-lt.safetensors'}") in msg


def test_train_command_for_the_default_assets(monkeypatch):
    monkeypatch.chdir(Path(labkit.__file__).resolve().parent.parent)
    with pytest.raises(CheckpointError) as err:
        load_model("resnet20", dataset="no-such-data", pretrained=True)
    assert str(err.value).endswith("labkit train --model resnet20 --dataset no-such-data "
                                   "--out labkit/models/assets/resnet20__no-such-data.safetensors")


# --- the checkpoints that actually ship: each listed, intact, and loadable into its model -----

def test_in_progress_runs_are_not_shipped(tmp_path):
    ship(trained_tiny(), tmp_path)
    save_checkpoint(trained_tiny(), tmp_path / "resnet20__digits-lt.run.safetensors", META)
    assert shipped_checkpoints(tmp_path) == [("tiny_cnn", "digits-lt")]


@pytest.mark.parametrize("model, dataset", [("resnet20", "../x"), ("resnet20", "a/b"), ("a__b", "digits")])
def test_checkpoint_names_cannot_escape_or_split(model, dataset):
    with pytest.raises(ValueError, match="cannot name a checkpoint"):
        ck.checkpoint_path(model, dataset)


def test_manifest_lists_exactly_the_shipped_files():
    listed = set(ck.read_manifest())
    shipped = {ck.checkpoint_path(m, d).name for m, d in shipped_checkpoints()}
    assert listed == shipped


@pytest.mark.parametrize("model_name, dataset", shipped_checkpoints())
def test_shipped_checkpoint_loads(model_name, dataset):
    net = load_model(model_name, dataset=dataset, pretrained=True).eval()
    meta = net.labkit_meta
    with torch.no_grad():
        shape = meta.get("input_shape", [meta["in_channels"], 16, 16])  # recorded by labkit train
        y = net(torch.zeros(2, *shape))
    assert y.shape == (2, meta["num_classes"]) and torch.isfinite(y).all()
