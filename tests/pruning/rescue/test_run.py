"""rescue (docs/methods.md §3.1): budgets, the magnitude oracle, the GA's seeding guarantee, every search."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from labkit.criteria import score
from labkit.pruning import allocate, make_masks
from labkit.pruning.rescue import (GAOptions, MagnitudeOptions, PSOOptions, RandomOptions, SAOptions, STEOptions,
                                   TaylorOptions, WandaOptions, list_searches, rescue)

LAYERS = ["0.weight", "2.weight", "4.weight"]  # an MLP: no first conv to exclude


def make_mlp(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 24), nn.ReLU(), nn.Linear(24, 24), nn.ReLU(), nn.Linear(24, 16), nn.ReLU(),
                         nn.Linear(16, 4)).eval()


def make_data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(100 + seed)
    x = torch.randn(96, 8, generator=g)
    return x, (x[:, 0] + x[:, 1] > 0).long() + 2 * (x[:, 2] > 0).long()


@pytest.mark.parametrize("seed", range(5))
def test_ga_best_calibration_loss_never_worse_than_magnitude(seed: int) -> None:
    net, data = make_mlp(seed), make_data(seed)
    res = rescue(net, data, 0.85, GAOptions(population=8, generations=6, elite=2), seed=seed)
    assert res.loss <= res.magnitude_loss + 1e-7
    best = res.history["best_fitness"].to_numpy()
    assert (best[1:] >= best[:-1] - 1e-9).all(), "elitism: the best fitness never drops"
    assert best[0] >= -res.magnitude_loss - 1e-7 and math.isclose(best[-1], -res.loss, rel_tol=1e-5)


@pytest.mark.parametrize("options", [SAOptions(steps=60), STEOptions(steps=20),
                                     PSOOptions(population=8, generations=6)], ids=["sa", "ste", "pso"])
def test_alternatives_start_from_magnitude_and_never_end_worse(options) -> None:
    net, data = make_mlp(), make_data()
    res = rescue(net, data, 0.85, options, seed=1)
    assert res.loss <= res.magnitude_loss + 1e-7
    assert list(res.history.columns) == ["generation", "best_fitness", "mean_fitness"]


SMALL = {"magnitude": MagnitudeOptions(), "random": RandomOptions(), "wanda": WandaOptions(), "taylor": TaylorOptions(),
         "ga": GAOptions(population=6, generations=2, elite=2), "sa": SAOptions(steps=10), "ste": STEOptions(steps=3),
         "pso": PSOOptions(population=6, generations=2)}


def test_every_registered_search_is_tested() -> None:
    assert sorted(SMALL) == list_searches()


@pytest.mark.parametrize("method", sorted(SMALL))
def test_every_method_keeps_the_budget_per_layer(method: str) -> None:
    net, data = make_mlp(), make_data()
    s, rho = 0.8, 0.25
    res = rescue(net, data, s, SMALL[method], rho=rho)
    assert res.method == method and res.masks.meta["method"] == method
    assert list(res.masks) == LAYERS
    for n in LAYERS:
        w = net.get_parameter(n).detach().abs().reshape(-1)
        k = w.numel() - round(s * w.numel())
        b = math.floor(rho * k)
        large, rescued = res.large[n].reshape(-1), res.rescued[n].reshape(-1)
        assert int(res.masks[n].sum()) == k and int(rescued.sum()) == b and int(large.sum()) == k - b
        assert not bool((large & rescued).any())
        assert torch.equal(res.masks[n].reshape(-1), large | rescued)
        assert float(w[large].min()) >= float(w[~large].max()), "the large set is the top-L by |w|"
        assert res.threshold[n] == pytest.approx(float(w[large].min()))


def test_pso_is_seeded_and_its_best_fitness_never_drops() -> None:
    net, data = make_mlp(), make_data()
    a = rescue(net, data, 0.85, PSOOptions(population=6, generations=5), seed=3)
    b = rescue(net, data, 0.85, PSOOptions(population=6, generations=5), seed=3)
    assert all(torch.equal(a.masks[n], b.masks[n]) for n in a.masks) and a.loss == b.loss
    best = a.history["best_fitness"].to_numpy()
    assert len(best) == 6 and (best[1:] >= best[:-1] - 1e-12).all()
    assert best[0] >= -a.magnitude_loss - 1e-7  # particle 0 starts at the magnitude solution


def test_magnitude_method_equals_the_engine_s_uniform_magnitude_masks() -> None:
    net, data = make_mlp(), make_data()
    sc = score(net, "magnitude", granularity="weight")
    oracle = make_masks(sc, allocate(sc, 0.7, mode="uniform"))
    assert rescue(net, data, 0.7, "magnitude").masks.equal(oracle)


@pytest.mark.parametrize("scope,mode", [("layer", {"mode": "uniform"}),
                                        ("global", {"mode": "global", "normalize": "none"})])
def test_scores_give_back_the_masks_through_the_engine(scope: str, mode: dict) -> None:
    net, data = make_mlp(), make_data()
    res = rescue(net, data, 0.75, GAOptions(population=6, generations=2, elite=2), scope=scope)
    sc = res.scores()
    assert make_masks(sc, allocate(sc, 0.75, **mode)).equal(res.masks)


def test_band_pool_only_rescues_the_next_gamma_b_weights() -> None:
    net, data = make_mlp(), make_data()
    res = rescue(net, data, 0.8, "random", rho=0.2, pool="band", gamma=2.0, seed=0)
    for n in LAYERS:
        w = net.get_parameter(n).detach().abs().reshape(-1)
        order = torch.argsort(w, descending=True, stable=True)
        k = w.numel() - round(0.8 * w.numel())
        b = math.floor(0.2 * k)
        band = set(order[k - b:k - b + 2 * b].tolist())
        assert set(torch.nonzero(res.rescued[n].reshape(-1)).reshape(-1).tolist()) <= band


def test_random_rescue_differs_from_magnitude_and_is_seeded() -> None:
    net, data = make_mlp(), make_data()
    a, b = (rescue(net, data, 0.8, "random", seed=s) for s in (4, 4))
    assert a.masks.equal(b.masks)
    assert not a.masks.equal(rescue(net, data, 0.8, "magnitude").masks)


def test_bad_inputs_name_the_fix() -> None:
    net, data = make_mlp(), make_data()
    with pytest.raises(ValueError, match="rho"):
        rescue(net, data, 0.8, rho=1.5)
    with pytest.raises(ValueError, match="fraction"):
        rescue(net, data, 80)
    with pytest.raises(KeyError):
        rescue(net, data, 0.8, "bpso")
    with pytest.raises(ValueError, match="elite"):
        rescue(net, data, 0.8, GAOptions(population=4, elite=4))
    with pytest.raises(ValueError, match="labelled"):
        rescue(net, data[0], 0.8)
    with pytest.raises(ValueError, match="scope"):
        rescue(net, data, 0.8, scope="block")
