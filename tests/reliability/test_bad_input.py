"""The bad-input matrix: every public entry refuses a mistake up front, with a labkit error naming the fix.

Each case is ``(id, call, error type, text the message must hold)``; the text is the fix or the valid
values, so a case fails if the message stops telling the user what to do. The command-line cases
call ``main(argv)`` in-process and assert exit code 2, one line on stderr and no traceback.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

import labkit as lk
from labkit.errors import (
    DataError,
    DataNotFoundError,
    LabkitError,
    MismatchError,
    OptionError,
    OutputError,
    UnknownNameError,
    WeightsError,
)
from labkit.io import ContainerError, ContainerNotFoundError
from labkit.lab.plan import Plan, make_plan
from labkit.models.checkpoints import CheckpointError, load_checkpoint, save_checkpoint

from .conftest import image_folder, jpeg

# --- the API -------------------------------------------------------------------------------------

API: list[tuple[str, Callable[[dict[str, Any]], Any], type[Exception], str]] = [
    ("prune-string-sparsity", lambda f: f["lab"].prune(sparsity="0.5"), OptionError, "sparsity=0.5"),
    ("prune-sparsity-1.5", lambda f: f["lab"].prune(sparsity=1.5), OptionError, "[0, 1)"),
    ("prune-sparsity-percent", lambda f: f["lab"].prune(sparsity=50), OptionError, "use 0.5 for 50%"),
    ("prune-sparsity-nan", lambda f: f["lab"].prune(sparsity=float("nan")), OptionError, "[0, 1)"),
    ("prune-sparsity-bool", lambda f: f["lab"].prune(sparsity=True), OptionError, "sparsity=0.5"),
    ("prune-keyword-typo", lambda f: f["lab"].prune(sparsty=0.5), OptionError, "did you mean 'sparsity'"),
    ("prune-mode-typo", lambda f: f["lab"].prune(mode="globl"), OptionError, "did you mean mode='global'"),
    ("prune-unknown-criterion", lambda f: f["lab"].prune(criterion="magnitud"), UnknownNameError, "'magnitude'"),
    ("prune-granularity", lambda f: f["lab"].prune(granularity="channel"), OptionError, "'weight' or 'filter'"),
    ("plan-string-sparsity", lambda f: Plan(sparsity="0.3"), OptionError, "sparsity=0.3"),
    ("plan-unknown-layer", lambda f: make_plan(["a.weight"], mode="per-layer", layer_sparsity={"b.weight": 0.5}),
     UnknownNameError, "prunable layers: a.weight"),
    ("lab-unknown-dataset", lambda f: lk.Lab("resnet20", "digitz"), UnknownNameError, "known: cifar10"),
    ("lab-preview-0", lambda f: lk.Lab(f["tiny"], f["digits"], preview=0), OptionError, "preview=2000"),
    ("lab-preview-negative", lambda f: lk.Lab(f["tiny"], f["digits"], preview=-5), OptionError, "int >= 1"),
    ("lab-preview-float", lambda f: lk.Lab(f["tiny"], f["digits"], preview=0.5), OptionError, "int >= 1"),
    ("lab-preview-word", lambda f: lk.Lab(f["tiny"], f["digits"], preview="all"), OptionError, "'auto'"),
    ("lab-budget-zero", lambda f: lk.Lab(f["tiny"], f["digits"], budget_ms=0), OptionError, "budget_ms=200"),
    ("lab-seed-negative", lambda f: lk.Lab(f["tiny"], f["digits"], seed=-1), OptionError, "seed=0"),
    ("lab-device-tpu", lambda f: lk.Lab(f["tiny"], f["digits"], device="tpu"), OptionError, "'cuda:N'"),
    ("lab-model-number", lambda f: lk.Lab(42, f["digits"]), OptionError, "registered name"),
    ("lab-dataset-number", lambda f: lk.Lab(f["tiny"], 3), OptionError, "dataset='digits-lt'"),
    ("lab-split-seed-leaks", lambda f: lk.Lab("resnet20", "digits-lt", dataset_kwargs={"seed": 1}),
     MismatchError, "71 of 300 test images"),
    ("lab-other-image-size", lambda f: lk.Lab("resnet20", "digits-lt", dataset_kwargs={"size": 32}),
     MismatchError, "drop dataset_kwargs"),
    ("lab-other-dataset", lambda f: lk.Lab(f["shipped"], "digits"), MismatchError, "trained on 'digits-lt'"),
    ("lab-other-class-count", lambda f: lk.Lab(f["shipped"], f["five_digits"]), MismatchError, "num_classes=10"),
    ("lab-input-channels", lambda f: lk.Lab(lk.load_model("tiny_cnn", num_classes=10, in_channels=3), f["digits"]),
     MismatchError, "in_channels=1"),
    ("lab-output-classes", lambda f: lk.Lab(lk.load_model("tiny_cnn", num_classes=5, in_channels=1), f["digits"]),
     MismatchError, "10-way classifier head"),
    ("lab-nan-classifier", lambda f: lk.Lab(f["nan_head"], f["digits"]), WeightsError, "head.fc.weight"),
    ("score-nan-classifier", lambda f: lk.score(f["nan_head"], "magnitude"), WeightsError, "retrain"),
    ("score-not-a-module", lambda f: lk.score("resnet20", "magnitude"), OptionError, "lk.load_model"),
    ("score-granularity", lambda f: lk.score(f["tiny"], "magnitude", granularity="channel"), OptionError,
     "'weight' or 'filter'"),
    ("score-needs-data", lambda f: lk.score(f["tiny"], "taylor"), OptionError, "data=lab_data.val"),
    ("score-criterion-type", lambda f: lk.score(f["tiny"], 3), OptionError, "criterion='magnitude'"),
    ("score-batch-size", lambda f: lk.score(f["tiny"], "magnitude", batch_size=0), OptionError, "batch_size=128"),
    ("score-unknown-criterion", lambda f: lk.score(f["tiny"], "magnitde"), UnknownNameError, "'magnitude'"),
    ("allocate-string", lambda f: lk.allocate(f["scores"], "0.5"), OptionError, "sparsity=0.5"),
    ("allocate-mode-typo", lambda f: lk.allocate(f["scores"], 0.5, mode="globl"), OptionError, "global"),
    ("allocate-unknown-layer", lambda f: lk.allocate(f["scores"], {"nope.weight": 0.5}), UnknownNameError,
     "scored layers"),
    ("allocate-sparsity-1", lambda f: lk.allocate(f["scores"], 1.0), OptionError, "[0, 1)"),
    ("make-masks-unknown-layer", lambda f: lk.make_masks(f["scores"], {"nope.weight": 0.5}), UnknownNameError,
     "scored layers"),
    ("merge-empty", lambda f: lk.merge_masks([]), OptionError, "[masks_a, masks_b]"),
    ("merge-plain-dict", lambda f: lk.merge_masks([f["masks"], dict(f["masks"])]), OptionError, "Masks(d"),
    ("merge-granularities", lambda f: lk.merge_masks([f["masks"], f["filter_masks"]]), MismatchError, "filter-level"),
    ("merge-weights-count", lambda f: lk.merge_masks([f["masks"], f["masks"]], weights=[1.0]), OptionError,
     "one weight per mask"),
    ("merge-negative-weight", lambda f: lk.merge_masks([f["masks"], f["masks"]], weights=[-1, 2]), OptionError,
     "non-negative"),
    ("masks-granularity", lambda f: lk.Masks({}, granularity="channel"), OptionError, "'weight' or 'filter'"),
    ("masks-non-boolean", lambda f: lk.Masks({"w": torch.tensor([0.5, 1.0])}), OptionError, "bool tensor"),
    ("masks-damaged-file", lambda f: lk.Masks.load(f["damaged_masks"]), ContainerError, "write it again"),
    ("masks-file-is-checkpoint", lambda f: lk.Masks.load(f["checkpoint"]), ContainerError, "read it with"),
    ("masks-missing-file", lambda f: lk.Masks.load(f["tmp"] / "none.safetensors"), ContainerNotFoundError,
     "expected a mask file"),
    ("masks-metadata-not-json", lambda f: lk.Masks.load(f["bad_json_masks"]), ContainerError, "write it again"),
    ("apply-masks-other-model", lambda f: lk.apply_masks(lk.load_model("resnet20", num_classes=10, in_channels=1),
                                                         f["masks"]), UnknownNameError, "made for another model"),
    ("apply-masks-shape", lambda f: lk.apply_masks(lk.load_model("tiny_cnn", num_classes=10, in_channels=1),
                                                   f["cut_masks"]), MismatchError, "made for another model"),
    ("apply-not-masks", lambda f: lk.apply_masks(f["tiny"], dict(f["masks"])), OptionError, "lk.make_masks"),
    ("checkpoint-is-masks", lambda f: load_checkpoint(f["masks_file"]), CheckpointError, "read it with"),
    ("load-unknown-dataset", lambda f: lk.load_dataset("digitz"), UnknownNameError, "'digits'"),
    ("dataset-unknown-option", lambda f: lk.load_dataset("digits", imbalance=20), OptionError, "its options: seed"),
    ("digits-size-5", lambda f: lk.load_dataset("digits", size=5), OptionError, "8..64"),
    ("folder-one-class", lambda f: lk.load_dataset("imagefolder", root=image_folder(f["tmp"] / "one", {"cat": 4})),
     DataError, "at least two"),
    ("folder-empty-class", lambda f: lk.load_dataset(
        "imagefolder", root=image_folder(f["tmp"] / "empty", {"cat": 4, "dog": 0})), DataError, "empty/dog"),
    ("folder-missing-root", lambda f: lk.load_dataset("imagefolder", root=f["tmp"] / "nowhere"), DataNotFoundError,
     "point root at your own folder"),
    ("folder-corrupt-image", lambda f: lk.load_dataset("imagefolder", root=f["corrupt_folder"]), DataError,
     "cat/bad.png"),
    ("imagenet-lt-missing-image", lambda f: lk.load_dataset("imagenet-lt", root=f["lt_missing"]), DataError,
     "gone.JPEG"),
    ("imagenet-lt-corrupt-jpeg", lambda f: lk.load_dataset("imagenet-lt", root=f["lt_corrupt"]), DataError,
     "bad.JPEG"),
    ("imagenet-lt-no-split-files", lambda f: lk.load_dataset("imagenet-lt", root=f["tmp"]), DataNotFoundError,
     "ImageNet_LT_train.txt"),
]


def _imagenet_lt(root: Path, bad: str | None, corrupt: bool) -> Path:
    lines = {"train": [], "val": [], "test": []}
    for label in range(2):
        for split, n in (("train", 3), ("val", 1), ("test", 1)):
            for i in range(n):
                rel = f"{split}/c{label}/{i}.JPEG"
                jpeg(root / rel, 50 * label)
                lines[split].append(f"{rel} {label}")
    if bad is not None:
        lines["test"].append(f"test/c0/{bad} 0")
        if corrupt:
            (root / "test" / "c0" / bad).write_bytes(b"not a jpeg at all")
    for split, ls in lines.items():
        (root / f"ImageNet_LT_{split}.txt").write_text("\n".join(ls) + "\n")
    return root


@pytest.fixture(scope="module")
def f(tmp_path_factory: pytest.TempPathFactory, digits: lk.LabData, tiny_lab: lk.Lab,
      scores: lk.Scores) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("bad")
    torch.manual_seed(0)
    nan_head = lk.load_model("tiny_cnn", num_classes=10, in_channels=1)
    with torch.no_grad():
        nan_head.head.fc.weight[0, 0] = float("nan")
    masks = lk.make_masks(scores, lk.allocate(scores, 0.5))
    filter_scores = tiny_lab.scores("magnitude", granularity="filter")
    masks_file = masks.save(tmp / "m.safetensors")
    damaged = tmp / "damaged.safetensors"
    raw = bytearray(masks_file.read_bytes())
    raw[-1] ^= 0xFF
    damaged.write_bytes(bytes(raw))
    from safetensors.torch import save_file
    bad_json = tmp / "bad_json.safetensors"
    save_file({"w": torch.ones(2, dtype=torch.bool)}, str(bad_json), metadata={"labkit": '{"format": "labkit/masks/v1", '})
    cut = lk.Masks({k: v[:3] for k, v in masks.items()})
    corrupt = image_folder(tmp / "corrupt", {"cat": 3, "dog": 3})
    (corrupt / "cat" / "bad.png").write_bytes(b"")
    return {
        "lab": tiny_lab, "digits": digits, "scores": scores, "masks": masks, "tmp": tmp,
        "tiny": lk.load_model("tiny_cnn", num_classes=10, in_channels=1), "nan_head": nan_head,
        "filter_masks": lk.make_masks(filter_scores, lk.allocate(filter_scores, 0.5)),
        "shipped": lk.load_model("resnet20", dataset="digits-lt", pretrained=True),
        "five_digits": lk.load_dataset("digits-lt", imbalance=20, classes=[5, 6, 7, 8, 9]),
        "masks_file": masks_file, "bad_json_masks": bad_json, "cut_masks": cut, "damaged_masks": damaged,
        "checkpoint": save_checkpoint(nan_head.__class__(), tmp / "c.safetensors", {"model": "tiny_cnn"}),
        "corrupt_folder": corrupt,
        "lt_missing": _imagenet_lt(tmp / "lt1", "gone.JPEG", corrupt=False),
        "lt_corrupt": _imagenet_lt(tmp / "lt2", "bad.JPEG", corrupt=True),
    }


@pytest.mark.parametrize(("case", "call", "error", "fix"), API, ids=[c[0] for c in API])
def test_the_api_refuses_bad_input_naming_the_fix(case: str, call: Callable, error: type[Exception], fix: str,
                                                   f: dict[str, Any]) -> None:
    with pytest.raises(error) as caught:
        call(f)
    assert isinstance(caught.value, LabkitError), f"{case}: {type(caught.value).__name__} is not a LabkitError"
    assert fix in str(caught.value), f"{case}: the message does not name the fix {fix!r}: {caught.value}"


# --- the command line ----------------------------------------------------------------------------

TRAIN = ["train", "--model", "tiny_cnn", "--size", "8", "--epochs", "1"]
CLI: list[tuple[str, list[str], str]] = [
    ("train-device-tpu", [*TRAIN, "--device", "tpu", "--out", "{tmp}/m.safetensors"], "valid: auto, cpu, cuda"),
    ("train-epochs-0", ["train", "--epochs", "0", "--out", "{tmp}/m.safetensors"], "--epochs 60"),
    ("train-epochs-word", ["train", "--epochs", "x", "--out", "{tmp}/m.safetensors"], "--epochs: invalid int"),
    ("train-out-pickle", [*TRAIN, "--out", "{tmp}/m.pt"], "--out must end in .safetensors"),
    ("train-out-folder", [*TRAIN, "--out", "{tmp}/dir.safetensors"], "is a folder"),
    ("train-out-under-a-file", [*TRAIN, "--out", "{tmp}/file.txt/m.safetensors"], "is a file, not a writable folder"),
    ("train-lr-0", [*TRAIN, "--lr", "0", "--out", "{tmp}/m.safetensors"], "--lr 1e-3"),
    ("train-batch-0", [*TRAIN, "--batch-size", "0", "--out", "{tmp}/m.safetensors"], "--batch-size 64"),
    ("train-imbalance-below-1", [*TRAIN, "--imbalance", "0.5", "--out", "{tmp}/m.safetensors"], "--imbalance 20"),
    ("train-unknown-dataset", [*TRAIN, "--dataset", "digitz", "--out", "{tmp}/m.safetensors"], "Known: cifar10"),
    ("train-unknown-model", ["train", "--model", "resnet2", "--epochs", "1", "--out", "{tmp}/m.safetensors"],
     "Did you mean"),
    ("train-optimizer", [*TRAIN, "--optimizer", "rmsprop", "--out", "{tmp}/m.safetensors"], "choose from"),
    ("eval-unknown-dataset", ["eval", "--dataset", "digitz"], "known: cifar10"),
    ("eval-device-tpu", ["eval", "--device", "tpu"], "valid: auto, cpu, cuda"),
    ("eval-missing-checkpoint", ["eval", "--checkpoint", "{tmp}/none.safetensors"], "no checkpoint at"),
    ("eval-nan-checkpoint", ["eval", "--model", "tiny_cnn", "--checkpoint", "{tmp}/nan.safetensors"], "retrain"),
    ("eval-other-model", ["eval", "--model", "resnet20", "--checkpoint", "{tmp}/nan.safetensors"],
     "pass --model tiny_cnn"),
    ("eval-masks-as-checkpoint", ["eval", "--checkpoint", "{tmp}/m.safetensors"], "read it with"),
    ("report-sparsities-word", ["report", "--sparsities", "0.5,abc", "--out", "{tmp}/r.html"], "--sparsities: 'abc'"),
    ("report-sparsities-range", ["report", "--sparsities", "0.5,1.5", "--out", "{tmp}/r.html"], "outside [0.0, 1.0)"),
    ("report-sparsities-empty", ["report", "--sparsities", ",", "--out", "{tmp}/r.html"], "--sparsities is empty"),
    ("report-out-under-a-file", ["report", "--sparsities", "0.5", "--out", "{tmp}/file.txt/r.html"],
     "is a file, not a writable folder"),
    ("report-granularity", ["report", "--granularity", "channel"], "choose from 'weight', 'filter'"),
    ("unknown-command", ["prune"], "choose from"),
    ("args-after-dashdash", ["list", "--", "x"], "unexpected arguments after --"),
]
STUDIES = ("longtail", "csasml", "optimized", "transfer", "dominos")
RUN = {"transfer": ["run"]}  # the transfer study has two commands: pretrain and run
CLI += [(f"study-{s}-out-suffix", ["study", s, *RUN.get(s, []), "--smoke", "--out", "{tmp}/r.txt"],
         "--out must be a .csv") for s in STUDIES]
CLI += [(f"study-{s}-seeds-word", ["study", s, *RUN.get(s, []), "--smoke", "--seeds", "x", "--out", "{tmp}/r.csv"],
         "--seeds: invalid int") for s in STUDIES]
CLI += [("study-out-under-a-file", ["study", "longtail", "--smoke", "--out", "{tmp}/file.txt/r.csv"],
         "is a file, not a writable folder")]


@pytest.fixture(scope="module")
def cli_tmp(tmp_path_factory: pytest.TempPathFactory, f: dict[str, Any]) -> Path:
    tmp = tmp_path_factory.mktemp("cli")
    (tmp / "dir.safetensors").mkdir()
    (tmp / "file.txt").write_text("a file, not a folder")
    save_checkpoint(f["nan_head"], tmp / "nan.safetensors", {"model": "tiny_cnn", "dataset": "digits",
                                                             "dataset_kwargs": {"size": 8}})
    f["masks"].save(tmp / "m.safetensors")
    return tmp


@pytest.mark.parametrize(("case", "argv", "fix"), CLI, ids=[c[0] for c in CLI])
def test_the_command_line_ends_bad_input_with_one_line_and_exit_2(case: str, argv: list[str], fix: str,
                                                                   cli_tmp: Path, capsys: pytest.CaptureFixture) -> None:
    from labkit.cli import main

    before = sorted(p.name for p in cli_tmp.rglob("*"))
    try:
        code = main([a.format(tmp=cli_tmp) for a in argv])
    except SystemExit as done:  # argparse's own exit
        code = done.code
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, f"{case}: exit code {code}; stderr: {err}"
    assert len(lines) == 1 and "Traceback" not in err, f"{case}: not one line: {err}"
    assert "error:" in lines[0] and fix in lines[0], f"{case}: the message does not name {fix!r}: {lines[0]}"
    assert sorted(p.name for p in cli_tmp.rglob("*")) == before, f"{case}: it wrote something"


def test_the_matrix_has_at_least_60_cases() -> None:
    assert len(API) + len(CLI) >= 60
    assert all(issubclass(e, LabkitError) for _, _, e, _ in API)
    assert issubclass(OutputError, ValueError) and issubclass(UnknownNameError, KeyError)
