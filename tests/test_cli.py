"""The labkit command: train -> checkpoint -> eval round trip, list, report, and clear errors."""
import html
import json

import pytest

from labkit.cli import main
from labkit.models import load_checkpoint


def test_train_then_eval_round_trip(tmp_path, capsys):
    out = tmp_path / "tiny.safetensors"
    assert main(["train", "--model", "tiny_cnn", "--dataset", "digits-lt", "--size", "8", "--epochs", "1",
                 "--out", str(out)]) == 0
    state, meta = load_checkpoint(out)
    assert meta["model"] == "tiny_cnn" and meta["dataset_kwargs"]["size"] == 8
    assert not (tmp_path / "tiny.run.safetensors").exists()  # the resumable run state is cleaned up
    capsys.readouterr()
    assert main(["eval", "--model", "tiny_cnn", "--checkpoint", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["overall"] == pytest.approx(meta["metrics"]["test_overall"])


def test_eval_of_the_shipped_checkpoint_reports_the_readme_numbers(capsys):
    assert main(["eval", "--model", "resnet20", "--dataset", "digits-lt", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["balanced"] == pytest.approx(0.88) and r["few"] == pytest.approx(0.70)


def test_list_names_every_family(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "digits-lt" in out and "resnet20" in out and "magnitude" in out and "weighted" in out


def test_report_writes_html(tmp_path):
    out = tmp_path / "r" / "report.html"
    assert main(["report", "--out", str(out), "--sparsities", "0.3,0.6"]) == 0
    text = html.unescape(out.read_text())  # the plan JSON sits HTML-escaped in the page
    assert "Operating points" in text and "data:image/png;base64" in text and '"seed": 0' in text


@pytest.mark.parametrize("argv, needle", [
    (["train", "--dataset", "mnist-xyz", "--out", "x.safetensors"], "unknown dataset"),
    (["train", "--dataset", "digits-lt", "--imbalance", "0.5", "--out", "x.safetensors"], "imbalance"),
    (["eval", "--model", "resnet20", "--dataset", "cifar10"], "resnet20"),
    (["report", "--out", "report.pdf"], ".html"),
    (["study", "csasml", "--smoke", "--out", "results.txt"], ".csv"),
    (["study", "transfer", "run", "--smoke", "--seeds", "0", "--out", "file/r.csv"], "writable folder"),
])
def test_bad_input_exits_2_with_a_message_naming_the_fix(argv, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("a file where a folder should be")
    assert main(argv) == 2
    assert needle in capsys.readouterr().err


def test_out_must_be_safetensors(capsys):
    assert main(["train", "--model", "tiny_cnn", "--size", "8", "--epochs", "1", "--out", "model.pt"]) == 2
    assert "--out must end in .safetensors" in capsys.readouterr().err


# --- labkit train --recipe: the published baseline on CIFAR-100-LT files (fabricated, real format) -----
def _fake_cifar100(root):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("bench_gpu", Path(__file__).parents[1] / "benchmarks" / "gpu.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench.fabricate_cifar100(root, train_per_class=20, test_per_class=12)


def test_train_recipe_end_to_end_resumes_and_writes_what_a_lab_checks(tmp_path, monkeypatch, capsys):
    import labkit.models.checkpoints as ckpts
    from labkit.models import load_model
    from labkit.training import load_train_state

    root = _fake_cifar100(tmp_path / "data")
    out = tmp_path / "r32.safetensors"
    argv = ["train", "--model", "resnet32", "--dataset", "cifar100-lt", "--root", str(root), "--imbalance", "10",
            "--recipe", "ldam-drw", "--subset", "48", "--batch-size", "24", "--device", "cpu", "--out", str(out)]

    def crash(*a, **k):
        raise RuntimeError("killed before the final write")
    monkeypatch.setattr(ckpts, "save_checkpoint", crash)  # the run stops after its first epoch's state
    assert main(argv + ["--epochs", "1"]) == 2 and not out.exists()
    first = load_train_state(tmp_path / "r32.run.safetensors").meta
    assert first["epoch"] == 1 and first["config"]["schedule"] == "warmup_step" and first["config"]["augment"] == \
        "RandomCropFlip"
    monkeypatch.undo()

    assert main(argv + ["--epochs", "2", "--resume"]) == 0  # continues at epoch 2 of 2
    state, meta = load_checkpoint(out)
    assert meta["train_loss"][0] == pytest.approx(first["history"]["loss"][0]) and len(meta["train_loss"]) == 2
    assert meta["dataset"] == "cifar100-lt" and meta["dataset_kwargs"]["imbalance"] == 10
    assert meta["dataset_kwargs"]["seed"] == 0 and meta["num_classes"] == 100 and meta["input_shape"] == [3, 32, 32]
    assert meta["recipe"]["name"] == "ldam-drw" and meta["subset"] == 48
    assert meta["train"] | {"epochs": 200} == {"recipe": "ldam-drw", "epochs": 200, "lr": 0.1, "optimizer": "sgd",
                                               "weight_decay": 2e-4, "batch_size": 24, "schedule": "warmup_step",
                                               "loss": "ldam_drw", "seed": 0}
    net = load_model("resnet32", num_classes=meta["num_classes"], in_channels=meta["in_channels"])
    net.load_state_dict(state, strict=True)  # the cosine head was folded into the plain architecture
    assert not (tmp_path / "r32.run.safetensors").exists()


@pytest.mark.parametrize("argv, needle", [
    (["--subset", "0"], "--subset"),
    (["--amp", "fp16", "--device", "cpu"], "does not run on cpu"),
])
def test_bad_train_flags_exit_2_and_write_nothing(argv, needle, tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    assert main(["train", "--model", "tiny_cnn", "--size", "8", "--epochs", "1", "--out", str(out), *argv]) == 2
    assert needle in capsys.readouterr().err and not list(tmp_path.iterdir())


def test_an_unknown_recipe_is_refused_by_name(capsys):
    with pytest.raises(SystemExit) as done:
        main(["train", "--recipe", "ldam", "--out", "m.safetensors"])
    assert done.value.code == 2 and "ldam-drw" in capsys.readouterr().err
