"""DOMINOS criteria: R against numpy's Pearson correlation, D against the influence module, I's formula,
and the registry contract (shapes, determinism, a switched-off channel scores lowest)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import labkit.criteria.dominos as dom
from labkit.criteria.influence import domino_scores, fit_weibull, influence_curves
from labkit.criteria import get_criterion, list_criteria, score
from labkit.pruning import Masks, apply_masks

LAYERS = ["3.weight", "6.weight", "11.weight"]
NAMES = ["representativeness", "domino", "dominos"]


def _oracle_r(feats: np.ndarray, top_m: int = 1) -> np.ndarray:
    """R from numpy's corrcoef, dead channels -> 0, by a plain loop."""
    C = feats.shape[1]
    alive = feats.std(axis=0) > 1e-9
    rho = np.zeros((C, C))
    idx = np.flatnonzero(alive)
    if len(idx):
        rho[np.ix_(idx, idx)] = np.corrcoef(feats[:, idx].T)
    out = np.zeros(C)
    for i in idx:
        others = sorted((abs(rho[i, j]) for j in idx if j != i), reverse=True)
        out[i] = 1.0 - np.mean(others[:top_m]) if others else 1.0
    return out


def test_registered_as_filter_criteria_that_need_data():
    assert set(NAMES) <= set(list_criteria(granularity="filter", needs_data=True))
    assert not set(NAMES) & set(list_criteria(granularity="weight"))
    assert all(get_criterion(n).summary.startswith("[inferred]") for n in NAMES)


@pytest.mark.parametrize("top_m", [1, 3])
def test_representativeness_matches_numpy_pearson(top_m):
    rng = np.random.default_rng(0)
    base = rng.normal(size=(500, 4))
    feats = np.concatenate([base, base[:, :2] @ rng.normal(size=(2, 2)) + 0.3 * rng.normal(size=(500, 2)),
                            np.zeros((500, 1))], axis=1)  # 2 channels mixed from others, 1 dead
    got = dom.representativeness_from_features(torch.tensor(feats, dtype=torch.float32), top_m=top_m)
    np.testing.assert_allclose(got.numpy(), _oracle_r(feats, top_m), atol=1e-5)
    assert got[-1] == 0.0


def test_copies_are_redundant_and_raw_cosine_would_not_say_so():
    rng = np.random.default_rng(1)
    a = np.abs(rng.normal(size=(300, 1)))                # non-negative like ReLU maps
    b = np.abs(rng.normal(size=(300, 1)))                # independent of a
    feats = torch.tensor(np.concatenate([a, 2 * a + 1, b], axis=1), dtype=torch.float32)
    R = dom.representativeness_from_features(feats)
    assert R[0] < 1e-6 and R[1] < 1e-6 and R[2] > 0.8   # Pearson: b is unique
    cos = float(torch.nn.functional.cosine_similarity(feats[:, 0], feats[:, 2], dim=0))
    assert cos > 0.5  # raw cosine of independent half-normals is about 2/pi = 0.64: "similar" 


def test_representativeness_criterion_equals_the_oracle_on_hooked_maps(net, data):
    x, _ = data
    sc = score(net, "representativeness", data=data, granularity="filter")
    feats = {}
    hook = net[7].register_forward_hook(lambda _m, _i, o: feats.__setitem__("a", torch.relu(o)))
    with torch.no_grad():
        net(x)
    hook.remove()
    f = feats["a"].movedim(1, -1).reshape(-1, 16).double().numpy()
    np.testing.assert_allclose(sc["6.weight"].numpy(), _oracle_r(f), atol=1e-5)
    capped = score(net, "representativeness", data=data, granularity="filter", max_items=10)
    assert not torch.allclose(capped["6.weight"], sc["6.weight"])  # only the first 10 items were used


def test_domino_criterion_is_the_influence_module_score(net, data):
    x, _ = data
    sc = score(net, "domino", data=data, granularity="filter", max_items=16)
    curves = influence_curves(net, x[:16], layers=LAYERS)
    for n in LAYERS:
        want = domino_scores(curves.deltas[n], fit_weibull(curves.survival(n)), depths=curves.depths[n])
        torch.testing.assert_close(sc[n], want)
    assert sc.meta == {"criterion": "domino", "granularity": "filter", "max_items": 16}


def test_dominos_combines_r_and_normalised_d(net, data):
    R = score(net, "representativeness", data=data, granularity="filter")
    D = score(net, "domino", data=data, granularity="filter")
    for alpha in (0.0, 0.5, 1.0):
        I = score(net, "dominos", data=data, granularity="filter", alpha=alpha)
        for n in LAYERS:
            Dh = D[n] / D[n].max()
            torch.testing.assert_close(I[n], R[n] ** alpha * Dh ** (1 - alpha))
    with pytest.raises(ValueError, match="alpha"):
        dom.combine_importance(R, D, alpha=1.5)
    with pytest.raises(KeyError, match="different layers"):
        dom.combine_importance(R, {"3.weight": D["3.weight"]})


@pytest.mark.parametrize("name", NAMES)
def test_contract(name, net, data):
    before = {k: v.clone() for k, v in net.state_dict().items()}
    a = score(net, name, data=data, granularity="filter")
    b = score(net, name, data=data, granularity="filter")
    assert list(a) == LAYERS
    for n in LAYERS:
        assert a[n].shape == (net.get_parameter(n).shape[0],) and a[n].dtype == torch.float32
        assert bool(torch.isfinite(a[n]).all()) and bool((a[n] >= 0).all())
        assert torch.equal(a[n], b[n])
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items()) and not net.training
    with pytest.raises(ValueError, match="granularity"):
        score(net, name, data=data, granularity="weight")
    with pytest.raises(ValueError, match="data"):
        score(net, name, granularity="filter")


@pytest.mark.parametrize("name", NAMES)
def test_switched_off_channel_scores_lowest(name, net, data):
    keep = torch.ones(16, dtype=torch.bool)
    keep[[2, 9]] = False
    dead = apply_masks(net, Masks({"6.weight": keep}, "filter"))
    sc = score(dead, name, data=data, granularity="filter")["6.weight"]
    assert float(sc[~keep].max()) == 0.0 and float(sc[~keep].max()) <= float(sc[keep].min())
