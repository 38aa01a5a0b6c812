"""The latency budget: nested stratified draws, sizing, and intervals that cover the whole split."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import labkit as lk
from labkit.analysis.evaluate import evaluate_predictions
from labkit.lab import budget, live
from labkit.lab.budget import live_interval, per_class_for, stratified

from .conftest import many_class_data


def test_stratified_is_nested_and_takes_all_of_a_small_class():
    y = torch.tensor([0] * 10 + [1] * 3 + [2] * 7)
    small, big = stratified(y, 2, seed=3), stratified(y, 5, seed=3)
    assert set(small.tolist()) <= set(big.tolist())
    assert torch.bincount(y[small]).tolist() == [2, 2, 2]
    assert torch.bincount(y[big]).tolist() == [5, 3, 5]
    with pytest.raises(ValueError, match="per_class"):
        stratified(y, 0, seed=0)


def test_per_class_for_divides_the_budget_among_the_classes():
    assert per_class_for(200, 2.0, 100) == 1          # 1 per class: 200 ms
    assert per_class_for(200, 0.1, 100) == 20
    assert per_class_for(1, 5.0, 100, min_per_class=2) == 2
    with pytest.raises(ValueError, match="budget_ms"):
        per_class_for(0, 1.0, 10)


def test_auto_live_set_is_sized_by_the_measured_time(monkeypatch):
    data = many_class_data(classes=20, test_per_class=30)   # 600 test items: above the whole-set threshold
    monkeypatch.setattr(live, "time_per_item", lambda run, n, repeats=2: 1.0)  # 1 ms per item
    lab = lk.Lab("tiny_cnn", data, pretrained=False, budget_ms=100)   # 100 ms / (1 ms x 20 classes) = 5
    assert lab.live["per_class"] == 5 and len(lab.targets) == 100 and lab.preview
    assert torch.bincount(lab.targets).tolist() == [5] * 20
    slow = lk.Lab("tiny_cnn", data, pretrained=False, budget_ms=1)    # never below one per class
    assert slow.live["per_class"] == 1 and len(slow.targets) == 20
    fast = lk.Lab("tiny_cnn", data, pretrained=False, budget_ms=1e6)  # everything fits
    assert fast.live["whole"] and not fast.preview and len(fast.targets) == 600


def test_small_sets_are_whole_and_fixed_previews_still_work():
    data = many_class_data(classes=10, test_per_class=40)   # 400 <= 500: whole, whatever the timing
    assert lk.Lab("tiny_cnn", data, pretrained=False).live["whole"]
    fixed = lk.Lab("tiny_cnn", data, pretrained=False, preview=100)
    assert len(fixed.targets) == 100 and fixed.live["budget_ms"] is None
    with pytest.raises(ValueError, match="preview must be"):
        lk.Lab("tiny_cnn", data, pretrained=False, preview="fast")


def test_live_interval_is_exact_on_the_whole_split_and_covers_it_from_a_sample():
    rng = np.random.default_rng(0)
    classes, per_class = 20, 50
    y = np.repeat(np.arange(classes), per_class)
    p = rng.uniform(0.2, 0.9, classes)
    correct = rng.random(len(y)) < p[y]
    pred = np.where(correct, y, (y + 1) % classes)
    whole = evaluate_predictions(torch.tensor(pred), torch.tensor(y), n_boot=0)
    pop = np.bincount(y)
    lo, hi = live_interval(whole, pop)["balanced"]
    assert lo == hi == pytest.approx(whole.balanced)
    covered, widths = 0, []
    for seed in range(200):
        keep = stratified(torch.tensor(y), 3, seed=seed).numpy()
        rep = evaluate_predictions(torch.tensor(pred[keep]), torch.tensor(y[keep]), n_boot=0)
        lo, hi = live_interval(rep, pop)["balanced"]
        covered += lo <= whole.balanced <= hi
        widths.append(hi - lo)
    assert covered / 200 >= 0.93          # a 95 % interval (conservative by construction)
    assert 0.05 < float(np.mean(widths)) < 0.3
    with pytest.raises(ValueError, match="population"):
        live_interval(whole, pop[:5])


def test_progress_reports_items_and_restarts_every_pass():
    seen = []
    prog = budget.Progress(torch.zeros(10, 2), torch.zeros(10), "t", batch_size=4, bar=False,
                           callback=lambda task, done, total: seen.append((task, done, total)))
    assert [len(xb) for xb, _ in prog] == [4, 4, 2] and len(prog) == 3
    assert seen == [("t", 4, 10), ("t", 8, 10), ("t", 10, 10)]
    list(prog)
    assert seen[-1] == ("t", 10, 10) and len(seen) == 6
