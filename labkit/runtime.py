"""Device choice and seeding: the two things every experiment must get right first.

``default_device()`` prefers CUDA, then Apple's MPS, then the CPU, so the same notebook runs
on a laptop and on a GPU box. ``seed_everything(seed)`` seeds Python, NumPy and torch and
returns a ``torch.Generator`` for data order, so the same seed gives the same masks and
numbers on the CPU (GPU kernels may still be non-deterministic; see
https://docs.pytorch.org/docs/stable/notes/randomness.html).

``accelerate(device)`` is the one place that decides how a device is used (:class:`DevicePolicy`):
mixed precision, memory format, pinned memory, non-blocking copies and cuDNN autotuning are on
for CUDA and off elsewhere, so CPU results stay bitwise those of plain float32 code.

Example:
    >>> g = seed_everything(0)
    >>> a = torch.rand(2, generator=g)
    >>> b = torch.rand(2, generator=seed_everything(0))
    >>> bool((a == b).all())
    True
"""
from __future__ import annotations

import contextlib
import os
import platform
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ._version import __version__

__all__ = ["default_device", "resolve_device", "seed_everything", "versions", "smoke_mode", "leave_a_core",
           "DevicePolicy", "accelerate", "AMP_MODES"]

#: What ``amp=`` accepts: ``"auto"`` (bf16 on CUDA when supported, else fp16; off on MPS and
#: CPU), ``"off"`` (float32 everywhere), ``"bf16"`` or ``"fp16"``.
AMP_MODES = ("auto", "off", "bf16", "fp16")


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


def leave_a_core(reserve: int = 1) -> int:
    """Give torch every CPU core but ``reserve``: what a live page needs; returns the thread count.

    In the lab, a slider step runs the model while the browser draws the previous result and the
    marimo server relays messages. With all cores busy in torch's thread pool, its threads wait on
    each other (2 threads were 5-20x slower than 1 for small ops on a busy 2-core machine) and the
    page settles later. Leaving one core free measured faster on 2 cores: first view 280 ms vs
    408 ms, page still 498 ms vs 621 ms (``benchmarks/lab_page.py --variant`` A/B, README §Speed).
    An explicit ``OMP_NUM_THREADS`` (or ``LABKIT_THREADS``) wins; GPUs are not affected.

    Example:
        >>> before = torch.get_num_threads()
        >>> 1 <= leave_a_core() <= max(1, os.cpu_count() or 1)
        True
        >>> torch.set_num_threads(before)
    """
    explicit = os.environ.get("LABKIT_THREADS") or os.environ.get("OMP_NUM_THREADS")
    n = int(explicit) if explicit and explicit.isdigit() and int(explicit) > 0 else max(1, (os.cpu_count() or 1) - reserve)
    torch.set_num_threads(n)
    return n


def _cuda_bf16() -> bool:
    """Does the current CUDA device compute in bfloat16 (Ampere and later)? True without CUDA to ask."""
    if not torch.cuda.is_available():
        return True  # deciding for a device we cannot see: assume a datacenter GPU
    return bool(torch.cuda.is_bf16_supported())


@dataclass(frozen=True)
class DevicePolicy:
    """How to run on one device; made by :func:`accelerate`, the single place that decides it.

    Attributes:
        device: where the model and batches live.
        amp_dtype: ``torch.bfloat16`` / ``torch.float16`` for mixed precision
            (``torch.autocast``), ``None`` for plain float32.
        channels_last: store 4-D tensors NHWC (what cuDNN's tensor-core convolutions want).
        pin_memory: page-locked host batches, so host-to-device copies can overlap compute.
        non_blocking: issue copies asynchronously (only useful with pinned memory on CUDA).
        cudnn_benchmark: let cuDNN time its convolution algorithms once per input shape.

    Example:
        >>> p = accelerate(torch.device("cuda"))       # decided without a GPU: no CUDA call needed
        >>> p.amp_dtype, p.channels_last, p.pin_memory, p.grad_scaling
        (torch.bfloat16, True, True, False)
        >>> accelerate(torch.device("cpu")).amp_dtype is None   # CPU: float32, bitwise as before
        True
    """

    device: torch.device
    amp_dtype: torch.dtype | None = None
    channels_last: bool = False
    pin_memory: bool = False
    non_blocking: bool = False
    cudnn_benchmark: bool = False

    @property
    def amp(self) -> str:
        """The precision as a name: ``"off"``, ``"bf16"`` or ``"fp16"`` (what runs record)."""
        return {None: "off", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.amp_dtype]

    @property
    def grad_scaling(self) -> bool:
        """fp16 gradients underflow without loss scaling (``torch.amp.GradScaler``); bf16 do not."""
        return self.amp_dtype == torch.float16

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """``torch.autocast`` at ``amp_dtype``, or a no-op context in float32."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A ``GradScaler`` that is enabled only for fp16 (disabled, it passes values through)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.grad_scaling)

    def module(self, model: torch.nn.Module) -> torch.nn.Module:
        """Move ``model`` (in place) to the device, channels-last when the policy says; returns it."""
        if self.cudnn_benchmark:
            torch.backends.cudnn.benchmark = True
        model.to(self.device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        return model

    def batch(self, x: torch.Tensor) -> torch.Tensor:
        """Copy an input batch to the device (non-blocking, channels-last for images if the policy says)."""
        if self.channels_last and x.ndim == 4:
            return x.to(self.device, non_blocking=self.non_blocking, memory_format=torch.channels_last)
        return x.to(self.device, non_blocking=self.non_blocking)


def accelerate(device: str | torch.device | None = None, amp: str = "auto") -> DevicePolicy:
    """Decide how to use ``device`` (``None``/``"auto"``: :func:`resolve_device`).

    ================  =======================  =============  ==========  ===============
    device            ``amp="auto"``           channels_last  pin_memory  cudnn.benchmark
    ================  =======================  =============  ==========  ===============
    ``cuda``          bf16 (fp16 + GradScaler  yes            yes         yes
                      before Ampere)
    ``mps``           off                      no             no          n/a
    ``cpu``           off                      no             no          n/a
    ================  =======================  =============  ==========  ===============

    An explicit ``amp`` (``"off"``, ``"bf16"``, ``"fp16"``) overrides the automatic choice:
    ``"bf16"`` runs on CUDA and CPU, ``"fp16"`` on CUDA and MPS. A ``torch.device`` is taken
    as given (no availability check), so the decision is testable on any machine.

    Raises:
        ValueError: an unknown ``amp`` or one the device cannot run.
    """
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    if amp not in AMP_MODES:
        raise ValueError(f"amp must be one of {', '.join(AMP_MODES)}; got {amp!r}")
    cuda = dev.type == "cuda"
    dtype: torch.dtype | None
    if amp == "auto":
        dtype = (torch.bfloat16 if _cuda_bf16() else torch.float16) if cuda else None
    else:
        dtype = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}[amp]
        runs_on = {"bf16": ("cuda", "cpu"), "fp16": ("cuda", "mps")}.get(amp, (dev.type,))
        if dev.type not in runs_on:
            raise ValueError(f"amp={amp!r} does not run on {dev.type}; use amp='off' or 'auto' there, "
                             f"or one of {', '.join(runs_on)}")
    return DevicePolicy(dev, amp_dtype=dtype, channels_last=cuda, pin_memory=cuda, non_blocking=cuda,
                        cudnn_benchmark=cuda)
