"""Run these tiny-model tests on one intra-op thread.

The models here do microsecond-sized matrix products. With several processes sharing two cores,
OpenMP worker threads spin-wait for each other and a 32x6 linear layer can take 15 ms instead
of 15 µs; one thread makes the suite ~10x faster. The previous setting is restored after
each test, so other test folders are unaffected.
"""
from __future__ import annotations

from typing import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
