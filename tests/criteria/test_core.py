"""score(), the registry and data handling: every bad input gets an error that names the fix."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from labkit.criteria import Scores, get_criterion, list_criteria, register_criterion, score
from labkit.data._base import Split


def test_default_layers_exclude_first_conv_and_last_linear(net) -> None:
    assert list(score(net, "magnitude")) == ["3.weight", "6.weight", "11.weight"]
    assert list(score(net, "magnitude", exclude_first=False, exclude_last=False)) == [
        "0.weight", "3.weight", "6.weight", "11.weight", "13.weight"]
    assert list(score(net, "magnitude", layers=["6.weight"])) == ["6.weight"]


def test_unknown_criterion_suggests_close_match(net) -> None:
    with pytest.raises(KeyError, match="magnitude"):
        score(net, "magnitud")


def test_unknown_layer(net) -> None:
    with pytest.raises(KeyError, match="unknown layer.*4.weight"):
        score(net, "magnitude", layers=["4.weight"])  # a BatchNorm weight, not a conv / linear


def test_granularity_errors(net, data) -> None:
    with pytest.raises(ValueError, match="'weight' or 'filter'"):
        score(net, "magnitude", granularity="channel")
    with pytest.raises(ValueError, match="granularity='filter'"):
        score(net, "apoz", data=data, granularity="weight")


def test_nan_weights_are_refused(net) -> None:
    with torch.no_grad():
        net[3].weight[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"'3.weight' has 1 NaN/inf weights.*reload"):
        score(net, "magnitude")


@pytest.mark.parametrize("name", ["apoz", "mean_activation", "taylor", "conductance"])
def test_data_needing_criterion_without_data(name: str, net) -> None:
    with pytest.raises(ValueError, match=r"pass data=\.\.\."):
        score(net, name, granularity="filter")


def test_labels_needed_for_taylor(net, data) -> None:
    with pytest.raises(ValueError, match="needs labels"):
        score(net, "taylor", data=data[0], granularity="filter")
    assert score(net, "apoz", data=data[0], granularity="filter")["3.weight"].shape == (12,)


def test_target_selects_classes_and_rejects_absent_ones(net, data) -> None:
    x, y = data
    sub = score(net, "apoz", data=data, granularity="filter", target=[1, 3])
    manual = score(net, "apoz", data=(x[(y == 1) | (y == 3)], y[(y == 1) | (y == 3)]), granularity="filter")
    assert all(torch.equal(sub[n], manual[n]) for n in sub)
    assert sub.meta["target"] == [1, 3]
    with pytest.raises(ValueError, match="no items of classes"):
        score(net, "apoz", data=data, granularity="filter", target=7)
    with pytest.raises(ValueError, match="target must be"):
        score(net, "apoz", data=data, granularity="filter", target="few")


def test_every_data_form_gives_the_same_scores(net, data) -> None:
    x, y = data
    ref = score(net, "taylor", data=(x, y), granularity="filter")
    forms = [Split.from_tensors(x, y), DataLoader(TensorDataset(x, y), batch_size=7)]
    for form in forms:
        got = score(net, "taylor", data=form, granularity="filter", batch_size=5)
        assert all(torch.allclose(got[n], ref[n], rtol=1e-5, atol=1e-7) for n in ref)


def test_custom_criterion_callable_and_registration(net) -> None:
    def first_weight(model, layers, *, data, granularity):
        return {n: model.get_parameter(n).detach().flatten(1)[:, 0] for n in layers}

    sc = score(net, first_weight, granularity="filter")
    assert isinstance(sc, Scores) and sc.meta["criterion"] == "first_weight"
    assert torch.equal(sc["3.weight"], net[3].weight.detach()[:, 0, 0, 0])
    with pytest.raises(ValueError, match="shape"):
        score(net, first_weight, granularity="weight")  # returns (C,) where weight scores need the param shape
    with pytest.raises(ValueError, match="already registered"):
        register_criterion("magnitude")(first_weight)
    with pytest.raises(ValueError, match="granularities"):
        register_criterion("x_bad", granularities=("channel",))


def test_criterion_metadata(net) -> None:
    c = get_criterion("apoz")
    assert c.needs_data and not c.needs_labels and c.granularities == ("filter",)
    assert "Hu et al." in c.summary
    assert list_criteria() == sorted(list_criteria())
    assert score(net, "random", seed=3).meta == {"criterion": "random", "granularity": "weight", "seed": 3}


def test_mistyped_option_is_not_swallowed(net) -> None:
    with pytest.raises(TypeError, match="sed"):
        score(net, "random", sed=3)


def test_import_does_not_load_captum() -> None:
    code = "import sys, labkit.criteria, labkit.pruning; print('captum' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_empty_data_is_refused(net) -> None:
    with pytest.raises(ValueError, match="empty"):
        score(net, "apoz", data=(torch.zeros(0, 3, 8, 8), torch.zeros(0, dtype=torch.long)), granularity="filter")


def test_model_without_prunable_layers() -> None:
    with pytest.raises(ValueError, match="exclude_first=False"):
        score(nn.Sequential(nn.Conv2d(1, 2, 3)), "magnitude")
