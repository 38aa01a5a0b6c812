"""Resumable training state as one safetensors container: model + optimizer tensors, JSON metadata.

``torch.save`` of an optimizer pickles it, and unpickling runs code from the file. Here the
optimizer ``state_dict`` is *flattened*: every tensor (Adam's ``exp_avg``, SGD's
``momentum_buffer``, ...) becomes a safetensors entry named ``optim.state.<param id>.<key>``,
and everything else (hyper-parameters of each param group, non-tensor state) goes into JSON
metadata beside the epoch, the run config, the seed, the training history and library versions.

The file is a :mod:`labkit.io` container of kind ``"train-state"`` (meta ``{"meta": ...,
"optimizer": ...}``), so writes are atomic (a crash mid-write leaves the previous checkpoint
intact) and a changed or truncated file is refused on resume.

Example:
    >>> net = nn.Linear(2, 2); opt = torch.optim.Adam(net.parameters())
    >>> net(torch.ones(1, 2)).sum().backward(); opt.step()
    >>> save_train_state("/tmp/run.safetensors", net, opt, {"epoch": 1})  # doctest: +SKIP
    >>> state = load_train_state("/tmp/run.safetensors")                 # doctest: +SKIP
    >>> opt.load_state_dict(state.optimizer); state.meta["epoch"]        # doctest: +SKIP
    1
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..io import load_container, save_container

__all__ = ["TrainState", "save_train_state", "load_train_state",
           "flatten_optimizer_state", "unflatten_optimizer_state"]

_MODEL, _OPTIM = "model.", "optim.state."


@dataclass
class TrainState:
    """What :func:`load_train_state` returns: ``model`` and ``optimizer`` state dicts, and ``meta``."""

    model: dict[str, Tensor]
    optimizer: dict[str, Any]
    meta: dict[str, Any]


def flatten_optimizer_state(state_dict: dict[str, Any]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Split an optimizer ``state_dict`` into named tensors and a JSON-able remainder."""
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, st in state_dict["state"].items():
        for key, value in st.items():
            if isinstance(value, Tensor):
                tensors[f"{_OPTIM}{int(pid)}.{key}"] = value.detach().cpu().clone()
            elif value is None or isinstance(value, (bool, int, float, str)):
                scalars.setdefault(str(int(pid)), {})[key] = value
            else:
                raise TypeError(f"optimizer state {key!r} of parameter {pid} is a "
                                f"{type(value).__name__}; only tensors and numbers can be saved")
    groups = []
    for group in state_dict["param_groups"]:
        for key, value in group.items():
            if isinstance(value, Tensor):
                raise TypeError(f"optimizer param-group option {key!r} is a tensor; create the "
                                "optimizer with plain-number hyper-parameters to checkpoint it")
        groups.append(dict(group))
    return tensors, {"param_groups": groups, "scalars": scalars}


def unflatten_optimizer_state(tensors: dict[str, Tensor], rest: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`flatten_optimizer_state` (JSON lists of hyper-parameters become tuples)."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith(_OPTIM):
            pid, key = name[len(_OPTIM):].split(".", 1)
            state.setdefault(int(pid), {})[key] = value
    for pid, st in rest.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(st)
    groups = [{k: (tuple(v) if isinstance(v, list) and k != "params" else v) for k, v in g.items()}
              for g in rest["param_groups"]]
    return {"state": state, "param_groups": groups}


def save_train_state(path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer,
                     meta: dict[str, Any]) -> Path:
    """Atomically write model + optimizer state and JSON ``meta`` to ``path`` (safetensors)."""
    tensors = {f"{_MODEL}{k}": v for k, v in model.state_dict().items()}
    opt_tensors, opt_rest = flatten_optimizer_state(optimizer.state_dict())
    tensors.update(opt_tensors)
    return save_container(path, tensors, kind="train-state", meta={"meta": meta, "optimizer": opt_rest})


def load_train_state(path: str | os.PathLike) -> TrainState:
    """Read a file written by :func:`save_train_state` (never unpickles).

    Raises:
        labkit.io.ContainerError: missing (also a ``FileNotFoundError``), truncated, corrupted,
            or another kind of file (a model checkpoint: load it with labkit.models instead).
    """
    tensors, info = load_container(path, kind="train-state")
    model = {k[len(_MODEL):]: v for k, v in tensors.items() if k.startswith(_MODEL)}
    optimizer = unflatten_optimizer_state(tensors, info["optimizer"])
    return TrainState(model=model, optimizer=optimizer, meta=info["meta"])
