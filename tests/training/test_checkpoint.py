"""Training state in safetensors: optimizer round trip, atomic writes, foreign files rejected."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import safetensors.torch
import torch
from torch import nn

import labkit.io
from labkit.io import ContainerError
from labkit.training import checkpoint as ck


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def _steps(net: nn.Module, opt: torch.optim.Optimizer, n: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    for _ in range(n):
        x, y = torch.randn(16, 4, generator=g), torch.randint(0, 3, (16,), generator=g)
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()


@pytest.mark.parametrize("make_opt", [
    lambda ps: torch.optim.Adam(ps, lr=1e-2, betas=(0.8, 0.99), weight_decay=1e-3),
    lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
], ids=["adam", "sgd"])
def test_round_trip_continues_exactly(tmp_path: Path, make_opt) -> None:
    net = _net()
    opt = make_opt(net.parameters())
    _steps(net, opt, 3, seed=0)
    path = ck.save_train_state(tmp_path / "run.safetensors", net, opt, {"epoch": 3, "note": [1, 2]})
    state = ck.load_train_state(path)
    assert state.meta == {"epoch": 3, "note": [1, 2]}

    clone = _net()
    clone_opt = make_opt(clone.parameters())
    clone.load_state_dict(state.model)
    clone_opt.load_state_dict(state.optimizer)
    assert clone_opt.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    _steps(net, opt, 2, seed=1)
    _steps(clone, clone_opt, 2, seed=1)
    for (k, a), b in zip(net.state_dict().items(), clone.state_dict().values()):
        assert torch.equal(a, b), k


def test_file_is_plain_safetensors_with_flattened_names(tmp_path: Path) -> None:
    net = _net()
    opt = torch.optim.Adam(net.parameters())
    _steps(net, opt, 1, seed=0)
    path = ck.save_train_state(tmp_path / "run.safetensors", net, opt, {})
    names = set(safetensors.torch.load_file(path))
    assert "model.0.weight" in names and "model.1.num_batches_tracked" in names
    assert "optim.state.0.exp_avg" in names and "optim.state.0.exp_avg_sq" in names
    assert list(tmp_path.iterdir()) == [path]                      # no temporary file left


def test_failed_write_keeps_the_previous_checkpoint(tmp_path: Path, monkeypatch) -> None:
    net = _net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    path = ck.save_train_state(tmp_path / "run.safetensors", net, opt, {"epoch": 1})
    before = path.read_bytes()

    def broken(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(labkit.io, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        ck.save_train_state(path, net, opt, {"epoch": 2})
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]


def test_foreign_and_broken_files_are_rejected(tmp_path: Path) -> None:
    other = tmp_path / "weights.safetensors"
    safetensors.torch.save_file({"w": torch.zeros(2)}, other, metadata={"format": "pt"})
    with pytest.raises(ContainerError, match="without labkit metadata, so it is not a training run state"):
        ck.load_train_state(other)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 5)
    with pytest.raises(ContainerError, match="not a safetensors file, or it was cut short"):
        ck.load_train_state(junk)
    with pytest.raises(FileNotFoundError):
        ck.load_train_state(tmp_path / "missing.safetensors")


def test_a_model_checkpoint_is_not_a_run_state(tmp_path: Path) -> None:
    from labkit.models import save_checkpoint
    from labkit.models.tiny import tiny_cnn

    path = save_checkpoint(tiny_cnn(), tmp_path / "w.safetensors", {"model": "tiny_cnn"})
    with pytest.raises(ContainerError, match="is a model checkpoint, not a training run state; read it with "
                                             "labkit.models.load_checkpoint"):
        ck.load_train_state(path)


def test_nan_in_the_history_round_trips(tmp_path: Path) -> None:
    """fit() without a validation split records val_acc = NaN every epoch; resuming must read it back."""
    net = _net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    path = ck.save_train_state(tmp_path / "run.safetensors", net, opt, {"history": {"val_acc": [float("nan")]}})
    value = ck.load_train_state(path).meta["history"]["val_acc"][0]
    assert value != value   # NaN


def test_run_state_written_before_the_container_still_loads(tmp_path: Path) -> None:
    """The v0 layout (format/meta/optimizer keys, no digest) that save_train_state wrote until issue 13."""
    net = _net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    _steps(net, opt, 1, seed=0)
    tensors, rest = ck.flatten_optimizer_state(opt.state_dict())
    tensors.update({f"model.{k}": v.clone() for k, v in net.state_dict().items()})
    path = tmp_path / "old.run.safetensors"
    safetensors.torch.save_file(tensors, path, metadata={"format": "labkit-train-state/1",
                                                         "meta": json.dumps({"epoch": 4}),
                                                         "optimizer": json.dumps(rest)})
    state = ck.load_train_state(path)
    assert state.meta == {"epoch": 4}
    assert all(torch.equal(state.model[k], v) for k, v in net.state_dict().items())
    assert torch.equal(state.optimizer["state"][0]["momentum_buffer"], opt.state_dict()["state"][0]["momentum_buffer"])


def test_flatten_unflatten_is_an_inverse() -> None:
    net = _net()
    opt = torch.optim.Adam(net.parameters(), betas=(0.5, 0.9))
    _steps(net, opt, 1, seed=0)
    sd = copy.deepcopy(opt.state_dict())
    tensors, rest = ck.flatten_optimizer_state(sd)
    back = ck.unflatten_optimizer_state(tensors, json.loads(json.dumps(rest)))  # as stored on disk
    assert back["param_groups"] == sd["param_groups"]
    assert back["state"].keys() == sd["state"].keys()
    for pid, st in sd["state"].items():
        for key, value in st.items():
            assert torch.equal(back["state"][pid][key], value)
