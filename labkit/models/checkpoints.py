"""Checkpoints as safetensors: weights + JSON metadata, sha256-checked, never unpickled.

A checkpoint is a :mod:`labkit.io` container of kind ``"checkpoint"``: the model's
``state_dict`` and a JSON object naming the registered model, the dataset (and its arguments),
``num_classes``, ``in_channels``, the training config, metrics, seed and the library versions.
Loading reads tensors only: the architecture is rebuilt from code with
:func:`labkit.models.load_model`, so a checkpoint cannot run code (ecosystem.md §C2). Files
written before the container (metadata under the ``"labkit"`` key, no digest) still load.

Shipped checkpoints live in ``labkit/models/assets/`` as ``<model>__<dataset>.safetensors``
(e.g. ``resnet20__digits-lt.safetensors``), next to ``manifest.json`` which maps each file
name to its sha256; ``load_model(name, dataset=..., pretrained=True)`` refuses a file whose
digest differs. Make one with::

    labkit train --model resnet20 --dataset digits-lt \\
        --out labkit/models/assets/resnet20__digits-lt.safetensors

Example:
    >>> from labkit.models import tiny_cnn
    >>> path = save_checkpoint(tiny_cnn(), "/tmp/tiny.safetensors", {"model": "tiny_cnn"})
    >>> state, meta = load_checkpoint(path)
    >>> meta["model"], meta["num_classes"], meta["in_channels"]
    ('tiny_cnn', 10, 1)
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..io import ContainerError, atomic_write, load_container, save_container
from .registry import list_models

__all__ = [
    "ASSETS_DIR",
    "MANIFEST_NAME",
    "CheckpointError",
    "checkpoint_path",
    "save_checkpoint",
    "load_checkpoint",
    "update_manifest",
    "read_manifest",
    "sha256_file",
    "shipped_checkpoints",
]

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
MANIFEST_NAME = "manifest.json"

PathType = str | PathLike[str]


class CheckpointError(ContainerError):
    """A checkpoint that is missing, corrupt, or belongs to another model or dataset."""


def _dir(assets_dir: PathType | None) -> Path:
    return Path(assets_dir) if assets_dir is not None else ASSETS_DIR


def checkpoint_path(model: str, dataset: str, assets_dir: PathType | None = None) -> Path:
    """``<assets_dir>/<model>__<dataset>.safetensors``, the one place a shipped checkpoint can be."""
    for what, key in (("model", model), ("dataset", dataset)):
        if not key or any(c in key for c in "/\\.") or "__" in key:
            raise ValueError(f"{what} name {key!r} cannot name a checkpoint file "
                             f"(no '/', '\\', '.' or '__' allowed)")
    return _dir(assets_dir) / f"{model}__{dataset}.safetensors"


def sha256_file(path: PathType) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _io_sizes(model: nn.Module) -> tuple[int | None, int | None]:
    """``(num_classes, in_channels)`` read off the last linear and the first conv (or linear)."""
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    linears = [m for m in layers if isinstance(m, nn.Linear)]
    num_classes = linears[-1].out_features if linears else None
    if not layers:
        return num_classes, None
    first = layers[0]
    return num_classes, first.in_channels if isinstance(first, nn.Conv2d) else first.in_features


def save_checkpoint(model: nn.Module, path: PathType, meta: Mapping[str, Any]) -> Path:
    """Write ``model.state_dict()`` and ``meta`` to ``path`` as safetensors, atomically.

    ``meta`` must name the registered architecture (``"model"``) and be JSON-serialisable;
    put the dataset (``"dataset"``, ``"dataset_kwargs"``), ``"training"`` config,
    ``"metrics"`` and ``"seed"`` in it. ``num_classes`` / ``in_channels`` are read off the
    model (and checked against ``meta`` when given); ``versions`` from
    :func:`labkit.runtime.versions` are added.

    Returns:
        The path written.
    """
    from ..runtime import versions

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"checkpoint files end in .safetensors, got {path.name!r}")
    name = meta.get("model")
    if name not in list_models():
        raise ValueError(f"meta['model'] must be a registered model name so the architecture can be "
                         f"rebuilt from code; got {name!r}. Known: {', '.join(list_models())}")
    full = dict(meta)
    for key, found in zip(("num_classes", "in_channels"), _io_sizes(model)):
        if key in full and found is not None and full[key] != found:
            raise ValueError(f"meta[{key!r}] = {full[key]} but the model has {key} = {found}")
        if key not in full:
            if found is None:
                raise ValueError(f"cannot read {key} off this model; put it in meta")
            full[key] = found
    full.setdefault("versions", versions())
    try:
        text = json.dumps(full, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"checkpoint metadata must be plain JSON (str, numbers, lists, dicts; "
                         f"no NaN): {err}") from err
    return save_container(path, model.state_dict(), kind="checkpoint", meta=json.loads(text))


def load_checkpoint(path: PathType, *, assets_dir: PathType | None = None,
                    sha256: str | None = None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint: ``(state_dict on the CPU, metadata dict)``.

    A bare file name that does not exist is looked up in ``assets_dir`` (default
    ``labkit/models/assets``). The digest is checked against ``sha256`` when given, else
    against a ``manifest.json`` beside the file when that manifest lists it.

    Raises:
        CheckpointError: missing file, digest mismatch (manifest or the container's own),
            not a safetensors file, another kind of labkit file, or no labkit metadata.
    """
    path = Path(path)
    if not path.exists() and path.parent == Path(".") and (_dir(assets_dir) / path).exists():
        path = _dir(assets_dir) / path
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    if sha256 is None:
        sha256 = read_manifest(path.parent).get(path.name)
    if sha256 is not None:
        actual = sha256_file(path)
        if actual != sha256:
            raise CheckpointError(
                f"corrupt checkpoint {path}: sha256 {actual[:16]}... does not match the manifest's "
                f"{sha256[:16]}...; the file was changed or truncated. Restore it (git checkout) or "
                f"retrain it and run update_manifest() on the new file."
            )
    try:
        state, meta = load_container(path, kind="checkpoint")
    except ContainerError as err:
        raise CheckpointError(str(err)) from err
    missing = [k for k in ("model", "num_classes", "in_channels") if k not in meta]
    if missing:
        raise CheckpointError(f"{path}: metadata lacks {', '.join(missing)}; re-save with save_checkpoint()")
    return state, meta


def read_manifest(assets_dir: PathType | None = None) -> dict[str, str]:
    """``{file name: sha256}`` from ``<assets_dir>/manifest.json`` (empty if there is none)."""
    path = _dir(assets_dir) / MANIFEST_NAME
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path} is not valid JSON ({err}); restore it from git") from err
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} must map file names to sha256 digests")
    return {str(k): str(v) for k, v in data.items()}


def update_manifest(path: PathType) -> str:
    """Record ``path``'s sha256 in the ``manifest.json`` of its folder (atomically); return it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no file at {path}")
    digest = sha256_file(path)
    manifest = read_manifest(path.parent)
    manifest[path.name] = digest
    atomic_write(path.parent / MANIFEST_NAME, json.dumps(dict(sorted(manifest.items())), indent=2) + "\n")
    return digest


def shipped_checkpoints(assets_dir: PathType | None = None) -> list[tuple[str, str]]:
    """``(model, dataset)`` pairs that have a ``<model>__<dataset>.safetensors`` file, sorted.

    Files with another dot in the name (``labkit train``'s in-progress ``*.run.safetensors``)
    are not shipped checkpoints and are left out.
    """
    folder = _dir(assets_dir)
    if not folder.is_dir():
        return []
    stems = [p.name[: -len(".safetensors")] for p in folder.glob("*__*.safetensors")]
    return sorted(tuple(s.split("__", 1)) for s in stems if "." not in s)  # type: ignore[misc]
