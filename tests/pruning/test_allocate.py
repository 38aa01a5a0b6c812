"""Allocation modes: budgets, the layered profile (docs/methods.md §1.3), constraints and warnings."""
from __future__ import annotations

import warnings

import pytest
import torch

from labkit.criteria import Scores, score
from labkit.models import load_model
from labkit.pruning import AllocationWarning, allocate, make_masks


def _scores(sizes: list[int], granularity: str = "weight", seed: int = 0) -> Scores:
    g = torch.Generator().manual_seed(seed)
    return Scores({f"l{i}.weight": torch.rand(n, generator=g) for i, n in enumerate(sizes)},
                  granularity=granularity)


@pytest.fixture(scope="module")
def resnet20_scores() -> dict[str, Scores]:
    torch.manual_seed(0)
    m = load_model("resnet20", num_classes=10, in_channels=1)
    return {g: score(m, "magnitude", granularity=g) for g in ("weight", "filter")}


def test_uniform_rounds_each_layer() -> None:
    sc = _scores([10, 7, 3])
    alloc = allocate(sc, 0.5, mode="uniform")
    assert [round(s * n) for s, n in zip(alloc.values(), (10, 7, 3))] == [5, 4, 2]   # round(3.5) = 4 (half-even)
    assert alloc.meta["mode"] == "uniform"


@pytest.mark.parametrize("granularity", ["weight", "filter"])
@pytest.mark.parametrize("target", [0.2, 0.5, 0.8])
@pytest.mark.parametrize("delta", [0.0, 0.5, -0.5, 0.9])
def test_layered_meets_target_within_half_a_percent(resnet20_scores, granularity, target, delta) -> None:
    sc = resnet20_scores[granularity]
    with warnings.catch_warnings():
        warnings.simplefilter("error", AllocationWarning)
        masks = make_masks(sc, allocate(sc, target, mode="layered", depth_bias=delta))
    assert abs(masks.sparsity - target) <= 0.005


def test_layered_profile_follows_depth() -> None:
    sc = _scores([1000] * 5)
    alloc = list(allocate(sc, 0.4, mode="layered", depth_bias=0.5).values())
    assert alloc == pytest.approx([0.6, 0.5, 0.4, 0.3, 0.2], abs=1e-3)     # c * (1.5, 1.25, 1, .75, .5)
    assert allocate(sc, 0.4, mode="layered", depth_bias=0.0) == allocate(sc, 0.4, mode="uniform")
    deep_first = list(allocate(sc, 0.4, mode="layered", depth_bias=-0.5).values())
    assert deep_first[0] < deep_first[-1]


def test_layered_caps_at_s_max_and_redistributes() -> None:
    sc = _scores([100, 100, 100])
    alloc = allocate(sc, 0.7, mode="layered", depth_bias=0.9, s_max=0.8)
    assert max(alloc.values()) <= 0.8 + 1e-9
    assert sum(s * 100 for s in alloc.values()) == pytest.approx(210)


def test_infeasible_target_warns_and_returns_the_closest() -> None:
    sc = _scores([100, 100])
    with pytest.warns(AllocationWarning, match="infeasible"):
        alloc = allocate(sc, 0.97, mode="layered", s_max=0.95)
    assert list(alloc.values()) == [0.95, 0.95]
    with pytest.warns(AllocationWarning, match="infeasible"):
        allocate(_scores([20, 20], "filter"), 0.95, mode="global")   # filters keep >= 10% per layer


def test_global_without_normalisation_is_one_threshold() -> None:
    sc = Scores({"a": torch.tensor([1.0, 2.0, 3.0, 4.0]), "b": torch.tensor([10.0, 20.0, 30.0, 40.0])})
    assert allocate(sc, 0.5, mode="global", min_keep=1) == {"a": 0.75, "b": 0.25}


@pytest.mark.parametrize("how", ["l2", "minmax", "mean"])
def test_normalisation_makes_scales_comparable(how: str) -> None:
    # b is a scaled copy of a: after any normalisation both layers lose the same share.
    a = torch.rand(50, generator=torch.Generator().manual_seed(0))
    sc = Scores({"a": a, "b": a * 100 + (0 if how != "minmax" else 7)}, granularity="filter")
    alloc = allocate(sc, 0.4, mode="global", normalize=how)
    assert alloc["a"] == pytest.approx(alloc["b"], abs=0.021) and alloc.meta["normalize"] == how


def test_min_keep_default_protects_filter_layers() -> None:
    sc = Scores({"thin": torch.full((20,), 0.01), "wide": torch.rand(200) + 1}, granularity="filter")
    alloc = allocate(sc, 0.3, mode="global")
    assert round((1 - alloc["thin"]) * 20) == 2            # max(1, ceil(0.1 * 20)) filters survive
    assert sum(round(s * n) for s, n in zip(alloc.values(), (20, 200))) == 66   # target still met
    assert round((1 - allocate(sc, 0.3, mode="global", min_keep=5)["thin"]) * 20) == 5
    with pytest.raises(ValueError, match="min_keep"):
        allocate(sc, 0.3, min_keep=0)


def test_protect_keeps_layers_dense_and_rescales_the_rest() -> None:
    sc = _scores([100, 100, 100, 100])
    for mode in ("global", "uniform", "layered"):
        alloc = allocate(sc, 0.3, mode=mode, protect=["l3"])
        assert alloc["l3.weight"] == 0
        assert sum(alloc.values()) * 100 == pytest.approx(120)
    with pytest.raises(KeyError, match="matches no scored layer"):
        allocate(sc, 0.3, protect=["layer9"])


def test_explicit_dict() -> None:
    sc = _scores([10, 10])
    assert allocate(sc, {"l0.weight": 0.3}) == {"l0.weight": 0.3, "l1.weight": 0.0}
    assert allocate(sc, mode={"l1.weight": 0.5})["l1.weight"] == 0.5
    with pytest.raises(ValueError, match="drop sparsity"):
        allocate(sc, 0.5, mode={"l1.weight": 0.5})
    with pytest.raises(KeyError, match="unknown layer"):
        allocate(sc, {"fc.weight": 0.3})
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        allocate(sc, {"l0.weight": 1.2})
    with pytest.warns(AllocationWarning, match="clipped"):
        allocate(_scores([10], "filter"), {"l0.weight": 0.95})


def test_bad_arguments() -> None:
    sc = _scores([10, 10])
    with pytest.raises(ValueError, match="mode must be"):
        allocate(sc, 0.5, mode="erk")
    with pytest.raises(ValueError, match="normalize must be"):
        allocate(sc, 0.5, normalize="z")
    with pytest.raises(ValueError, match="needs a target"):
        allocate(sc, mode="uniform")
    for bad in (1.0, -0.5, 30):
        with pytest.raises(ValueError, match=r"\[0, 1\)"):
            allocate(sc, bad)
    with pytest.raises(ValueError, match="empty"):
        allocate({}, 0.5)


def test_zero_sparsity_prunes_nothing() -> None:
    for mode in ("global", "uniform", "layered"):
        assert set(allocate(_scores([10, 30]), 0.0, mode=mode).values()) == {0.0}
