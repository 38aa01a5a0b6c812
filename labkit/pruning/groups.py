"""Coupled channel groups: layers whose output channels must be removed together.

In a ResNet stage every block adds its branch to the skip path, so the last conv of each block,
the downsample conv and the stem (or the previous stage) all write into *the same* channels:
channel k can only disappear from all of them at once. Torch-Pruning's ``DependencyGraph``
(Fang et al., DepGraph, CVPR 2023) traces a forward pass and finds these groups;
:func:`coupled_groups` lists them as parameter names, :func:`couple_scores` gives every member
of a group the group's shared filter score (so a uniform allocation cuts the same channels in
all of them), and :func:`~labkit.pruning.compact` uses the graph to remove channels.

Example:
    >>> import torchvision
    >>> net = torchvision.models.resnet18(num_classes=10)
    >>> groups = coupled_groups(net, torch.randn(1, 3, 32, 32))
    >>> [g for g in groups if "layer1.0.conv2.weight" in g][0][:3]
    ['conv1.weight', 'layer1.0.conv2.weight', 'layer1.1.conv2.weight']
"""
from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..criteria.scores import Scores

__all__ = ["coupled_groups", "couple_scores", "dependency_graph"]


def dependency_graph(model: nn.Module, example_inputs: Any) -> Any:
    """``torch_pruning.DependencyGraph`` of ``model`` (see :func:`labkit.pruning.coupling.dependency_graph`)."""
    from .coupling import dependency_graph as build

    return build(model, example_inputs)


def _producer_names(model: nn.Module, DG: Any, group: Any) -> list[tuple[str, list[int], list[int]]]:
    """(weight name, member idxs, root idxs) for conv / linear members whose outputs are pruned."""
    names = {m: n for n, m in model.named_modules()}
    out = []
    for item in group:
        mod = item.dep.target.module
        if isinstance(mod, (nn.Conv2d, nn.Conv1d, nn.Linear)) and DG.is_out_channel_pruning_fn(item.dep.handler):
            mname = names[mod]
            out.append((f"{mname}.weight" if mname else "weight", list(item.idxs), list(item.root_idxs)))
    return out


def coupled_groups(model: nn.Module, example_inputs: Any,
                   layers: Sequence[str] | None = None) -> list[list[str]]:
    """Groups of conv / linear weight names whose output channels are coupled, in forward order.

    A layer with free channels is a group of one. ``layers`` restricts the members listed (and
    drops groups with none of them). ``model`` is not modified (the trace runs on a copy).
    """
    work = copy.deepcopy(model)
    DG = dependency_graph(work, example_inputs)
    order = {n: i for i, (n, _) in enumerate(work.named_parameters())}
    groups = []
    for g in DG.get_all_groups(root_module_types=(nn.Conv2d, nn.Conv1d, nn.Linear)):
        members = sorted({n for n, _, _ in _producer_names(work, DG, g)}, key=lambda n: order[n])
        if layers is not None:
            members = [n for n in members if n in layers]
        if members:
            groups.append(members)
    groups.sort(key=lambda g: order[g[0]])
    return groups


def couple_scores(scores: Mapping[str, Tensor], groups: Sequence[Sequence[str]]) -> Scores:
    """Filter scores where every member of a coupled group shares the group's score.

    The shared score is the mean over members of their L2-normalised scores
    (``S_l / ||S_l||_2``, docs/methods.md §4.2), so no member dominates by its fan-in. Members must
    have the same number of channels (residual adds); groups of one are unchanged.
    """
    if getattr(scores, "granularity", "filter") != "filter":
        raise ValueError("couple_scores works on filter scores; score with granularity='filter'")
    out = Scores(dict(scores), granularity="filter", meta={**getattr(scores, "meta", {}), "coupled": True})
    for g in groups:
        members = [n for n in g if n in scores]
        if len(members) < 2:
            continue
        sizes = {scores[n].numel() for n in members}
        if len(sizes) != 1:
            raise ValueError(f"group {members} mixes channel counts {sorted(sizes)}; only residual-add groups "
                             f"(equal channels) can share scores")
        normed = [scores[n].float() / scores[n].float().norm().clamp_min(1e-12) for n in members]
        shared = torch.stack(normed).mean(dim=0)
        for n in members:
            out[n] = shared.clone()
    return out
