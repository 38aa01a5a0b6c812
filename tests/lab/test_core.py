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


def test_intersection_first_uses_the_scores_and_differs_from_weighted(lab):
    a, b = lab.prune("magnitude", 0.5), lab.prune("random", 0.5)
    inter = lab.merge([a, b], mode="intersection-first")
    weighted = lab.merge([a, b], mode="weighted")
    assert inter.masks.sparsity == pytest.approx(weighted.masks.sparsity, abs=1e-3)
    # the intersection is kept first, the rest of each layer's budget goes to the highest scores
    for n in a.masks:
        both = a.masks[n] & b.masks[n]
        assert bool((inter.masks[n] | ~both).all())
    assert lab.overlap_matrix({"i": inter, "w": weighted}).loc["i", "w"] < 1.0


def test_merge_weights_are_softmax_of_validation_accuracy(lab):
    trials = {"magnitude": lab.prune("magnitude", 0.5), "random": lab.prune("random", 0.5)}
    acc = {c: lab.val_accuracy(t) for c, t in trials.items()}
    w = lab.merge_weights(trials, tau=20.0)
    e = {c: torch.exp(torch.tensor(20.0 * a, dtype=torch.float64)) for c, a in acc.items()}
    z = sum(e.values())
    assert w == pytest.approx({c: float(v / z) for c, v in e.items()})
    assert acc["magnitude"] > acc["random"] and w["magnitude"] > 0.9  # random pruning at 50% is chance
    assert lab.merge_weights(trials, tau=0.0) == pytest.approx({"magnitude": 0.5, "random": 0.5})
    assert lab.merge_weights(trials, tau=20.0, accuracy=acc) == w  # given accuracies are not recomputed


def test_kept_filters_counts_each_criterions_filter_masks(lab):
    table = lab.kept_filters(["magnitude", "apoz"], 0.4, "uniform")
    assert set(table.columns) == {"criterion", "ranking", "layer", "kept", "total"}
    t = lab.prune("apoz", 0.4, "uniform", "filter")
    apoz = table[table["criterion"] == "apoz"].set_index("layer")
    assert all(apoz.loc[n, "kept"] == int(m.sum()) and apoz.loc[n, "total"] == m.numel() for n, m in t.masks.items())
    # per-layer ranking: every layer loses the same share (up to rounding)
    assert ((1 - apoz["kept"] / apoz["total"]) - 0.4).abs().max() < 1 / apoz["total"].min() + 1e-9


def test_influence_curves_and_weibull_fits_of_one_layer(lab):
    layer = lab.conv_layers[6]
    curves, fits = lab.influence(layer)
    S = curves.survival(layer)
    channels = lab.dense.get_parameter(layer).shape[0]
    assert S.shape[0] == channels == len(fits.k) == len(fits.lam)
    assert torch.allclose(S[:, 0], torch.ones(channels, dtype=S.dtype))  # S(0) = Δ_1 / Δ_1
    assert lab.influence(layer)[0] is curves  # cached
    with pytest.raises(KeyError, match="conv layer"):
        lab.influence("fc.weight")


def test_rescue_is_never_worse_than_magnitude_on_its_calibration_loss(lab):
    picked = lab.rescue(0.5, rho=0.2, generations=4, population=8)
    assert picked.loss <= picked.magnitude_loss + 1e-9
    assert picked.masks.sparsity == pytest.approx(0.5, abs=1e-3)
    for n in picked.masks:
        assert not bool((picked.large[n] & picked.rescued[n]).any())
        assert torch.equal(picked.large[n] | picked.rescued[n], picked.masks[n])
    assert lab.rescue(0.5, rho=0.2, generations=4, population=8) is picked


@pytest.mark.parametrize("granularity", ["weight", "filter"])
def test_finetune_trains_a_copy_keeps_the_masks_and_leaves_the_dense_model_frozen(lab, granularity):
    trial = lab.prune("magnitude", 0.5, "uniform", granularity)
    before = {k: v.clone() for k, v in lab.dense.state_dict().items()}
    tuned = lab.finetune(trial, epochs=1, progress=False)
    assert len(tuned.model.train_history.loss) == 1
    assert all(torch.equal(before[k], v) for k, v in lab.dense.state_dict().items())
    assert not any(p.requires_grad for p in lab.dense.parameters())
    for n, m in lk.expand_masks(lab.dense, trial.masks).items():
        p = tuned.model.get_parameter(n)
        assert (p[~m] == 0).all()
        assert not torch.equal(p[m], lab.dense.get_parameter(n)[m])  # the kept weights trained
    assert tuned.report.balanced > 0.1 and tuned.masks is trial.masks


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


class _Tokens(torch.nn.Module):
    """A token-wise model (as CSASML's attention): linears applied to every one of 5 tokens."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Linear(8, 16)
        self.mix = torch.nn.Linear(16, 16)
        self.head = torch.nn.Linear(16, 3)

    def forward(self, x):
        return self.head(torch.relu(self.mix(torch.relu(self.embed(x)))).mean(1))


def _token_data(n: int = 30) -> lk.LabData:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 5, 8, generator=g), torch.arange(n) % 3
    split = lk.data.Split.from_tensors(x, y)
    return lk.LabData("tokens", split, split, split, ["a", "b", "c"], torch.full((3,), n // 3).numpy(),
                      {"many": [0], "medium": [1], "few": [2]}, (5, 8))


def test_live_cost_counts_every_token_of_a_token_wise_linear():
    # the lab's live count once charged a linear on (N, 5, 8) for 8 positions instead of 5 tokens
    lab = lk.Lab(_Tokens(), _token_data(), exclude_first=False, exclude_last=False)
    t = lab.prune(sparsity=0.5, mode="uniform")
    ref = lk.cost(apply_masks(lab.dense, t.masks), lab.input_shape, latency=False)
    assert {k: t.cost[k] for k in ref if k in t.cost} == {k: ref[k] for k in t.cost}
    tokens = {"embed.weight": 5, "mix.weight": 5, "head.weight": 1}  # the head sees the pooled token
    skipped = sum(tokens[n] * int((~m).sum()) for n, m in t.masks.items())
    assert t.cost["MACs"] - t.cost["nonzero_MACs"] == skipped


def test_a_setting_seen_before_answers_from_memory_with_the_same_numbers(lab):
    first = lab.prune("magnitude", 0.45, "uniform")
    lab.prune("magnitude", 0.65, "uniform")
    again = lab.prune("magnitude", 0.45, "uniform")
    assert again.report is first.report and again.masks is first.masks
    assert again.first_stage == len(lab._inc.stages)  # nothing re-run
    fresh = lab.evaluate_masks(first.masks, first.plan)  # the same masks measured again agree
    assert torch.equal(fresh.report.predictions, again.report.predictions)
