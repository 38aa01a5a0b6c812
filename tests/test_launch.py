"""``labkit lab``: its flags are checked before anything starts, and the server it starts answers.

The notebook's side (``marimo export notebooks/lab.py -- --model ... --dataset ...``) is tested
with the other notebook exports in tests/notebooks/test_notebooks.py.
"""
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from labkit.cli import main
from labkit.launch import (
    LAB_NOTEBOOK,
    LabArgs,
    LaunchError,
    lab_notebook,
    marimo_command,
    notebook_args,
    notebook_lab_args,
    open_lab,
    parse_lab_args,
)
from labkit.models.checkpoints import checkpoint_path

SHIPPED = checkpoint_path("resnet20", "digits-lt")


def test_valid_flags_are_read_back():
    a = parse_lab_args(["--model", "resnet20", "--dataset", "digits-lt", "--imbalance", "20", "--data-seed", "0",
                        "--device", "cpu"])
    assert a == LabArgs("resnet20", "digits-lt", imbalance=20.0, data_seed=0, device="cpu")
    assert a.data_flags() == {"imbalance": 20.0, "seed": 0}
    assert parse_lab_args(a.argv()) == a  # what the notebook receives reads back the same
    # a checkpoint names its model and dataset: the flags may be left out
    c = parse_lab_args(["--checkpoint", os.path.relpath(SHIPPED)])
    assert (c.model, c.dataset, c.checkpoint) == ("resnet20", "digits-lt", str(SHIPPED.resolve()))


def test_torchvision_weights_and_roots_are_accepted_when_present(tmp_path, monkeypatch):
    # resnet18's ImageNet weights come from the torch cache: missing there, the flags are refused ...
    monkeypatch.setattr("torch.hub._hub_dir", str(tmp_path / "hub"))
    with pytest.raises(LaunchError, match=r"resnet18-f37072fd\.pth .*labkit never downloads"):
        parse_lab_args(["--model", "resnet18", "--dataset", "imagefolder", "--root", str(tmp_path)])
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth").write_bytes(b"")  # ... present: no checkpoint needed
    a = parse_lab_args(["--model", "resnet18", "--dataset", "imagefolder", "--root", str(tmp_path), "--size", "64"])
    assert a.root == str(tmp_path.resolve()) and a.data_flags() == {"root": str(tmp_path.resolve()), "size": 64}
    monkeypatch.chdir(tmp_path)
    assert parse_lab_args(["--model", "resnet18", "--dataset", "cifar10", "--root", "."]).root == str(tmp_path.resolve())


@pytest.mark.parametrize("argv, words", [
    (["--model", "resnet99"], ["unknown model 'resnet99'", "resnet32"]),
    (["--model", "resnet20", "--dataset", "cifar1000"], ["unknown dataset 'cifar1000'", "cifar100-lt"]),
    (["--model", "resnet20", "--dataset", "cifar100-lt", "--root", "/no/such/dir"], ["--root", "no such folder"]),
    (["--model", "resnet20", "--checkpoint", "/no/run.safetensors"], ["--checkpoint", "no such file"]),
    (["--model", "resnet20", "--checkpoint", "/no/run.pt"], ["not a .safetensors file"]),
    (["--model", "resnet32", "--checkpoint", str(SHIPPED)], ["holds a 'resnet20'", "--model resnet20"]),
    (["--model", "resnet20", "--device", "gpu"], ["--device 'gpu' is not a device", "cuda"]),
    (["--model", "resnet20", "--dataset", "digits-lt", "--root", "."], ["does not take --root"]),
    (["--model", "resnet18", "--dataset", "imagefolder"], ["needs --root"]),
    (["--model", "resnet20", "--imbalance", "0.5"], ["--imbalance 0.5", ">= 1"]),
    (["--model", "resnet20", "--size", "0"], ["--size 0"]),
    (["--model", "resnet32", "--dataset", "cifar100-lt", "--root", "."], ["no trained weights", "--checkpoint"]),
    (["--dataset", "digits-lt"], ["need --model"]),
    (["--model", "resnet20", "--bogus", "1"], ["unrecognized arguments: --bogus 1"]),
])
def test_bad_flags_raise_naming_the_fix(argv, words):
    with pytest.raises(LaunchError) as err:
        parse_lab_args(argv)
    assert all(w in str(err.value) for w in words), str(err.value)


def test_labkit_lab_bad_input_is_one_line_and_exit_code_2(capsys):
    assert main(["lab", "--model", "resnet99"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("labkit lab: error: unknown model") and err.count("\n") == 1
    assert main(["lab", "--model", "resnet20", "--port", "70000"]) == 2
    assert "1..65535" in capsys.readouterr().err
    if not __import__("torch").cuda.is_available():
        assert main(["lab", "--model", "resnet20", "--device", "cuda"]) == 2
        assert "not available" in capsys.readouterr().err


def test_notebook_reads_marimo_cli_args_back():
    # marimo parses `-- --model resnet20 --data-seed 1 --smoke` into {"model": "resnet20", "data-seed": 1, "smoke": ""}
    assert notebook_lab_args({"smoke": ""}) is None and notebook_lab_args({}) is None
    a = notebook_lab_args({"model": "resnet20", "dataset": "digits-lt", "data-seed": 1, "smoke": ""})
    assert a == LabArgs("resnet20", "digits-lt", data_seed=1, smoke=True)
    with pytest.raises(LaunchError, match="given 2 times"):
        notebook_args({"model": ["resnet20", "resnet32"]})


def test_open_lab_uses_the_checkpoint_and_its_data_options():
    lab = open_lab(parse_lab_args(["--checkpoint", str(SHIPPED), "--device", "cpu"]))
    assert lab.model_name == "resnet20" and lab.data.name == "digits-lt"
    assert lab.dense_report.balanced == pytest.approx(0.88)  # the README's number: the checkpoint's own test split


def test_marimo_command_serves_on_localhost_with_a_token_and_passes_the_flags():
    a = LabArgs("resnet20", "digits-lt", device="cpu")
    cmd = marimo_command(a, LAB_NOTEBOOK, 2719, "tok", edit=True)
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1" and cmd[cmd.index("--token-password") + 1] == "tok"
    assert "edit" in cmd and cmd[cmd.index("--") + 1:] == ["--model", "resnet20", "--dataset", "digits-lt",
                                                            "--device", "cpu"]
    assert lab_notebook() == LAB_NOTEBOOK.resolve()  # found beside the package in a source / editable install
    with pytest.raises(LaunchError, match="--notebook"):
        lab_notebook("/no/lab.py")


@pytest.mark.slow
def test_labkit_lab_starts_marimo_and_prints_its_url(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "labkit.cli", "lab", "--model", "resnet20", "--dataset", "digits-lt",
                             "--smoke"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert "http://127.0.0.1:" in line and "access_token=" in line, line
        url = line.split()[line.split().index("at") + 1]
        port = url.split(":")[2].split("/")[0]
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "marimo did not answer /health"
                time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(15)
