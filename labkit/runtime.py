"""Device choice and seeding: the two things every experiment must get right first.

``default_device()`` prefers CUDA, then Apple's MPS, then the CPU, so the same notebook runs
on a laptop and on a GPU box. ``seed_everything(seed)`` seeds Python, NumPy and torch and
returns a ``torch.Generator`` for data order, so the same seed gives the same masks and
numbers on the CPU (GPU kernels may still be non-deterministic; see
https://docs.pytorch.org/docs/stable/notes/randomness.html).

Example:
    >>> g = seed_everything(0)
    >>> a = torch.rand(2, generator=g)
    >>> b = torch.rand(2, generator=seed_everything(0))
    >>> bool((a == b).all())
    True
"""
from __future__ import annotations

import os
import platform
import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from ._version import __version__

__all__ = ["default_device", "resolve_device", "seed_everything", "versions", "smoke_mode"]


def default_device() -> torch.device:
    """``cuda`` if available, then ``mps``, then ``cpu``."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """Turn ``None``/``"auto"`` into :func:`default_device`, and check an explicit choice exists."""
    if device is None or device == "auto":
        return default_device()
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was requested but CUDA is not available; use device='auto'")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise RuntimeError("device='mps' was requested but MPS is not available; use device='auto'")
    return dev


def seed_everything(seed: int) -> torch.Generator:
    """Seed ``random``, NumPy and torch (all devices); return a CPU generator seeded with ``seed``."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def versions() -> dict[str, Any]:
    """Versions recorded in every saved file and report (labkit, torch, python, platform)."""
    return {
        "labkit": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def smoke_mode(cli_args: Mapping[str, Any] | None = None, *, threads: int | None = 1) -> bool:
    """Should a notebook run its tiny CI version? And if so, keep torch to ``threads`` threads.

    Smoke mode is on when ``cli_args`` (marimo's ``mo.cli_args()``, from
    ``marimo export html nb.py -- --smoke``) has a ``smoke`` key, or when the environment has
    ``LABKIT_SMOKE=1`` (a Jupyter kernel has no command line; ``make test`` sets it for nbclient).
    Tiny models on 2 shared CI cores run faster on one thread than on two.

    Example:
        >>> smoke_mode({"smoke": ""}, threads=None), smoke_mode({}, threads=None) == (os.environ.get("LABKIT_SMOKE") == "1")
        (True, True)
    """
    on = "smoke" in (cli_args or {}) or os.environ.get("LABKIT_SMOKE") == "1"
    if on and threads is not None:
        torch.set_num_threads(threads)
    return on
