"""IncrementalForward: re-running from the first changed stage gives exactly the full result."""
import pytest
import torch

from labkit.analysis.incremental import IncrementalForward
from labkit.models import load_model, prunable_parameters
from labkit.pruning import Masks, apply_masks


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    m = load_model("resnet20", num_classes=10, in_channels=1).eval()
    with torch.no_grad():  # give BN non-trivial statistics so masking changes outputs
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
    return m


def _random_masks(model, names, density, seed):
    g = torch.Generator().manual_seed(seed)
    return Masks({n: torch.rand(model.get_parameter(n).shape, generator=g) < density for n in names})


def test_matches_a_full_forward_of_the_masked_copy(net):
    x = torch.rand(16, 1, 16, 16)
    inc = IncrementalForward(net, x, channels_last=False)
    masks = _random_masks(net, prunable_parameters(net), 0.5, 0)
    logits, first = inc.run(masks)
    assert first == 1  # the stem's conv is not prunable by default, so stage 0 is reused
    with torch.no_grad():
        assert torch.equal(logits, apply_masks(net, masks)(x))


def test_only_later_stages_rerun_and_results_equal_full_recompute(net):
    x = torch.rand(8, 1, 16, 16)
    inc = IncrementalForward(net, x)
    names = prunable_parameters(net)
    inc.run(_random_masks(net, names, 0.6, 1))
    last_stage_layers = [n for n in names if n.startswith("layer3.")]
    changed = Masks({**_random_masks(net, names, 0.6, 1),
                     **_random_masks(net, last_stage_layers, 0.3, 2)})
    logits, first = inc.run(changed)
    assert first == 3  # stages: stem, layer1, layer2, layer3, head
    incremental = logits.clone()
    full, first_full = inc.run(changed, full=True)
    assert first_full == 0
    assert torch.equal(incremental, full)


def test_nothing_changed_runs_nothing_and_none_restores_dense(net):
    x = torch.rand(4, 1, 16, 16)
    inc = IncrementalForward(net, x)
    dense_logits = inc.logits.clone()
    m = _random_masks(net, prunable_parameters(net), 0.5, 3)
    inc.run(m)
    _, first = inc.run(m)
    assert first == len(inc.stages)
    restored, _ = inc.run(None)
    assert torch.equal(restored, dense_logits)
    # the dense reference itself was never written
    assert all(bool((p != 0).any()) for n, p in net.named_parameters() if n in m)


def test_the_cached_passes_follow_the_device_policy(net):
    x = torch.rand(16, 1, 16, 16)
    assert IncrementalForward(net, x).policy.amp_dtype is None  # CPU: float32, results as above
    inc = IncrementalForward(net, x, amp="bf16")
    assert inc.logits.dtype == torch.bfloat16 and inc.run(None)[0].shape == (16, 10)


@pytest.mark.gpu
def test_on_cuda_the_dense_pass_runs_in_mixed_precision_and_agrees_with_the_cpu(net):
    x = torch.rand(256, 1, 16, 16)
    gpu = IncrementalForward(net.cuda(), x.cuda())
    cpu = IncrementalForward(net.cpu(), x)
    assert gpu.logits.dtype in (torch.bfloat16, torch.float16)
    assert (gpu.logits.float().cpu().argmax(1) == cpu.logits.argmax(1)).float().mean() > 0.95
