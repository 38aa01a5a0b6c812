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


# --- the device policy: decided for every device type without needing that device -------------
@pytest.mark.parametrize("bf16, dtype, scaled", [(True, torch.bfloat16, False), (False, torch.float16, True)])
def test_cuda_gets_mixed_precision_channels_last_pinned_memory_and_autotuning(monkeypatch, bf16, dtype, scaled):
    monkeypatch.setattr(runtime, "_cuda_bf16", lambda: bf16)  # Ampere and later: bf16; older: fp16 + scaler
    p = runtime.accelerate(torch.device("cuda"))
    assert (p.amp_dtype, p.grad_scaling) == (dtype, scaled)
    assert p.channels_last and p.pin_memory and p.non_blocking and p.cudnn_benchmark


@pytest.mark.parametrize("kind", ["cpu", "mps"])
def test_cpu_and_mps_run_plain_float32_as_before(kind):
    p = runtime.accelerate(torch.device(kind))
    assert p == runtime.DevicePolicy(torch.device(kind))  # every acceleration off
    assert p.amp == "off" and not p.grad_scaling


def test_explicit_precision_overrides_auto_and_is_checked_against_the_device():
    assert runtime.accelerate(torch.device("cuda"), amp="off").amp_dtype is None
    assert runtime.accelerate(torch.device("cpu"), amp="bf16").amp == "bf16"
    assert runtime.accelerate(torch.device("mps"), amp="fp16").grad_scaling
    with pytest.raises(ValueError, match="does not run on cpu"):
        runtime.accelerate(torch.device("cpu"), amp="fp16")
    with pytest.raises(ValueError, match="auto, off, bf16, fp16"):
        runtime.accelerate("cpu", amp="half")


def test_the_cpu_policy_leaves_tensors_and_modules_as_plain_code_would():
    p = runtime.accelerate("cpu")
    x = torch.randn(2, 3, 4, 4)
    net = p.module(torch.nn.Conv2d(3, 2, 3))
    with p.autocast():
        out = net(p.batch(x))
    assert out.dtype == torch.float32 and out.is_contiguous() and torch.equal(out, net(x))


def test_a_channels_last_policy_converts_images_but_not_flat_inputs():
    p = runtime.DevicePolicy(torch.device("cpu"), channels_last=True)
    assert p.batch(torch.randn(2, 3, 4, 4)).is_contiguous(memory_format=torch.channels_last)
    assert p.batch(torch.randn(2, 5)).shape == (2, 5)
    net = p.module(torch.nn.Conv2d(3, 2, 3))
    assert net.weight.is_contiguous(memory_format=torch.channels_last)


def test_bf16_autocast_runs_the_matmuls_in_bf16():
    p = runtime.DevicePolicy(torch.device("cpu"), amp_dtype=torch.bfloat16)
    with p.autocast():
        assert torch.nn.Linear(4, 2)(torch.randn(3, 4)).dtype == torch.bfloat16
    assert not p.grad_scaler().is_enabled()


@pytest.mark.gpu
def test_on_cuda_the_policy_moves_a_model_and_batch_and_autocasts():
    p = runtime.accelerate("cuda")
    net = p.module(torch.nn.Conv2d(3, 4, 3))
    with p.autocast():
        out = net(p.batch(torch.randn(8, 3, 16, 16).pin_memory()))
    assert out.is_cuda and out.dtype == p.amp_dtype and torch.backends.cudnn.benchmark
