"""Beyond the live set: refine (nested, larger) and the exact full report, with progress."""
from __future__ import annotations

import pytest
import torch

import labkit as lk
from labkit.lab import live

from .conftest import many_class_data


@pytest.fixture(scope="module")
def lab():
    mp = pytest.MonkeyPatch()
    mp.setattr(live, "time_per_item", lambda run, n, repeats=2: 1.0)
    try:
        return lk.Lab("tiny_cnn", many_class_data(classes=20, test_per_class=30), pretrained=False, budget_ms=40)
    finally:
        mp.undo()


def test_full_report_is_exact_and_reports_progress(lab):
    t = lab.prune(sparsity=0.6)
    calls = []
    rep = lab.full_report(t, progress=False, callback=lambda task, done, total: calls.append((done, total)))
    ref = lk.evaluate(lab.pruned_model(t), lab.data.test, groups=lab.data.groups)
    assert rep.overall == pytest.approx(ref.overall) and rep.balanced == pytest.approx(ref.balanced)
    assert len(rep.targets) == 600 and calls[-1] == (600, 600)


def test_refine_extends_the_live_set_and_agrees_with_the_live_items(lab):
    assert lab.live["per_class"] == 2 and len(lab.targets) == 40
    t = lab.prune(sparsity=0.6)
    r = lab.refine(t, per_class=6, progress=False)
    assert len(r.report.targets) == 120 and r.preview and r.pred is None
    assert torch.bincount(r.report.targets).tolist() == [6] * 20
    assert r.plan == t.plan and r.masks is t.masks
    # the refined dense report is the dense model on those items
    assert r.dense.overall != lab.dense_report.overall or len(r.dense.targets) == 120
    whole = lab.refine(t, per_class=30, progress=False)
    assert not whole.preview
    assert whole.report.balanced == pytest.approx(lab.full_report(t, progress=False).balanced)


def test_live_interval_narrows_to_a_point_when_the_live_set_is_whole(lab):
    lo, hi = lab.live_interval()["balanced"]
    assert lo <= lab.dense_report.balanced <= hi and hi - lo > 0
    whole = lk.Lab("tiny_cnn", lab.data, pretrained=False, preview=None)
    lo, hi = whole.live_interval()["balanced"]
    assert lo == hi
