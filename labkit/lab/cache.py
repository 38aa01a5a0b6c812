"""Scores cached on disk, keyed by what decides them: weights, criterion, options and data.

Scoring a data-driven criterion at CIFAR-100 scale runs the model forward and backward over the
validation split (seconds to minutes on a CPU); reopening the lab on the same checkpoint should
not pay that again. :class:`ScoreCache` keeps one ``labkit/scores/v1`` safetensors container
(:func:`labkit.io.save_container`: tensors only, never pickle, a content digest checked on every
read) per key::

    key = sha256(weights digest, criterion, granularity, options, data digest)

- the *weights digest* covers every tensor of the model's ``state_dict`` (names, dtypes,
  shapes, bytes), so a fine-tuned or different checkpoint misses;
- the *data digest* covers the scoring split's inputs and labels, and is left out for
  criteria that never look at data (magnitude, random), so they hit across datasets.

A file that fails its digest (changed on disk, cut short) is reported with a warning, deleted
and recomputed: a cache never makes a result wrong or stops the lab.

Example:
    >>> import tempfile, torch
    >>> from labkit.criteria import score
    >>> from labkit import load_model
    >>> net = load_model("tiny_cnn", num_classes=10, in_channels=1)
    >>> cache = ScoreCache(tempfile.mkdtemp())
    >>> key = cache.key(weights_digest(net), "magnitude", "weight", {}, None)
    >>> cache.load(key) is None
    True
    >>> _ = cache.save(key, score(net, "magnitude"))
    >>> sorted(cache.load(key)) == sorted(score(net, "magnitude"))
    True
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from ..criteria import Scores
from ..io import ContainerError, content_digest, list_container_kinds, load_container, register_container_kind, save_container

__all__ = ["ScoreCache", "data_digest", "default_cache_dir", "weights_digest"]

KIND = "scores"
if KIND not in list_container_kinds():
    register_container_kind(KIND, "a cached score file", "labkit.lab.cache.ScoreCache.load",
                            "labkit.lab.cache.ScoreCache.save (Lab.cache_scores)")


def default_cache_dir() -> Path:
    """``$LABKIT_CACHE_DIR/scores``, else ``$XDG_CACHE_HOME/labkit/scores``, else ``~/.cache/labkit/scores``."""
    if os.environ.get("LABKIT_CACHE_DIR"):
        return Path(os.environ["LABKIT_CACHE_DIR"]) / "scores"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "labkit" / "scores"


def weights_digest(model: nn.Module) -> str:
    """``sha256:<hex>`` of every tensor in ``model.state_dict()`` (see :func:`labkit.io.content_digest`)."""
    return content_digest({k: v for k, v in model.state_dict().items() if isinstance(v, Tensor)}, "weights")


def data_digest(x: Tensor, y: Tensor | None) -> str:
    """``sha256:<hex>`` of a split's inputs and labels."""
    return content_digest({"x": x, **({"y": y} if y is not None else {})}, "data")


class ScoreCache:
    """A folder of cached :class:`~labkit.criteria.Scores`, one container per key."""

    def __init__(self, folder: str | os.PathLike[str] | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_cache_dir()
        self.hits = 0
        self.misses = 0

    def __repr__(self) -> str:
        return f"ScoreCache({str(self.folder)!r}, hits={self.hits}, misses={self.misses})"

    @staticmethod
    def key(weights: str, criterion: str, granularity: str, options: Mapping[str, Any], data: str | None) -> str:
        """The hex key of one scoring: every input that decides it, hashed."""
        text = json.dumps({"weights": weights, "criterion": criterion, "granularity": granularity,
                           "options": {k: repr(v) for k, v in sorted(options.items())}, "data": data},
                          sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.folder / f"{key[:32]}.safetensors"

    def load(self, key: str) -> Scores | None:
        """The cached scores for ``key``, or ``None`` (missing, or a damaged file: warned and removed)."""
        p = self.path(key)
        if not p.is_file():
            self.misses += 1
            return None
        try:
            tensors, meta = load_container(p, kind=KIND)
        except ContainerError as err:
            warnings.warn(f"ignoring a damaged score cache file, it will be recomputed: {err}", stacklevel=2)
            p.unlink(missing_ok=True)
            self.misses += 1
            return None
        if meta.get("key") != key:  # a 128-bit prefix collision, or a file copied under another name
            self.misses += 1
            return None
        self.hits += 1
        return Scores(tensors, granularity=meta["granularity"], meta=meta.get("scores_meta", {}))

    def save(self, key: str, scores: Scores) -> Path:
        """Write ``scores`` under ``key`` (atomically; the folder is created)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = {"key": key, "granularity": scores.granularity,
                "scores_meta": json.loads(json.dumps(scores.meta, default=str))}
        return save_container(self.path(key), dict(scores.items()), kind=KIND, meta=meta)
