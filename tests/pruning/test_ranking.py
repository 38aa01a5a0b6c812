"""The ranking cache: same masks as the uncached path and as global_unstructured, and no re-sorting."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.utils.prune as prune

from labkit.criteria import Scores, score
from labkit.models import load_model
from labkit.pruning import Ranking, allocate, make_masks

from .test_masks import assert_same_up_to_ties


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return load_model("resnet20", num_classes=10, in_channels=1)


def test_global_masks_equal_global_unstructured(model) -> None:
    """Oracle: torch.nn.utils.prune.global_unstructured with L1Unstructured, same layers and amount."""
    sc = score(model, "magnitude")
    ranking = Ranking(sc)
    for amount in (0.2, 0.5, 0.85):
        ref = copy.deepcopy(model)
        modules = [(ref.get_submodule(n.rsplit(".", 1)[0]), "weight") for n in sc]
        prune.global_unstructured(modules, pruning_method=prune.L1Unstructured, amount=amount)
        ours = ranking.masks(amount, mode="global", min_keep=1)
        for n, (module, _) in zip(sc, modules):
            assert_same_up_to_ties(ours[n], module.weight_mask.bool(), sc[n])


@pytest.mark.parametrize("mode,kw", [("global", {}), ("global", {"normalize": "l2"}), ("uniform", {}),
                                     ("layered", {"depth_bias": 0.3})])
@pytest.mark.parametrize("granularity", ["weight", "filter"])
def test_cached_path_equals_uncached(model, mode, kw, granularity) -> None:
    sc = score(model, "magnitude", granularity=granularity)
    ranking = Ranking(sc)
    for s in (0.1, 0.45, 0.7):
        assert ranking.masks(s, mode=mode, **kw).equal(make_masks(sc, allocate(sc, s, mode=mode, **kw)))


def test_no_sorting_after_the_cache_is_built(model, monkeypatch) -> None:
    sc = score(model, "magnitude")
    ranking = Ranking(sc)
    ranking.global_positions("none")
    expected = {s: make_masks(sc, allocate(sc, s)) for s in (0.3, 0.6, 0.9)}

    def forbidden(*args, **kwargs):
        raise AssertionError("the ranking cache sorted again")

    for fn in ("sort", "argsort", "topk", "kthvalue"):
        monkeypatch.setattr(torch, fn, forbidden)
        monkeypatch.setattr(torch.Tensor, fn, forbidden)
    for s, want in expected.items():
        assert ranking.masks(s).equal(want)
    alloc = ranking.allocate(0.5, mode="uniform")
    assert abs(ranking.masks(alloc).sparsity - 0.5) < 1e-3


@pytest.mark.filterwarnings("ignore:sparsity 0.8 is infeasible")
def test_global_fast_path_and_its_capped_fallback(model, tmp_path) -> None:
    sc = score(model, "magnitude")
    ranking = Ranking(sc)
    for kw in ({"min_keep": 1}, {"min_keep": 0.3}, {"protect": ["layer1"]}):   # caps bind in the last two
        for s in (0.5, 0.8):
            assert ranking.masks(s, **kw).equal(make_masks(sc, allocate(sc, s, **kw)))
    fast = ranking.masks(0.5)
    assert fast.sparsity == pytest.approx(0.5, abs=1e-6)
    from labkit.pruning import Masks

    assert Masks.load(fast.save(tmp_path / "m.safetensors")).equal(fast)   # masks share one buffer


def test_ties_straddling_the_cut_still_give_exact_counts() -> None:
    sc = Scores({"a": torch.tensor([0.0, 1.0, 1.0, 1.0, 1.0, 2.0]), "b": torch.ones(4)})
    r = Ranking(sc)
    m = r.masks({"a": 0.5, "b": 0.5})
    assert m["a"].tolist() == [False, False, False, True, True, True]
    assert m["b"].tolist() == [False, False, True, True]


def test_ranking_rejects_nan() -> None:
    with pytest.raises(ValueError, match="NaN"):
        Ranking({"a": torch.tensor([float("nan"), 1.0])})
