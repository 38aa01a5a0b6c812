"""Suite-wide settings: one torch thread per test process.

Tiny models spend more time synchronising worker threads than computing, and on a shared
2-core machine several threads per test stall each other; one thread keeps tests fast and
their timings stable. Benchmarks (benchmarks/) measure with the default thread count.
"""
import torch

torch.set_num_threads(1)
