"""Per-class evaluation against sklearn, scipy and a hand-made confusion case."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import binomtest
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from labkit.analysis import ClassReport, evaluate, evaluate_predictions, wilson_interval
from labkit.data._base import Split

GROUPS = {"many": [0, 1], "medium": [2, 3], "few": [4, 5]}


def _hand_case() -> tuple[Tensor, Tensor]:
    """Six classes; class 5 has no test item.

    class 0: 4 items, 4 right (1.0)   class 1: 2 items, 1 right (0.5)  -> many   = 0.75
    class 2: 3 items, 3 right (1.0)   class 3: 1 item,  0 right (0.0)  -> medium = 0.5
    class 4: 2 items, 1 right (0.5)   class 5: none                    -> few    = 0.5
    overall = 9 / 12; balanced = (1 + .5 + 1 + 0 + .5) / 5 = 0.6
    """
    y = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2, 2, 3, 4, 4])
    p = torch.tensor([0, 0, 0, 0, 1, 0, 2, 2, 2, 2, 4, 5])
    return p, y


def test_hand_made_confusion_with_groups() -> None:
    p, y = _hand_case()
    rep = evaluate_predictions(p, y, groups=GROUPS, num_classes=6, class_counts=[50, 40, 15, 12, 3, 2],
                               classes=list("abcdef"))
    assert rep.overall == pytest.approx(9 / 12)
    assert rep.balanced == pytest.approx(0.6)
    assert rep.by_group == pytest.approx({"many": 0.75, "medium": 0.5, "few": 0.5})
    # the group value is the mean of per-class accuracies, not the pooled accuracy (5/6 for many)
    pc = rep.per_class
    assert list(pc.columns) == ["class", "name", "n_train", "n_test", "correct", "accuracy", "group",
                                "ci_low", "ci_high"]
    assert pc["n_test"].tolist() == [4, 2, 3, 1, 2, 0]
    assert pc["correct"].tolist() == [4, 1, 3, 0, 1, 0]
    assert pc["accuracy"].tolist()[:5] == [1.0, 0.5, 1.0, 0.0, 0.5] and np.isnan(pc["accuracy"].iloc[5])
    assert pc["group"].tolist() == ["many", "many", "medium", "medium", "few", "few"]
    assert pc["name"].tolist() == list("abcdef") and pc["n_train"].tolist() == [50, 40, 15, 12, 3, 2]


def test_matches_sklearn_on_random_imbalanced_predictions() -> None:
    rng = np.random.default_rng(0)
    y = rng.choice(7, size=500, p=[0.4, 0.2, 0.15, 0.1, 0.08, 0.05, 0.02])
    p = np.where(rng.random(500) < 0.6, y, rng.integers(0, 7, 500))
    rep = evaluate_predictions(torch.as_tensor(p), torch.as_tensor(y))
    assert rep.overall == pytest.approx(accuracy_score(y, p))
    assert rep.balanced == pytest.approx(balanced_accuracy_score(y, p))
    assert rep.per_class["accuracy"].to_numpy() == pytest.approx(
        [np.mean(p[y == c] == c) for c in range(7)])


def test_logits_are_arg_maxed_and_set_the_class_count() -> None:
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0], [0.0, 3.0, 1.0, 0.0], [0.0, 0.0, 0.0, 5.0]])
    rep = evaluate_predictions(logits, torch.tensor([0, 2, 3]))
    assert rep.predictions.tolist() == [0, 1, 3] and len(rep.per_class) == 4
    assert rep.overall == pytest.approx(2 / 3)
    assert rep.balanced == pytest.approx((1 + 0 + 1) / 3)  # class 1 has no test item: left out


def test_wilson_matches_scipy() -> None:
    k, n = np.array([0, 3, 10, 29, 30]), np.array([30, 10, 10, 30, 30])
    lo, hi = wilson_interval(k, n)
    for i in range(len(k)):
        ref = binomtest(int(k[i]), int(n[i])).proportion_ci(0.95, method="wilson")
        assert (lo[i], hi[i]) == pytest.approx((ref.low, ref.high), abs=1e-9)
    p, y = _hand_case()
    pc = evaluate_predictions(p, y, num_classes=6).per_class
    ref = binomtest(1, 2).proportion_ci(0.95, method="wilson")
    assert (pc["ci_low"].iloc[1], pc["ci_high"].iloc[1]) == pytest.approx((ref.low, ref.high))
    assert np.isnan(pc["ci_low"].iloc[5])


def test_bootstrap_intervals_are_seeded_cover_the_estimate_and_match_item_resampling() -> None:
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(4), [200, 100, 40, 20])
    p = np.where(rng.random(len(y)) < np.array([0.9, 0.8, 0.6, 0.4])[y], y, (y + 1) % 4)
    groups = {"many": [0], "medium": [1, 2], "few": [3]}
    rep = evaluate_predictions(p, y, groups=groups, n_boot=4000, seed=3)
    again = evaluate_predictions(p, y, groups=groups, n_boot=4000, seed=3)
    assert rep.ci == again.ci
    assert set(rep.ci) == {"overall", "balanced", "many", "medium", "few"}
    for key, value in [("overall", rep.overall), ("balanced", rep.balanced), *rep.by_group.items()]:
        lo, hi = rep.ci[key]
        assert lo < value < hi, key

    # Oracle: the textbook stratified bootstrap, resampling item indices within each class.
    hit = p == y
    by_class = [np.flatnonzero(y == c) for c in range(4)]
    boot = np.empty((4000, 4))
    for b in range(4000):
        for c, idx in enumerate(by_class):
            boot[b, c] = hit[rng.choice(idx, size=len(idx))].mean()
    bal = np.percentile(boot.mean(1), [2.5, 97.5])
    few = np.percentile(boot[:, 3], [2.5, 97.5])
    overall = np.percentile((boot * [200, 100, 40, 20]).sum(1) / 360, [2.5, 97.5])
    assert rep.ci["balanced"] == pytest.approx(tuple(bal), abs=0.01)
    assert rep.ci["few"] == pytest.approx(tuple(few), abs=1 / 20 + 1e-9)  # 20 items: one-item steps
    assert rep.ci["overall"] == pytest.approx(tuple(overall), abs=0.01)


def test_a_thousand_resamples_of_a_thousand_items_take_milliseconds() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 100, 1000)
    p = np.where(rng.random(1000) < 0.7, y, 0)
    groups = {"many": list(range(35)), "medium": list(range(35, 70)), "few": list(range(70, 100))}
    evaluate_predictions(p, y, groups=groups)  # warm-up
    t0 = time.perf_counter()
    evaluate_predictions(p, y, groups=groups, n_boot=1000)
    assert time.perf_counter() - t0 < 0.25


def test_empty_group_and_no_bootstrap() -> None:
    p, y = _hand_case()
    rep = evaluate_predictions(p, y, groups={"many": [0, 1, 2, 3, 4], "few": [5]}, num_classes=6, n_boot=0)
    assert np.isnan(rep.by_group["few"]) and rep.ci == {}
    rep = evaluate_predictions(p, y, groups={"many": [0, 1, 2, 3, 4], "few": [5]}, num_classes=6)
    assert np.isnan(rep.ci["few"][0]) and not np.isnan(rep.ci["many"][0])


def test_summary_and_delta() -> None:
    p, y = _hand_case()
    dense = evaluate_predictions(y, y, groups=GROUPS, num_classes=6, class_counts=[50, 40, 15, 12, 3, 2])
    pruned = evaluate_predictions(p, y, groups=GROUPS, num_classes=6, class_counts=[50, 40, 15, 12, 3, 2])
    row = pruned.summary("pruned")
    assert row.shape[0] == 1
    assert row[["model", "n_test", "overall", "balanced", "many", "medium", "few"]].iloc[0].tolist() == \
        ["pruned", 12, 0.75, pytest.approx(0.6), 0.75, 0.5, 0.5]
    assert {"overall_ci_low", "overall_ci_high", "few_ci_high"} <= set(row.columns)
    d = pruned.delta(dense)
    assert d["delta"].tolist()[:5] == [0.0, -0.5, 0.0, -1.0, -0.5] and np.isnan(d["delta"].iloc[5])
    assert list(d.columns) == ["class", "name", "group", "n_train", "n_test", "accuracy", "reference", "delta"]
    with pytest.raises(ValueError, match="same test split"):
        pruned.delta(evaluate_predictions(p[:-1], y[:-1], num_classes=6))
    assert "overall=0.750" in repr(pruned)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(groups={"many": [0, 1], "few": [1]}), ValueError, "both group"),
    (dict(groups={"many": [9]}), ValueError, "outside"),
    (dict(classes=["a", "b"], num_classes=6), ValueError, "inconsistent"),
    (dict(n_boot=-1), ValueError, "n_boot"),
])
def test_bad_input_is_named(kwargs: dict, error: type, match: str) -> None:
    p, y = _hand_case()
    kwargs.setdefault("num_classes", 6)
    with pytest.raises(error, match=match):
        evaluate_predictions(p, y, **kwargs)


class _Recorder(nn.Module):
    """A classifier that records whether it ran in eval and inference mode."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 4))
        self.calls: list[tuple[bool, bool, int]] = []

    def forward(self, x: Tensor) -> Tensor:
        self.calls.append((self.training, torch.is_inference_mode_enabled(), len(x)))
        return self.net(x)


def test_evaluate_a_model_in_memory_and_streaming_agree_with_manual_logits() -> None:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(50, 5, generator=g), torch.randint(0, 4, (50,), generator=g)
    model = _Recorder()
    model.train()
    rep = evaluate(model, Split.from_tensors(x, y), groups={"many": [0, 1], "few": [2, 3]}, batch_size=16)
    assert isinstance(rep, ClassReport)
    assert model.training                                          # mode restored
    assert model.calls == [(False, True, 16), (False, True, 16), (False, True, 16), (False, True, 2)]
    streamed = evaluate(model, Split(TensorDataset(x, y), y), groups={"many": [0, 1], "few": [2, 3]},
                        batch_size=16)
    model.eval()
    with torch.no_grad():
        manual = evaluate_predictions(model.net(x), y, groups={"many": [0, 1], "few": [2, 3]})
    for r in (rep, streamed):
        assert torch.equal(r.predictions, manual.predictions)
        assert r.overall == manual.overall and r.by_group == manual.by_group and r.ci == manual.ci
        pd.testing.assert_frame_equal(r.per_class, manual.per_class)


def test_evaluate_rejects_models_that_do_not_return_logits() -> None:
    x, y = torch.randn(4, 5), torch.tensor([0, 1, 0, 1])
    with pytest.raises(TypeError, match="logits"):
        evaluate(nn.Flatten(0), Split.from_tensors(x, y))


def test_precision_follows_the_device_policy_float32_on_the_cpu_unless_asked() -> None:
    x, y = torch.randn(300, 5), torch.arange(300) % 4
    model, split = _Recorder(), Split.from_tensors(x, y)
    auto = evaluate(model, split, n_boot=0)
    assert torch.equal(auto.predictions, evaluate(model, split, n_boot=0, amp="off").predictions)
    with torch.no_grad():
        assert torch.equal(auto.predictions, model.net.eval()(x).argmax(1))  # float32: the plain forward
    bf16 = evaluate(model, split, n_boot=0, amp="bf16")  # autocast on the CPU when asked
    assert (bf16.predictions == auto.predictions).float().mean() > 0.9
    with pytest.raises(ValueError, match="does not run on cpu"):
        evaluate(model, split, amp="fp16")


@pytest.mark.gpu
def test_on_cuda_the_full_test_evaluation_autocasts_and_agrees_with_float32() -> None:
    from labkit import load_model

    torch.manual_seed(0)
    net = load_model("resnet32", num_classes=100, in_channels=3).eval()
    x, y = torch.randn(5000, 3, 32, 32), torch.arange(5000) % 100
    streamed = Split(TensorDataset(x, y), y)  # pinned DataLoader batches, non-blocking, channels-last
    fast = evaluate(net, streamed, device="cuda", n_boot=0)
    exact = evaluate(net, Split.from_tensors(x, y), device="cuda", n_boot=0, amp="off")
    assert (fast.predictions == exact.predictions).float().mean() > 0.95
