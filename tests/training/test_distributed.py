"""``labkit train`` under torchrun (2 processes, gloo on the CPU) against one process, same global batch."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from labkit.cli import main
from labkit.models.checkpoints import load_checkpoint
from labkit.training.distributed import shard

REPO = Path(__file__).resolve().parents[2]
TRAIN = ["train", "--model", "tiny_cnn", "--dataset", "digits-lt", "--imbalance", "10", "--size", "8",
         "--epochs", "3", "--batch-size", "64", "--schedule", "none", "--device", "cpu"]
# BatchNorm normalises each process's half batch by its own statistics (SyncBatchNorm is GPU-only),
# so the curves agree closely but not to the last digit: per-epoch mean loss within 3% (relative).
RTOL = 0.03


def _torchrun(args: list[str], cwd: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          "-m", "labkit.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]


def _curve(path: Path) -> np.ndarray:
    return np.asarray(load_checkpoint(path)[1]["train_loss"])


def test_every_rank_gets_its_slice_of_the_same_global_batch() -> None:
    batch = torch.arange(9)
    parts = [shard(batch, r, 2) for r in range(2)]
    assert sorted(torch.cat(parts).tolist()) == batch.tolist() and [len(p) for p in parts] == [5, 4]


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_follows_the_single_process_loss_curve(tmp_path: Path) -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main([*TRAIN, "--out", str(tmp_path / "one.safetensors")]) == 0
    finally:
        torch.set_num_threads(before)
    _torchrun([*TRAIN, "--out", str(tmp_path / "ddp.safetensors")], tmp_path)
    one, ddp = _curve(tmp_path / "one.safetensors"), _curve(tmp_path / "ddp.safetensors")
    assert len(one) == len(ddp) == 3 and one[-1] < one[0]
    np.testing.assert_allclose(ddp, one, rtol=RTOL)
    meta = load_checkpoint(tmp_path / "ddp.safetensors")[1]
    assert meta["train"]["world_size"] == 2 and meta["train"]["batch_size"] == 64
    assert not (tmp_path / "ddp.run.safetensors").exists()  # rank 0 removed its run state at the end


@pytest.mark.slow
def test_ddp_resumes_the_run_state_of_an_interrupted_run(tmp_path: Path) -> None:
    """A run state left after epoch 1 (as a killed run leaves it) is picked up by both ranks."""
    from labkit.data import load_dataset
    from labkit.models import load_model
    from labkit.runtime import seed_everything
    from labkit.training import FitConfig, fit

    out = tmp_path / "r.safetensors"
    data = load_dataset("digits-lt", seed=0, imbalance=10.0, size=8)
    seed_everything(0)
    model = load_model("tiny_cnn", num_classes=data.num_classes, in_channels=data.input_shape[0])
    recipe = FitConfig(epochs=1, lr=1e-3, optimizer="adam", weight_decay=5e-4, batch_size=64, schedule="none",
                       loss="ce", class_counts=data.class_counts, seed=0, device="cpu", progress=False)
    first = fit(model, data.train, recipe, val=data.val, checkpoint=out.with_suffix(".run.safetensors"))
    _torchrun([*TRAIN, "--out", str(out), "--resume"], tmp_path)
    curve = _curve(out)
    assert len(curve) == 3 and curve[0] == pytest.approx(first.loss[0], rel=1e-12)  # epoch 1 came from the state
    assert json.loads(json.dumps(load_checkpoint(out)[1]["train"]))["epochs"] == 3
