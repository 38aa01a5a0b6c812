"""Device choice (cuda, then mps, then cpu), seeding, versions, smoke mode; GPU runs where there is one."""
import numpy as np
import pytest
import torch

import labkit as lk
from labkit import runtime


@pytest.mark.parametrize("cuda, mps, expect", [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_default_device_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expect):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert runtime.default_device().type == expect
    assert runtime.resolve_device(None).type == expect and runtime.resolve_device("auto").type == expect


def test_an_unavailable_device_is_refused_with_the_fix(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="device='auto'"):
        runtime.resolve_device("cuda")
    with pytest.raises(RuntimeError, match="MPS is not available"):
        runtime.resolve_device("mps")
    assert runtime.resolve_device("cpu") == torch.device("cpu")


def test_seed_everything_makes_runs_repeat():
    draws = []
    for _ in range(2):
        g = runtime.seed_everything(7)
        draws.append((np.random.rand(), torch.rand(1).item(), torch.rand(1, generator=g).item()))
    assert draws[0] == draws[1]
    with pytest.raises(ValueError, match="non-negative int"):
        runtime.seed_everything(-1)


def test_versions_name_what_a_result_was_made_with():
    v = runtime.versions()
    assert v["torch"] == torch.__version__ and v["labkit"] == lk.__version__ and {"numpy", "python"} <= set(v)


def test_smoke_mode_from_the_command_line_or_the_environment(monkeypatch):
    monkeypatch.delenv("LABKIT_SMOKE", raising=False)
    threads = torch.get_num_threads()
    assert runtime.smoke_mode({}, threads=None) is False
    assert runtime.smoke_mode({"smoke": ""}, threads=None) is True
    monkeypatch.setenv("LABKIT_SMOKE", "1")
    assert runtime.smoke_mode(None, threads=None) is True
    assert torch.get_num_threads() == threads  # threads=None leaves the setting alone


@pytest.mark.gpu
def test_lab_on_cuda_matches_the_cpu_lab():
    """The same slider move on the GPU gives the same per-class report as on the CPU (fp32 tolerance)."""
    cpu, gpu = lk.Lab(device="cpu"), lk.Lab(device="cuda")
    assert gpu.device.type == "cuda" and next(gpu.dense.parameters()).is_cuda
    a, b = cpu.prune("magnitude", 0.5), gpu.prune("magnitude", 0.5)
    assert all(torch.equal(a.masks[n], b.masks[n].cpu()) for n in a.masks)
    assert abs(a.report.balanced - b.report.balanced) <= 1 / len(cpu.targets)
    tuned = gpu.finetune(b, epochs=1, progress=False)
    assert next(tuned.model.parameters()).is_cuda and 0.0 <= tuned.report.balanced <= 1.0


@pytest.mark.gpu
def test_fit_and_evaluate_on_cuda():
    data = lk.load_dataset("digits-lt", size=8)
    model = lk.load_model("tiny_cnn", num_classes=10, in_channels=1)
    hist = lk.fit(model, data.train, lk.FitConfig(epochs=1, device="cuda", progress=False))
    assert next(model.parameters()).is_cuda and np.isfinite(hist.loss[-1])
    assert 0.0 <= lk.evaluate(model, data.test, device="cuda", n_boot=0).overall <= 1.0
