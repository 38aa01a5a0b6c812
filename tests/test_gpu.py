"""The GPU path: benchmarks/gpu.py on the CPU (it must work everywhere) and, marked ``gpu``, the lab,
training and the benchmark on CUDA (skipped with a reason where there is no CUDA device)."""
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

import labkit as lk


def _bench():
    spec = importlib.util.spec_from_file_location("bench_gpu", Path(__file__).parents[1] / "benchmarks" / "gpu.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_fabricated_root_is_cifar100_in_torchvisions_layout(tmp_path):
    root = _bench().fabricate_cifar100(tmp_path, train_per_class=3, test_per_class=11)
    assert sorted(p.name for p in (root / "cifar-100-python").iterdir()) == ["meta", "test", "train"]
    data = lk.load_dataset("cifar100", root=root, val_per_class=0)
    assert (len(data.train), len(data.test), data.num_classes, data.input_shape) == (300, 1100, 100, (3, 32, 32))


@pytest.mark.slow  # ~50 s on 2 busy cores: a ResNet-32 lab on CIFAR-100-LT files
def test_the_benchmark_runs_on_the_cpu_and_says_so(tmp_path, capsys):
    bench = _bench()
    bench.fabricate_cifar100(tmp_path, train_per_class=100, test_per_class=11)  # IF 100 needs 100 per class
    out = bench.main(["--device", "cpu", "--rounds", "1", "--test-items", "64", "--root", str(tmp_path)])
    text = capsys.readouterr().out
    assert "on the CPU" in text and "p50" in text and out["device"] == "cpu" and out["amp"] == "off"
    assert out["n_test"] == 64 and math.isfinite(out["eval_ms_p50"]) and math.isfinite(out["slider_ms_p50"])


@pytest.mark.gpu
def test_the_benchmark_on_cuda_evaluates_the_full_test_set(tmp_path, capsys):
    out = _bench().main(["--device", "cuda", "--rounds", "3"])  # fabricates the full-size root itself
    assert out["device"].startswith("cuda") and out["n_test"] == 10_000 and out["amp"] in ("bf16", "fp16")
    print(capsys.readouterr().out)  # the figures, for the log


@pytest.mark.gpu
def test_the_lab_on_cuda_agrees_with_the_lab_on_the_cpu():
    cpu, gpu = lk.Lab(device="cpu"), lk.Lab(device="cuda")  # the shipped resnet20 on digits-lt
    a, b = cpu.prune(sparsity=0.5), gpu.prune(sparsity=0.5)
    assert abs(a.report.balanced - b.report.balanced) <= 0.02
    assert abs(cpu.dense_report.overall - gpu.dense_report.overall) <= 0.02


@pytest.mark.gpu
def test_training_on_cuda_with_the_recipe_learns_with_mixed_precision():
    data = lk.load_dataset("digits-lt")
    model = lk.load_model("resnet20", num_classes=data.num_classes, in_channels=data.input_shape[0])
    from labkit.training import fit, get_recipe

    recipe = get_recipe("ce")
    cfg = recipe.fit_config(data, epochs=5, batch_size=64, lr=0.05, device="cuda", progress=False)
    hist = fit(model, data.train, cfg, val=data.val)
    assert hist.config["amp"] in ("bf16", "fp16") and np.isfinite(hist.loss).all() and hist.val_accuracy[-1] > 0.3
