"""Is the lab live at CIFAR-100 scale on the CPU? The four figures of issue 14, new and old settings.

Builds a CIFAR-100 root in torchvision's on-disk layout (``cifar-100-python/{train,test,meta}``
pickles, full size: 50,000 / 10,000 images of random uint8 pixels) in a temporary folder, loads it
as ``cifar100-lt`` (imbalance 100), builds a ResNet-32 with random weights and opens two labs:

- **new**: ``lk.Lab(model, data)`` with its defaults (live set sized by ``budget_ms``);
- **old**: ``lk.Lab(model, data, preview=2000)`` (the fixed 2,000-image preview of before).

and times, interleaved so machine load hits both alike:

1. opening the lab;
2. a global-sparsity slider move (``lab.prune`` with cached scores): p50 and p95;
3. a new data-free criterion / granularity (filter-magnitude pruning, first time: scoring included);
4. a data-driven criterion (Taylor, first time: scoring the validation split, with a progress bar);

then the exact full report of the new lab (all 9,000 test items, with a progress bar). Targets on
two cores (issue 14): slider p50 <= 300 ms, opening <= 10 s, new data-free criterion <= 1 s,
data-driven <= 10 s. Shared machines are noisy: the load average is printed, and the old/new
ratios, measured side by side, are the figures to read first.

Usage:
    .venv/bin/python benchmarks/cifar_scale.py [--moves 9] [--root DIR] [--skip-old-taylor]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

import labkit as lk
from labkit.data.fabricate import fabricate_cifar100


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1e3, out


def note(text: str) -> None:
    """A figure as soon as it is measured (a run on a busy machine may be stopped half-way)."""
    print(f"  [{time.strftime('%H:%M:%S')} load {load()}] {text}", flush=True)


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moves", type=int, default=9, help="slider moves per lab (default 9)")
    ap.add_argument("--root", type=Path, default=None, help="an existing CIFAR-100 root (default: fabricate one)")
    ap.add_argument("--skip-old-taylor", action="store_true", help="time Taylor on the new lab only")
    args = ap.parse_args()

    print(f"labkit at CIFAR-100 scale · torch {torch.__version__} · {torch.get_num_threads()} threads · "
          f"load average {load()} at the start")
    with tempfile.TemporaryDirectory() as tmp:
        t_fab, root = timed(lambda: args.root or fabricate_cifar100(Path(tmp)))
        t_data, data = timed(lambda: lk.load_dataset("cifar100-lt", root=root, imbalance=100))
        print(f"fabricated root {t_fab / 1e3:.1f} s · load_dataset {t_data / 1e3:.1f} s · "
              f"{len(data.train)} train / {len(data.val)} val / {len(data.test)} test images")
        torch.manual_seed(0)
        model = lk.load_model("resnet32", dataset="cifar100-lt", pretrained=False)

        settings = {"new": {}, "old": {"preview": 2000}}
        labs, res = {}, {k: {} for k in settings}
        for name, kw in settings.items():
            res[name]["open"], labs[name] = timed(lambda kw=kw: lk.Lab(model, data, **kw))
            note(f"{name}: opened in {res[name]['open']:.0f} ms ({len(labs[name].targets)} live items)")
        for name, lab in labs.items():
            res[name]["first"] = timed(lambda lab=lab: lab.prune(sparsity=0.5))[0]
            note(f"{name}: first prune {res[name]['first']:.0f} ms")
        moves = [0.3, 0.4, 0.6, 0.7, 0.45, 0.55, 0.35, 0.65, 0.5, 0.25, 0.75][:max(args.moves, 1)]
        for name in res:
            res[name]["moves"] = []
        for s in moves:
            for name, lab in labs.items():
                res[name]["moves"].append(timed(lambda lab=lab, s=s: lab.prune(sparsity=s))[0])
                note(f"{name}: slider move to {s} in {res[name]['moves'][-1]:.0f} ms")
        for name, lab in labs.items():
            res[name]["filter"] = timed(lambda lab=lab: lab.prune(sparsity=0.3, granularity="filter"))[0]
            note(f"{name}: filter granularity in {res[name]['filter']:.0f} ms")
        for name, lab in labs.items():
            if name == "old" and args.skip_old_taylor:
                continue
            res[name]["taylor"] = timed(lambda lab=lab: lab.prune("taylor", sparsity=0.5))[0]
            note(f"{name}: Taylor in {res[name]['taylor']:.0f} ms")
        new = labs["new"]
        t_full, rep = timed(lambda: new.full_report(new.prune(sparsity=0.5)))

    live = new.live
    print(f"new live set: {live['items']} of {live['of']} test items ({live['per_class']} per class), "
          f"{live['ms_per_item']:.2f} ms per item measured, budget {live['budget_ms']:.0f} ms; "
          f"old: {len(labs['old'].targets)} items")
    lo, hi = new.live_interval()["balanced"]
    print(f"dense balanced accuracy on the live set {new.dense_report.balanced:.3f}, 95 % interval for the "
          f"whole test split [{lo:.3f}, {hi:.3f}]")
    rows = [("open the lab (ms)", "open", 10_000), ("first prune: magnitude scores + sort (ms)", "first", None),
            ("slider move p50 (ms)", "p50", 300), ("slider move p95 (ms)", "p95", None),
            ("new granularity: filter magnitude (ms)", "filter", 1_000),
            ("data-driven: Taylor, first time (ms)", "taylor", 10_000)]
    for r in res.values():
        r["p50"], r["p95"] = statistics.median(r["moves"]), float(np.percentile(r["moves"], 95))
    print(f"{'figure':<44}{'new':>10}{'old':>10}{'old/new':>9}{'target':>9}")
    for label, key, target in rows:
        a, b = res["new"].get(key), res["old"].get(key)
        ratio = f"{b / a:.1f}x" if a and b else "-"
        print(f"{label:<44}{(f'{a:.0f}' if a else '-'):>10}{(f'{b:.0f}' if b else '-'):>10}{ratio:>9}"
              f"{(str(target) if target else ''):>9}")
    print(f"exact full report of the new lab ({len(rep.targets)} items, progress bar): {t_full / 1e3:.1f} s")
    print(f"load average {load()} at the end")


if __name__ == "__main__":
    main()
