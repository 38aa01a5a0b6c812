"""Faults: nothing is lost. Interrupted runs resume, inconsistent resumes are refused with the state kept,
unwritable outputs are refused before any work, the caller's module is untouched, the same input gives
the same bytes. (A SIGKILL in the middle of a save: tests/test_io.py.)"""
from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import pytest
import torch

import labkit as lk
from labkit.cli import main
from labkit.errors import OutputError
from labkit.io import TEMP_SUFFIX
from labkit.models.checkpoints import load_checkpoint, save_checkpoint
from labkit.outputs import check_output_path

from .conftest import unwritable_dir

REPO = Path(__file__).resolve().parents[2]
TRAIN = ["train", "--model", "tiny_cnn", "--size", "8", "--batch-size", "128", "--device", "cpu"]


class _Killed(Exception):
    """Stands for the process dying after an epoch's run state was written."""


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, epochs_done: int) -> None:
    import labkit.training as training

    real = training.fit

    def fit(*args, **kw):  # type: ignore[no-untyped-def]
        def die(epoch, history, model):  # type: ignore[no-untyped-def]
            if epoch + 1 == epochs_done:
                raise _Killed
        return real(*args, **kw, callback=die)

    monkeypatch.setattr(training, "fit", fit)


def test_an_interrupted_train_resumes_bitwise_and_inconsistent_resumes_keep_the_run_state(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    straight, out = tmp_path / "straight.safetensors", tmp_path / "m.safetensors"
    assert main([*TRAIN, "--epochs", "3", "--out", str(straight)]) == 0
    with monkeypatch.context() as m:
        _interrupt_after(m, 2)
        with pytest.raises(_Killed):
            main([*TRAIN, "--epochs", "3", "--out", str(out)])
    state = out.with_suffix(".run.safetensors")
    saved = state.read_bytes()
    capsys.readouterr()
    # fewer epochs than done, or another model: refused, the run state kept byte for byte, no checkpoint
    assert main([*TRAIN, "--epochs", "1", "--resume", "--out", str(out)]) == 2
    assert "pass --epochs 2 or more" in capsys.readouterr().err
    other = ["train", "--model", "vgg_small", *TRAIN[3:], "--epochs", "3", "--resume", "--out", str(out)]
    assert main(other) == 2
    assert "another model than --model vgg_small" in capsys.readouterr().err
    assert state.read_bytes() == saved and not out.exists()
    # the consistent resume finishes with the weights of the run that never stopped
    assert main([*TRAIN, "--epochs", "3", "--resume", "--out", str(out)]) == 0
    a, _ = load_checkpoint(straight)
    b, _ = load_checkpoint(out)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not state.exists()


def test_fit_refuses_to_resume_with_fewer_epochs_than_done(tmp_path: Path, digits: lk.LabData) -> None:
    cfg = lk.FitConfig(epochs=2, batch_size=128, progress=False, device="cpu")
    net = lk.load_model("tiny_cnn", num_classes=10, in_channels=1)
    lk.fit(net, digits.train, cfg, checkpoint=tmp_path / "run.safetensors")
    before = (tmp_path / "run.safetensors").read_bytes()
    with pytest.raises(lk.errors.MismatchError, match="pass epochs=2 or more"):
        lk.fit(net, digits.train, lk.FitConfig(epochs=1, batch_size=128, progress=False, device="cpu"),
               checkpoint=tmp_path / "run.safetensors", resume=True)
    assert (tmp_path / "run.safetensors").read_bytes() == before


@pytest.mark.parametrize("argv", [
    ["report", "--sparsities", "0.5", "--out", "{ro}/report.html"],
    [*TRAIN, "--epochs", "1", "--out", "{ro}/m.safetensors"],
    ["study", "longtail", "--smoke", "--out", "{ro}/longtail.csv"],
], ids=["report", "train", "study"])
def test_an_unwritable_output_is_refused_before_any_work(argv: list[str], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    ro = unwritable_dir(tmp_path)
    before = sorted(os.listdir(ro))
    assert main([a.format(ro=ro) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "writable folder" in err and "%" not in err  # no progress bar: no work
    assert sorted(os.listdir(ro)) == before


def test_a_full_disk_is_found_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OutputError, match="free space"):
        check_output_path(tmp_path / "out.csv", suffix=".csv")
    assert [p for p in tmp_path.iterdir() if p.name.endswith(TEMP_SUFFIX)] == []  # the probe is removed


def test_the_callers_module_is_untouched_by_the_lab(digits: lk.LabData) -> None:
    torch.manual_seed(0)
    module = lk.load_model("tiny_cnn", num_classes=10, in_channels=1).train()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    lab = lk.Lab(module, digits, preview=None)
    lab.prune(sparsity=0.5)
    assert module.training and all(p.requires_grad for p in module.parameters())
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())
    assert lab.dense is not module and not lab.dense.training
    # a following fit trains the user's module (it used to find no trainable parameter)
    lk.fit(module, digits.train.subset(range(64)), lk.FitConfig(epochs=1, batch_size=64, progress=False, device="cpu"))
    assert not torch.equal(before["layer1.conv.weight"], module.state_dict()["layer1.conv.weight"])


def test_same_seed_gives_the_same_masks_numbers_and_file_bytes(tmp_path: Path, digits: lk.LabData) -> None:
    def run(seed: int, name: str) -> tuple[lk.Trial, bytes]:
        torch.manual_seed(0)
        lab = lk.Lab(lk.load_model("tiny_cnn", num_classes=10, in_channels=1), digits, seed=seed, preview=None)
        trial = lab.prune(criterion="random", sparsity=0.6)
        return trial, trial.masks.save(tmp_path / name, meta={"b": 1, "a": 2}).read_bytes()

    (t1, b1), (t2, b2) = run(3, "one.safetensors"), run(3, "two.safetensors")
    assert all(torch.equal(t1.masks[n], t2.masks[n]) for n in t1.masks)
    assert t1.report.balanced == t2.report.balanced and t1.cost == t2.cost
    assert b1 == b2
    t3, _ = run(4, "three.safetensors")
    assert any(not torch.equal(t1.masks[n], t3.masks[n]) for n in t1.masks)


def test_metadata_key_order_does_not_change_the_bytes(tmp_path: Path) -> None:
    m = lk.load_model("tiny_cnn", num_classes=10, in_channels=1)
    a = save_checkpoint(m, tmp_path / "a.safetensors", {"model": "tiny_cnn", "dataset": "digits", "seed": 0})
    b = save_checkpoint(m, tmp_path / "b.safetensors", {"seed": 0, "dataset": "digits", "model": "tiny_cnn"})
    assert a.read_bytes() == b.read_bytes()


def test_the_lab_is_served_on_127_0_0_1_with_a_token() -> None:
    make = (REPO / "Makefile").read_text()
    assert "--host 127.0.0.1" in make and "--no-token" not in make


def test_every_guarantee_in_the_readme_points_to_a_test_that_exists() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Guarantees", 1)[1].split("\n## ", 1)[0]
    refs = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", section)
    assert len(refs) >= 6
    for path, name in refs:
        assert re.search(rf"^def {name}\(", (REPO / path).read_text(), re.M), f"{path}::{name} does not exist"


def test_a_changed_study_table_is_refused_and_an_old_one_without_digest_still_reads(tmp_path: Path) -> None:
    import pandas as pd

    from labkit.io import ContainerError
    from labkit.studies._results import read_table, write_table

    p = write_table(pd.DataFrame({"run": ["a", "b"], "acc": [0.5, 0.75]}), tmp_path / "r.csv", "python -m x", "demo")
    assert read_table(p)["acc"].tolist() == [0.5, 0.75]
    p.write_text(p.read_text().replace("0.75", "0.95"))
    with pytest.raises(ContainerError, match="--fresh"):
        read_table(p)
    p.write_text("".join(ln for ln in p.read_text().splitlines(keepends=True) if not ln.startswith("# digest")))
    assert read_table(p)["acc"].tolist() == [0.5, 0.95]  # a table from before the digest: read as it is
