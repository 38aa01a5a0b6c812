"""Head surgery: a copy of a model with its classifier (the last ``nn.Linear``) replaced.

Transfer learning puts a fresh head on a pretrained body (docs/methods.md §4.3 step 4:
:func:`with_new_head`); a long-tail trainer swaps the linear head for a cosine one
(:func:`labkit.training.heads.with_normed_head`). Both are :func:`replace_head` with another
``make``. The model passed in is never changed: the surgery happens on a deep copy.

Example:
    >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    >>> new = with_new_head(net, 5, seed=0)
    >>> new[2].out_features, net[2].out_features
    (5, 3)
"""
from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

__all__ = ["linear_layers", "replace_head", "with_new_head"]


def linear_layers(model: nn.Module) -> list[str]:
    """Names of the model's ``nn.Linear`` modules in definition order (``""`` if the model is one)."""
    return [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]


def replace_head(model: nn.Module, make: Callable[[nn.Linear], nn.Module], name: str | None = None) -> nn.Module:
    """A deep copy of ``model`` whose head ``name`` (default: the last ``nn.Linear``) is ``make(old_head)``.

    ``make`` receives the copy's old head (so it may read its sizes, device and weights, or
    return it unchanged). If the model is itself the linear layer, the result is ``make(copy)``.

    Raises:
        ValueError: the model has no ``nn.Linear``.
        KeyError: ``name`` is not one of its linear layers.
    """
    linears = linear_layers(model)
    if not linears:
        raise ValueError("the model has no nn.Linear classifier to replace; found none")
    target = name if name is not None else linears[-1]
    if target not in linears:
        raise KeyError(f"{target!r} is not an nn.Linear of the model; linear layers: {linears}")
    new = copy.deepcopy(model)
    head = make(new.get_submodule(target))  # type: ignore[arg-type]
    if target == "":  # the model is itself the linear layer
        return head
    parent_name, _, attr = target.rpartition(".")
    setattr(new.get_submodule(parent_name) if parent_name else new, attr, head)
    return new


def with_new_head(model: nn.Module, num_classes: int, seed: int = 0) -> nn.Module:
    """A copy of ``model`` whose last ``nn.Linear`` is a fresh ``Linear(in, num_classes)``.

    The new head is drawn after ``torch.manual_seed(seed)`` (PyTorch's default init), on the old
    head's device: the same ``seed`` gives the same head.
    """
    def make(old: nn.Linear) -> nn.Module:
        torch.manual_seed(seed)
        return nn.Linear(old.in_features, num_classes).to(old.weight.device)

    return replace_head(model, make)
