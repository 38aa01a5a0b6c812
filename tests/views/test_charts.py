"""The live lab's client-side charts show exactly the numbers of the trial they came from."""
from __future__ import annotations

import json

import pandas as pd
import pytest

import labkit as lk
from labkit.views import charts

pytest.importorskip("altair")


@pytest.fixture(scope="module")
def lab():
    return lk.Lab("resnet20", "digits-lt")


@pytest.fixture(scope="module")
def trial(lab):
    return lab.prune("magnitude", 0.6)


def test_per_class_chart_holds_each_class_accuracy_in_head_to_tail_order(lab, trial):
    ch = charts.per_class_chart(trial.report.per_class, dense=lab.dense_report.per_class)
    data = ch.data.set_index("class").sort_index()
    pc = trial.report.per_class.set_index("class").sort_index()
    assert data["accuracy"].tolist() == pc["accuracy"].tolist()
    assert data["dense"].tolist() == lab.dense_report.per_class.set_index("class").sort_index()["accuracy"].tolist()
    assert list(ch.data.sort_values("rank")["n_train"]) == sorted(pc["n_train"], reverse=True)
    ch.to_dict()  # validates against the Vega-Lite schema once, here, so the live page can skip it


def test_per_class_chart_bins_a_thousand_classes_into_readable_bars():
    n = 1000
    pc = pd.DataFrame({"class": range(n), "name": [f"c{i}" for i in range(n)], "n_train": range(n, 0, -1),
                       "accuracy": [(i % 10) / 10 for i in range(n)], "group": ["many"] * n})
    ch = charts.per_class_chart(pc)
    assert len(ch.data) == charts.MAX_CLASS_BARS
    assert ch.data["accuracy"].mean() == pytest.approx(pc["accuracy"].mean())
    assert ch.data["name"].iloc[0].startswith("c0 … c9 (10)")


def test_group_and_cost_charts_show_the_trials_numbers(lab, trial):
    g = charts.group_chart({"overall": trial.report.overall, **trial.report.by_group},
                           {"overall": lab.dense_report.overall, **lab.dense_report.by_group})
    pruned = g.data[g.data["model"] == "pruned"].set_index("metric")["accuracy"]
    assert pruned["few"] == trial.report.by_group["few"] and pruned["overall"] == trial.report.overall
    c = charts.cost_chart(lab.dense_cost, trial.cost).data.set_index("what")["share of dense"]
    assert c["parameters"] == pytest.approx(trial.cost["nonzero_params"] / lab.dense_cost["params"])
    assert c["MACs"] == pytest.approx(trial.cost["nonzero_MACs"] / lab.dense_cost["MACs"])


def test_profile_chart_draws_per_layer_targets_as_given(lab):
    targets = {n: 0.1 * (i % 5) for i, n in enumerate(lab.layers)}
    t = lab.prune("magnitude", 0.5, "per-layer", layer_sparsity=targets)
    ch = charts.profile_chart(t.layers(), target=targets)
    (data,) = ch.to_dict()["datasets"].values()  # bars and ticks share one inline table (Altair hoists it)
    assert {d["layer"]: d["target"] for d in data} == pytest.approx(targets)
    assert [ly["mark"]["type"] for ly in ch.to_dict()["layer"]] == ["bar", "tick"]
    # the measured per-layer sparsity follows the per-layer targets, not the ignored global slider
    assert {d["layer"]: d["sparsity"] for d in data} == pytest.approx(targets, abs=0.01)


def test_curve_marker_is_the_measured_point_not_an_interpolation(lab, trial):
    curve = lab.sweep([0.0, 0.5, 0.9])
    now = {"sparsity": trial.masks.sparsity, "balanced": trial.report.balanced, **trial.report.by_group}
    ch = charts.curve_chart(curve, lab.baselines(), now)
    marker = ch.layer[-1].data.set_index("metric")
    assert marker.loc["balanced", "value"] == trial.report.balanced
    assert marker.loc["few", "sparsity"] == trial.masks.sparsity
    assert charts.curve_chart(None, None, now).data["value"].tolist() == [now["balanced"], now["few"]]
    with pytest.raises(ValueError, match="nothing to draw"):
        charts.curve_chart(None)


def test_live_chart_displays_the_spec_without_revalidating(lab, trial):
    live = charts.live(charts.cost_chart(lab.dense_cost, trial.cost))
    mime, payload = live._mime_()
    assert mime.startswith("application/vnd.vegalite.v") and json.loads(payload)["mark"]["type"] == "bar"
    assert charts.live(live) is live and list(live._repr_mimebundle_()) == [mime]


def test_live_spec_carries_the_same_numbers_as_altairs_validated_spec(lab, trial):
    """The live page inlines data with labkit's fast transformer: same values, NaN as null."""
    curve = lab.sweep([0.0, 0.5])
    pc = trial.report.per_class.assign(ci_low=float("nan"))  # a NaN column must become JSON null
    for ch in (charts.curve_chart(curve, lab.baselines(), {"sparsity": 0.5, "balanced": 0.4, "few": 0.2}),
               charts.per_class_chart(pc, dense=lab.dense_report.per_class)):
        fast, slow = charts.live(ch).spec(), ch.to_dict()

        def tables(spec):
            return sorted(json.dumps(v, sort_keys=True) for v in spec["datasets"].values())

        assert tables(fast) == tables(slow)
        assert "NaN" not in json.dumps(fast)
