"""Mask merging (docs/methods.md §1.4): budgets kept per layer, what each mode prefers, a strict registry."""
from __future__ import annotations

import pytest
import torch

from labkit.criteria import Scores
from labkit.pruning import Masks, allocate, get_merge_mode, list_merge_modes, make_masks, merge_masks, register_merge_mode


def _candidates(k: int, granularity: str = "weight") -> tuple[list[Masks], list[Scores]]:
    sizes = {"a.weight": (16, 9), "b.weight": (32, 9), "c.weight": (8, 9)} if granularity == "weight" else \
        {"a.weight": (16,), "b.weight": (32,), "c.weight": (8,)}
    scores = [Scores({n: torch.rand(s, generator=torch.Generator().manual_seed(10 * i + j))
                      for j, (n, s) in enumerate(sizes.items())}, granularity=granularity) for i in range(k)]
    alloc = allocate(scores[0], 0.6, mode="layered")
    return [make_masks(s, alloc) for s in scores], scores


def test_registry_is_strict() -> None:
    assert list_merge_modes() == ["intersection-first", "majority", "weighted"]
    with pytest.raises(ValueError, match="already registered"):
        register_merge_mode("weighted")(lambda v, a, s: v.mean(0))
    with pytest.raises(KeyError, match="weighted"):
        get_merge_mode("weightd")
    with pytest.raises(KeyError, match="unknown merge mode"):
        merge_masks(_candidates(2)[0], mode="union")


@pytest.mark.parametrize("mode", ["weighted", "majority", "intersection-first"])
@pytest.mark.parametrize("granularity", ["weight", "filter"])
@pytest.mark.parametrize("with_scores", [False, True])
def test_every_mode_keeps_each_layers_budget(mode, granularity, with_scores) -> None:
    masks, scores = _candidates(3, granularity)
    merged = merge_masks(masks, weights=[0.5, 0.3, 0.2], mode=mode, scores=scores if with_scores else None)
    assert merged.granularity == granularity
    for n in masks[0]:
        assert int(merged[n].sum()) == int(masks[0][n].sum()), n
        assert merged[n].shape == masks[0][n].shape


def test_weighted_vote_prefers_the_heavier_mask() -> None:
    a = Masks({"w": torch.tensor([True, True, False, False])})
    b = Masks({"w": torch.tensor([False, False, True, True])})
    assert merge_masks([a, b], weights=[0.7, 0.3])["w"].tolist() == [True, True, False, False]
    assert merge_masks([a, b], weights=[0.2, 0.8])["w"].tolist() == [False, False, True, True]


def test_majority_counts_masks_not_weights() -> None:
    strong = Masks({"w": torch.tensor([True, False, False, True])})
    weak1 = Masks({"w": torch.tensor([False, True, False, True])})
    weak2 = Masks({"w": torch.tensor([False, True, True, False])})
    w = [0.6, 0.2, 0.2]
    assert merge_masks([strong, weak1, weak2], w, mode="weighted")["w"].tolist() == [True, False, False, True]
    assert merge_masks([strong, weak1, weak2], w, mode="majority")["w"].tolist() == [False, True, False, True]


def test_intersection_first_then_scores() -> None:
    a = Masks({"w": torch.tensor([True, True, False, False, True, False])})
    b = Masks({"w": torch.tensor([True, False, True, False, False, True])})
    sa = {"w": torch.tensor([5.0, 4.0, 0.0, 9.0, 1.0, 0.0])}
    sb = {"w": torch.tensor([5.0, 0.0, 1.0, 9.0, 0.0, 2.0])}
    merged = merge_masks([a, b], mode="intersection-first", scores=[sa, sb])["w"].tolist()
    # Unit 0 is in both masks; the fill then goes by mean normalised score, not by votes:
    # unit 3 (mean 1.0) and unit 1 (2/9) beat the voted units 2, 4, 5 (1/18, 1/18, 1/9).
    assert merged == [True, True, False, True, False, False]
    weighted = merge_masks([a, b], mode="weighted", scores=[sa, sb])["w"].tolist()
    assert weighted[0] and not weighted[3] and sum(weighted) == 3


def test_scores_only_break_ties() -> None:
    a = Masks({"w": torch.tensor([True, False, True, False])})
    b = Masks({"w": torch.tensor([False, True, True, False])})
    s = {"w": torch.tensor([0.0, 1.0, 0.5, 100.0])}
    merged = merge_masks([a, b], scores=[s, s])["w"].tolist()
    assert merged == [False, True, True, False]   # unit 3 has the top score but no vote


def test_inputs_are_checked() -> None:
    masks, scores = _candidates(2)
    with pytest.raises(ValueError, match="one weight per mask"):
        merge_masks(masks, weights=[1.0])
    with pytest.raises(ValueError, match="non-negative"):
        merge_masks(masks, weights=[1.0, -1.0])
    with pytest.raises(ValueError, match="not all zero"):
        merge_masks(masks, weights=[0.0, 0.0])
    with pytest.raises(ValueError, match="one Scores per mask"):
        merge_masks(masks, scores=scores[:1])
    other = Masks({k: v for k, v in masks[1].items() if k != "c.weight"})
    with pytest.raises(ValueError, match="different layers"):
        merge_masks([masks[0], other])
    with pytest.raises(ValueError, match="shape mismatch"):
        merge_masks([Masks({"w": torch.ones(3, dtype=torch.bool)}), Masks({"w": torch.ones(4, dtype=torch.bool)})])
    with pytest.raises(ValueError, match="filter"):
        merge_masks([Masks({"w": torch.ones(3, dtype=torch.bool)}), Masks({"w": torch.ones(3, dtype=torch.bool)}, "filter")])
    with pytest.raises(ValueError, match="at least one"):
        merge_masks([])


def test_single_candidate_and_custom_mode() -> None:
    masks, _ = _candidates(1)
    assert merge_masks(masks).equal(masks[0])
    flipped = merge_masks(_candidates(2)[0], mode=lambda votes, alpha, shat: -(alpha @ votes))
    assert flipped.meta["merge"]["mode"] == "<lambda>"


def test_merge_candidates_by_name_equals_merge_masks_and_reports_alpha_and_best() -> None:
    from labkit.pruning import merge_candidates

    masks, scores = _candidates(3)
    names = ["ce", "ldam", "bs"]
    r = merge_candidates(dict(zip(names, masks)), [1.0, 3.0, 1.0], scores=dict(zip(names, scores)))
    assert r.alpha == {"ce": 0.2, "ldam": 0.6, "bs": 0.2} and r.best == "ldam"
    assert r.merged.equal(merge_masks(masks, weights=[0.2, 0.6, 0.2], scores=scores))
    assert r.merged.meta["merge_alpha"] == r.alpha and r.merged.meta["best"] == "ldam"
    by_name = merge_candidates(dict(zip(names, masks)), {"bs": 1.0, "ce": 1.0, "ldam": 3.0})
    assert by_name.alpha == r.alpha
    equal = merge_candidates(dict(zip(names, masks)))
    assert list(equal.alpha.values()) == pytest.approx([1 / 3] * 3) and equal.best == "ce"  # first on a tie
    soft = [0.2, 0.30000000000000004, 0.5]  # already sums to 1: kept as given, not divided again
    assert list(merge_candidates(dict(zip(names, masks)), soft).alpha.values()) == soft
    with pytest.raises(ValueError, match="3 non-negative numbers"):
        merge_candidates(dict(zip(names, masks)), [1.0, -1.0, 1.0])
    with pytest.raises(KeyError, match="no weight"):
        merge_candidates(dict(zip(names, masks)), {"ce": 1.0})
    with pytest.raises(ValueError, match="at least one"):
        merge_candidates({})


def test_overlap_matrix_is_the_pooled_jaccard_of_every_pair() -> None:
    from labkit.pruning import overlap_matrix

    a = Masks({"w": torch.tensor([True, True, False, False]), "v": torch.tensor([True, False])})
    b = Masks({"w": torch.tensor([True, False, True, False]), "v": torch.tensor([True, False])})
    m = overlap_matrix({"a": a, "b": b})
    assert list(m.index) == list(m.columns) == ["a", "b"]
    assert m.loc["a", "a"] == 1.0 and m.loc["a", "b"] == m.loc["b", "a"] == pytest.approx(2 / 4)  # |{w0, v0}| / 4
