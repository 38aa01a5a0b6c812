"""Shared fixtures: build each model once per session (torchvision's vgg16 alone takes seconds)."""
from __future__ import annotations

from typing import Any, Callable

import pytest
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from labkit.models import load_model


@pytest.fixture(scope="session")
def zoo() -> Callable[..., nn.Module]:
    """``zoo(name, **kwargs)`` -> a cached ``load_model(name, **kwargs)`` in eval mode (do not mutate)."""
    cache: dict[tuple[str, tuple[tuple[str, Any], ...]], nn.Module] = {}

    def build(name: str, **kwargs: Any) -> nn.Module:
        key = (name, tuple(sorted(kwargs.items())))
        if key not in cache:
            cache[key] = load_model(name, **kwargs).eval()
        return cache[key]

    return build


@pytest.fixture(scope="session")
def counted_macs() -> Callable[..., int]:
    """``counted_macs(fn, *args)``: MACs of one call as torch's FlopCounterMode counts them (FLOPs / 2)."""
    def count(fn: Callable[..., Any], *args: Any) -> int:
        with FlopCounterMode(display=False) as fc:
            fn(*args)
        flops = fc.get_total_flops()
        assert flops % 2 == 0
        return flops // 2
    return count
