"""Plan: checked construction, resolved defaults, the sweep and ranking modes."""
import pytest

from labkit.lab import Plan, make_plan

LAYERS = ["a.weight", "b.weight"]


def test_auto_normalisation_follows_the_granularity():
    assert Plan(granularity="weight").resolved_normalize == "none"
    assert Plan(granularity="filter").resolved_normalize == "l2"
    assert Plan(granularity="filter", normalize="minmax").resolved_normalize == "minmax"


def test_a_per_layer_plan_has_no_sweep_and_ranks_globally_on_exact_budgets():
    p = make_plan(LAYERS, mode="per-layer", layer_sparsity={"b.weight": 0.3, "a.weight": 0.1})
    assert p.layer_sparsity == (("a.weight", 0.1), ("b.weight", 0.3))  # sorted: equal plans hash equal
    assert p.sweep_mode is None and p.ranking_mode == "global"
    assert make_plan(LAYERS, mode="layered").sweep_mode == "layered"


@pytest.mark.parametrize("kw, err, words", [
    ({"mode": "everywhere"}, ValueError, "mode must be one of"),
    ({"sparsity": 1.0}, ValueError, "sparsity"),
    ({"mode": "per-layer", "layer_sparsity": {"c.weight": 0.5}}, KeyError, "prunable layers"),
    ({"sparsty": 0.5}, TypeError, "unknown plan field"),
])
def test_bad_plans_are_refused_naming_the_fix(kw, err, words):
    with pytest.raises(err, match=words):
        make_plan(LAYERS, **kw)


def test_plans_are_hashable_and_round_trip_to_a_dict():
    p = make_plan(LAYERS, options={"p": 2})
    assert {p: 1}[make_plan(LAYERS, options={"p": 2})] == 1
    assert p.to_dict()["options"] == {"p": 2}
