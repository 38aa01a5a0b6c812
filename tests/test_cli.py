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
