"""The methods' one-call views on the shipped lab: merging, filter criteria, rescue, sweep curves."""
import pytest

import labkit as lk
from labkit.training.trainers import merge_weights as softmax_weights


@pytest.fixture(scope="module")
def lab():
    return lk.Lab("resnet20", "digits-lt")


def test_merging_weighs_by_validation_accuracy_and_evaluates_every_mask(lab):
    m = lab.merging(["magnitude", "random"], sparsity=0.5, mode="uniform", tau=20)
    assert list(m.trials) == ["magnitude", "random", "merged"]
    expected = softmax_weights([m.val["magnitude"], m.val["random"]], tau=20)
    assert [m.alpha["magnitude"], m.alpha["random"]] == pytest.approx(list(expected))
    assert m.matrix.shape == (3, 3) and (m.matrix.values.diagonal() == 1).all()
    # the merged mask keeps each layer's budget
    for n, k in m.trials["merged"].masks.items():
        assert int(k.sum()) == int(m.trials["magnitude"].masks[n].sum())
    table = m.table()
    assert table["test balanced"].tolist() == [t.report.balanced for t in m.trials.values()]


def test_hand_set_merge_weights_are_normalised_and_all_zero_means_equal(lab):
    trials = {"a": None, "b": None}
    assert lab.merge_weights(trials, weights={"a": 3, "b": 1}) == pytest.approx({"a": 0.75, "b": 0.25})
    assert lab.merge_weights(trials, weights={"a": 0, "b": 0}) == {"a": 0.5, "b": 0.5}
    with pytest.raises(ValueError, match="at least two"):
        lab.merging(["magnitude"], sparsity=0.5)


def test_filter_criteria_table_matches_one_shot_prunes(lab):
    fc = lab.filter_criteria(0.4, ["magnitude", "apoz"])
    assert list(fc.accuracy.columns) == ["criterion", "per-layer", "global"]
    row = fc.accuracy.set_index("criterion").loc["apoz"]
    assert row["global"] == lab.prune("apoz", 0.4, "global", "filter").report.balanced
    assert set(fc.kept["ranking"]) == {"per-layer", "global"}


def test_curve_is_cached_and_absent_for_per_layer_plans(lab):
    t = lab.prune(sparsity=0.3)
    a = lab.curve(t.plan, [0.0, 0.5])
    assert a is lab.curve(lab.prune(sparsity=0.6).plan, [0.0, 0.5])  # same plan but the sparsity: cached
    assert set(a["criterion"]) == {"magnitude"}
    assert set(lab.curve(t.plan, [0.0, 0.5], criterion="random")["criterion"]) == {"random"}
    per = lab.prune(mode="per-layer", layer_sparsity={lab.layers[1]: 0.5})
    assert lab.curve(per.plan, [0.0, 0.5]) is None


def test_compare_rescue_puts_the_search_next_to_magnitude(lab):
    c = lab.compare_rescue(0.5, rho=0.2, generations=2)
    assert c.searched.masks.sparsity == pytest.approx(c.magnitude.masks.sparsity, abs=1e-3)
    assert int(c.picked.rescued[c.layer].sum()) == max(int(r.sum()) for r in c.picked.rescued.values())
