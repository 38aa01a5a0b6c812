"""Lab facade: cached rankings, incremental == full evaluation, cost, merge, save, bad input."""
import json

import pytest
import torch

import labkit as lk
from labkit.pruning import apply_masks


@pytest.fixture(scope="module")
def lab():
    return lk.Lab("resnet20", "digits-lt")


def test_dense_report_matches_evaluate_of_the_shipped_model(lab):
    rep = lk.evaluate(lab.dense, lab.data.test, groups=lab.data.groups)
    assert rep.overall == pytest.approx(lab.dense_report.overall)
    assert lab.dense_report.balanced >= 0.85  # the shipped checkpoint's promise (issue 2)


def test_prune_hits_the_target_and_leaves_the_dense_model_untouched(lab):
    before = {n: p.clone() for n, p in lab.dense.named_parameters()}
    t = lab.prune(criterion="magnitude", sparsity=0.5, mode="global")
    assert t.masks.sparsity == pytest.approx(0.5, abs=1e-4)
    assert all(torch.equal(before[n], p) for n, p in lab.dense.named_parameters())
    assert t.cost["nonzero_params"] < t.cost["params"]


def test_incremental_report_equals_full_report_exactly(lab):
    last = [n for n in lab.layers if n.startswith("layer3.")]
    lab.prune(mode="per-layer", layer_sparsity={n: 0.3 for n in last})
    inc = lab.prune(mode="per-layer", layer_sparsity={n: 0.6 for n in last})
    full = lab.prune(mode="per-layer", layer_sparsity={n: 0.6 for n in last}, incremental=False)
    assert inc.first_stage == 3 and full.first_stage == 0
    assert torch.equal(inc.report.predictions, full.report.predictions)
    assert inc.report.per_class.equals(full.report.per_class)


def test_live_cost_equals_the_cost_of_the_masked_model(lab):
    t = lab.prune(sparsity=0.7, mode="uniform")
    ref = lk.cost(apply_masks(lab.dense, t.masks), lab.input_shape, latency=False)
    assert t.cost["nonzero_MACs"] == ref["nonzero_MACs"]
    assert t.cost["nonzero_params"] == ref["nonzero_params"]


def test_rankings_are_cached_per_criterion(lab):
    r1 = lab.ranking("magnitude")
    lab.prune(sparsity=0.2)
    assert lab.ranking("magnitude") is r1
    assert lab.ranking("random") is not r1


def test_layered_mode_prunes_early_layers_more(lab):
    t = lab.prune(sparsity=0.5, mode="layered", depth_bias=0.5)
    prof = t.layers()
    assert prof["sparsity"].iloc[0] > prof["sparsity"].iloc[-1]


def test_merge_and_overlap(lab):
    a = lab.prune("magnitude", 0.5)
    b = lab.prune("random", 0.5)
    merged = lab.merge([a, b], weights=[0.7, 0.3])
    assert merged.masks.sparsity == pytest.approx(0.5, abs=1e-3)
    mat = lab.overlap_matrix({"magnitude": a, "random": b})
    assert mat.loc["magnitude", "magnitude"] == 1.0 and 0 < mat.loc["magnitude", "random"] < 1


def test_activations_mark_pruned_filters_as_zero(lab):
    t = lab.prune("magnitude", 0.5, granularity="filter")
    layer = lab.layers[0]
    acts = lab.activations(layer, index=0, masks=t.masks)
    pruned = ~t.masks[layer]
    assert acts.shape[0] == t.masks[layer].numel()
    assert float(acts[pruned].abs().sum()) == 0.0


def test_save_writes_masks_and_plan(lab, tmp_path):
    t = lab.prune(sparsity=0.4)
    out = lab.save(t, tmp_path / "exp")
    plan = json.loads((out / "plan.json").read_text())
    assert plan["plan"]["sparsity"] == 0.4 and plan["seed"] == 0 and "torch" in plan["versions"]
    assert lk.Masks.load(out / "masks.safetensors").equal(t.masks)


def test_compact_agrees_and_shrinks(lab):
    t = lab.prune("magnitude", 0.5, granularity="filter", mode="uniform")
    small, table = lab.compact(t)
    assert table.set_index("model").loc["compacted", "MACs"] < table.set_index("model").loc["dense", "MACs"]
    x = lab._inc.acts[0][:4].contiguous()
    with torch.no_grad():
        assert torch.allclose(small(x), lab.pruned_model(t)(x), atol=1e-4)


@pytest.mark.parametrize("kw, err", [
    ({"sparsity": 1.2}, ValueError),
    ({"sparsity": -0.1}, ValueError),
    ({"mode": "sideways"}, ValueError),
    ({"criterion": "nope"}, KeyError),
    ({"mode": "per-layer", "layer_sparsity": {"no.such.weight": 0.5}}, KeyError),
])
def test_bad_input_is_refused_with_a_clear_error(lab, kw, err):
    with pytest.raises(err):
        lab.prune(**kw)
