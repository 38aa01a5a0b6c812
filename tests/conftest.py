"""Suite-wide settings: one torch thread per test process.

Tiny models spend more time synchronising worker threads than computing, and on a shared
2-core machine several threads per test stall each other; one thread keeps tests fast and
their timings stable. Benchmarks (benchmarks/) measure with the default thread count.
"""
import torch

torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` run only where CUDA is available; elsewhere they skip, saying why."""
    import pytest

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="marked gpu: needs a CUDA device (none here)")
    for item in items:
        if item.get_closest_marker("gpu") is not None:  # not `in item.keywords`: that also holds folder names
            item.add_marker(skip)
