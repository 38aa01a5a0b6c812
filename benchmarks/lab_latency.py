"""How live is the lab? Time "slider value -> updated per-class report" through ``lk.Lab``.

A scripted sequence of slider moves on the embedded default (resnet20 on digits-LT, all 300
test images), each move timed twice, interleaved so machine load hits both alike:

- **incremental**: what the lab does: masks from the cached ranking, written into the working
  copy, only the stages from the first changed one re-run, then the per-class report;
- **full**: the same move with every stage re-run (``incremental=False``).

Two kinds of move:

1. the global sparsity slider (every layer changes, so both re-run almost everything);
2. a per-layer slider of the last stage only (``layer3.*``): the incremental path re-runs one
   stage of five. Target: <= 35 % of a full re-evaluation.

Targets on 2 CPU cores (issue 4): p50 <= 150 ms and p95 <= 300 ms for a global move. On CUDA
the same script runs on the GPU. Shared machines are noisy: read the ratios, which are measured
side by side, before the absolute numbers.

Usage:
    .venv/bin/python benchmarks/lab_latency.py [--rounds 3] [--device auto]
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch

import labkit as lk


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="passes over the slider script (default 3)")
    ap.add_argument("--device", default="auto", help="cuda, mps, cpu or auto (default auto)")
    args = ap.parse_args()

    t0 = time.perf_counter()
    lab = lk.Lab("resnet20", "digits-lt", device=None if args.device == "auto" else args.device)
    setup_s = time.perf_counter() - t0
    lab.prune(sparsity=0.5)  # score + sort once (the first move of a session pays this)
    last = [n for n in lab.layers if n.startswith("layer3.")]
    global_moves = [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.65, 0.6, 0.55, 0.5]
    layer_moves = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.6, 0.5, 0.4, 0.3]

    times: dict[str, list[float]] = {k: [] for k in ("global_inc", "global_full", "last_inc", "last_full")}
    for _ in range(args.rounds):
        for s in global_moves:
            for inc, key in ((True, "global_inc"), (False, "global_full")):
                t = time.perf_counter()
                lab.prune(sparsity=s, incremental=inc)
                times[key].append((time.perf_counter() - t) * 1e3)
        lab.prune(mode="per-layer", layer_sparsity={n: 0.1 for n in last})
        for s in layer_moves:
            for inc, key in ((True, "last_inc"), (False, "last_full")):
                # the full pass resets the cached inputs too, so undo the move first: the
                # incremental measurement must start from the previous slider position.
                lab.prune(mode="per-layer", layer_sparsity={n: s - 0.05 for n in last})
                t = time.perf_counter()
                tr = lab.prune(mode="per-layer", layer_sparsity={n: s for n in last}, incremental=inc)
                times[key].append((time.perf_counter() - t) * 1e3)
                if inc:
                    assert tr.first_stage == 3, tr.first_stage

    print(f"labkit lab latency · resnet20 on digits-lt ({len(lab.targets)} test images) · device {lab.device} · "
          f"torch {torch.__version__} · {torch.get_num_threads()} threads · {platform.processor() or platform.machine()}")
    print(f"Lab setup (load data + checkpoint, dense pass): {setup_s:.2f} s")
    print(f"{'move':<34}{'p50 ms':>9}{'p95 ms':>9}{'n':>5}")
    for key, label in (("global_inc", "global sparsity, incremental"), ("global_full", "global sparsity, full"),
                       ("last_inc", "last stage only, incremental"), ("last_full", "last stage only, full")):
        xs = times[key]
        print(f"{label:<34}{_pct(xs, 50):>9.1f}{_pct(xs, 95):>9.1f}{len(xs):>5}")
    ratio = statistics.median(times["last_inc"]) / statistics.median(times["last_full"])
    print(f"last-stage change, incremental / full (median): {ratio:.2f}  (target <= 0.35)")
    g50, g95 = _pct(times["global_inc"], 50), _pct(times["global_inc"], 95)
    print(f"global move p50 {g50:.0f} ms (target <= 150), p95 {g95:.0f} ms (target <= 300): "
          f"{'met' if g50 <= 150 and g95 <= 300 else 'NOT met'}")


if __name__ == "__main__":
    main()
