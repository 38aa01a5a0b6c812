"""The search contract: strict registry, typed options built by name, the shared moves."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest
import torch
from torch import nn

from labkit.pruning.rescue import (GAOptions, PSOOptions, SearchOptions, get_search, list_searches, register_search,
                                   rescue, search_options)
from labkit._registry import Registry
from labkit.pruning.rescue import search as search_module
from labkit.pruning.rescue.search import Found, sample_members, swap_members, top_members


def test_options_by_name_are_typed_and_strict() -> None:
    assert search_options("ga", generations=5) == GAOptions(generations=5)
    assert search_options("pso") == PSOOptions()
    with pytest.raises(TypeError, match="population"):
        search_options("sa", population=3)  # SA's settings are steps and cooling
    with pytest.raises(KeyError, match="ga"):
        search_options("gaa")


def test_options_check_their_values() -> None:
    with pytest.raises(ValueError, match="elite"):
        GAOptions(population=4, elite=0)
    with pytest.raises(ValueError, match="init"):
        GAOptions(init="greedy")
    with pytest.raises(ValueError, match="population"):
        PSOOptions(population=0)


def test_registry_is_strict_and_every_search_knows_its_options() -> None:
    for name in list_searches():
        s = get_search(name)
        assert s.name == name and s.Options.search == name
    with pytest.raises(ValueError, match="already registered"):
        register_search(get_search("ga"))


def test_a_new_search_plugs_in(monkeypatch) -> None:
    registry = Registry("rescue search")
    for name in list_searches():
        registry.add(name, get_search(name))
    monkeypatch.setattr(search_module, "_SEARCHES", registry)  # the plug-in leaves the real registry alone

    @dataclass(frozen=True)
    class LastOptions(SearchOptions):
        search: ClassVar[str] = "test_last_members"

    class Last:
        name, Options = "test_last_members", LastOptions

        def search(self, problem, options, gen, progress=False) -> Found:
            return Found([torch.arange(len(s.pool) - s.budget, len(s.pool)) for s in problem.segments], [])

    register_search(Last())
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2)).eval()
    x, y = torch.randn(20, 4), torch.randint(0, 2, (20,))
    res = rescue(net, (x, y), 0.5, LastOptions(), rho=0.5)
    w = net[2].weight.detach().abs().reshape(-1)
    rescued = w[res.rescued["2.weight"].reshape(-1)]
    pruned = w[~res.masks["2.weight"].reshape(-1)]
    assert float(rescued.max()) <= float(pruned.min()), "it rescued the smallest weights of the pool"
    assert len(res.history) == 1  # an empty history becomes the final loss


def test_shared_moves() -> None:
    g = torch.Generator().manual_seed(0)
    picked = sample_members(10, 4, g)
    assert len(set(picked.tolist())) == 4 and int(picked.max()) < 10
    weighted = sample_members(5, 2, g, torch.tensor([0.0, 0.0, 1.0, 0.0, 1.0]))
    assert sorted(weighted.tolist()) == [2, 4]
    assert top_members(torch.tensor([0.1, 0.9, 0.5, 0.9]), 2).tolist() == [1, 3]
    chosen = torch.tensor([0, 1, 2])
    new = swap_members(chosen, 6, 2, g)
    assert len(set(new.tolist())) == 3 and len(set(new.tolist()) & {0, 1, 2}) == 1
    assert torch.equal(chosen, torch.tensor([0, 1, 2])), "the input is not changed"
