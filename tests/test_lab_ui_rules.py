"""Rules the lab's controls rely on: no control combination raises, and the filter default is sensible."""
from __future__ import annotations

import pytest
import torch

import labkit as lk
from labkit.ui import lab_spec


@pytest.fixture(scope="module")
def lab():
    return lk.Lab("resnet20", "digits-lt")


@pytest.mark.parametrize("criterion", lk.list_criteria())
@pytest.mark.parametrize("granularity", ["weight", "filter"])
def test_every_criterion_resolves_to_a_granularity_it_can_score(criterion, granularity):
    g, note = lab_spec.resolve_granularity(criterion, granularity)
    assert g in lk.get_criterion(criterion).granularities
    assert (note is None) == (g == granularity)
    assert criterion in lab_spec.criteria_for(g)


def test_merge_candidates_are_only_criteria_valid_at_the_granularity():
    assert "apoz" not in lab_spec.criteria_for("weight") and "apoz" in lab_spec.criteria_for("filter")
    assert "optimized" not in lab_spec.criteria_for("filter")


def test_filter_default_normalises_per_layer_and_keeps_accuracy(lab):
    auto = lab.prune("magnitude", 0.3, "global", "filter")
    raw = lab.prune("magnitude", 0.3, "global", "filter", normalize="none")
    assert auto.plan.resolved_normalize == "l2" and lab.prune("magnitude", 0.3).plan.resolved_normalize == "none"
    per_layer = auto.layers()["sparsity"]
    assert per_layer.max() < 0.9, "no layer emptied by the global threshold"
    assert auto.report.balanced > raw.report.balanced
    assert auto.report.balanced > 0.3  # well above chance (0.1) at 30 % of the filters


def test_class_details_is_the_confusion_row_of_the_trials_predictions(lab):
    t = lab.prune("magnitude", 0.7)
    pc = t.report.per_class.set_index("class")
    worst = int(pc["accuracy"].idxmin())
    row, images, pred = lab.class_details(t, worst)
    assert row["count"].sum() == pc.loc[worst, "n_test"]
    diag = row.loc[row["predicted"] == worst, "count"]
    assert (int(diag.iloc[0]) if len(diag) else 0) == pc.loc[worst, "correct"]
    assert len(images) == len(pred) == min(8, int(pc.loc[worst, "n_test"] - pc.loc[worst, "correct"]))
    assert (pred != worst).all() and images.shape[1:] == torch.Size(lab.input_shape)
    with pytest.raises(IndexError, match="class must be in"):
        lab.class_details(t, lab.data.num_classes)
