"""The 'optimized' criterion (docs/methods.md §3.1): budgets, the magnitude oracle, the GA's seeding guarantee."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from labkit.criteria import score
from labkit.criteria.optimized import list_rescue_methods, rescue, wanda_saliency
from labkit.pruning import allocate, make_masks

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
    res = rescue(net, data, 0.85, method="ga", population=8, generations=6, elite=2, seed=seed)
    assert res.loss <= res.magnitude_loss + 1e-7
    best = res.history["best_fitness"].to_numpy()
    assert (best[1:] >= best[:-1] - 1e-9).all(), "elitism: the best fitness never drops"
    assert best[0] >= -res.magnitude_loss - 1e-7 and math.isclose(best[-1], -res.loss, rel_tol=1e-5)


@pytest.mark.parametrize("method", ["sa", "ste", "pso"])
def test_alternatives_start_from_magnitude_and_never_end_worse(method: str) -> None:
    net, data = make_mlp(), make_data()
    res = rescue(net, data, 0.85, method=method, sa_steps=60, ste_steps=20, population=8, generations=6, seed=1)
    assert res.loss <= res.magnitude_loss + 1e-7
    assert list(res.history.columns) == ["generation", "best_fitness", "mean_fitness"]


@pytest.mark.parametrize("method", sorted({"magnitude", "random", "wanda", "taylor", "ga", "sa", "ste", "pso"}))
def test_every_method_keeps_the_budget_per_layer(method: str) -> None:
    assert method in list_rescue_methods()
    net, data = make_mlp(), make_data()
    s, rho = 0.8, 0.25
    res = rescue(net, data, s, rho=rho, method=method, population=6, generations=2, elite=2, sa_steps=10,
                 ste_steps=3)
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
    a = rescue(net, data, 0.85, method="pso", population=6, generations=5, seed=3)
    b = rescue(net, data, 0.85, method="pso", population=6, generations=5, seed=3)
    assert all(torch.equal(a.masks[n], b.masks[n]) for n in a.masks) and a.loss == b.loss
    best = a.history["best_fitness"].to_numpy()
    assert len(best) == 6 and (best[1:] >= best[:-1] - 1e-12).all()
    assert best[0] >= -a.magnitude_loss - 1e-7  # particle 0 starts at the magnitude solution


def test_magnitude_method_equals_the_engine_s_uniform_magnitude_masks() -> None:
    net, data = make_mlp(), make_data()
    sc = score(net, "magnitude", granularity="weight")
    oracle = make_masks(sc, allocate(sc, 0.7, mode="uniform"))
    assert rescue(net, data, 0.7, method="magnitude").masks.equal(oracle)


@pytest.mark.parametrize("scope,mode", [("layer", {"mode": "uniform"}), ("global", {"mode": "global", "normalize": "none"})])
def test_scores_give_back_the_masks_through_the_engine(scope: str, mode: dict) -> None:
    net, data = make_mlp(), make_data()
    res = rescue(net, data, 0.75, method="ga", scope=scope, population=6, generations=2, elite=2)
    sc = res.scores()
    assert make_masks(sc, allocate(sc, 0.75, **mode)).equal(res.masks)


def test_registered_criterion_through_score() -> None:
    net, data = make_mlp(), make_data()
    sc = score(net, "optimized", data=data, sparsity=0.8, method="ga", population=6, generations=2, elite=2, seed=3)
    again = rescue(net, data, 0.8, method="ga", population=6, generations=2, elite=2, seed=3)
    assert sc.granularity == "weight" and sc.meta["criterion"] == "optimized"
    assert make_masks(sc, allocate(sc, 0.8, mode="uniform")).equal(again.masks), "same seed, same masks"


def test_band_pool_only_rescues_the_next_gamma_b_weights() -> None:
    net, data = make_mlp(), make_data()
    res = rescue(net, data, 0.8, rho=0.2, method="random", pool="band", gamma=2.0, seed=0)
    for n in LAYERS:
        w = net.get_parameter(n).detach().abs().reshape(-1)
        order = torch.argsort(w, descending=True, stable=True)
        k = w.numel() - round(0.8 * w.numel())
        b = math.floor(0.2 * k)
        band = set(order[k - b:k - b + 2 * b].tolist())
        assert set(torch.nonzero(res.rescued[n].reshape(-1)).reshape(-1).tolist()) <= band


def test_random_rescue_differs_from_magnitude_and_is_seeded() -> None:
    net, data = make_mlp(), make_data()
    a, b = (rescue(net, data, 0.8, method="random", seed=s) for s in (4, 4))
    assert a.masks.equal(b.masks)
    assert not a.masks.equal(rescue(net, data, 0.8, method="magnitude").masks)


def test_wanda_saliency_is_abs_weight_times_input_column_norm() -> None:
    net, (x, _) = make_mlp(), make_data()
    sal = wanda_saliency(net, ["2.weight"], x)["2.weight"]
    with torch.no_grad():
        inp = torch.relu(net[0](x))  # what layer 2 receives
    oracle = net[2].weight.detach().abs() * inp.norm(dim=0).view(1, -1)
    assert torch.allclose(sal, oracle, rtol=1e-5)


def test_conv_wanda_uses_the_input_channel_norm() -> None:
    torch.manual_seed(0)
    conv = nn.Sequential(nn.Conv2d(2, 3, 3))
    x = torch.randn(4, 2, 5, 5)
    sal = wanda_saliency(conv, ["0.weight"], x)["0.weight"]
    oracle = conv[0].weight.detach().abs() * x.pow(2).sum(dim=(0, 2, 3)).sqrt().view(1, -1, 1, 1)
    assert torch.allclose(sal, oracle, rtol=1e-5)


def test_bad_inputs_name_the_fix() -> None:
    net, data = make_mlp(), make_data()
    with pytest.raises(ValueError, match="rho"):
        rescue(net, data, 0.8, rho=1.5)
    with pytest.raises(ValueError, match="fraction"):
        rescue(net, data, 80)
    with pytest.raises(KeyError):
        rescue(net, data, 0.8, method="bpso")
    with pytest.raises(ValueError, match="labelled"):
        rescue(net, data[0], 0.8)
    with pytest.raises(ValueError, match="scope"):
        rescue(net, data, 0.8, scope="block")
