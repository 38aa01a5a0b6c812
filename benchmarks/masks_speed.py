"""Side-by-side timings of the pruning engine on torchvision resnet18 (11.2 M parameters, CPU).

Measured in one run, each pair interleaved so machine load hits both sides alike:

1. A new global sparsity -> masks: labkit's ranking cache (sorted once; then a search and one
   comparison per layer) against ``torch.nn.utils.prune.global_unstructured`` (a top-k over all
   weights on every call), same layers, same amount; the masks are checked equal (up to ties).
   Target: >= 20x faster.
2. Forward throughput of the masked model (``apply_masks``: dense * mask, no hooks) against the
   dense model. Target: >= 0.95x.
3. Latency of the compacted model (50% of the filters of every conv, residual groups cut
   together, through Torch-Pruning) against the dense model, next to the MACs ratio.

Usage:
    .venv/bin/python benchmarks/masks_speed.py [--batch 8] [--size 224] [--rounds 7] [--threads N]

On a shared machine the load average printed first matters: other processes slow both sides,
and OpenMP's thread barriers suffer most (``--threads 1`` is then often faster).
"""
from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable

import torch
import torch.nn.utils.prune as prune
import torchvision

from labkit.analysis.cost import cost
from labkit.criteria import score
from labkit.pruning import Ranking, allocate, apply_masks, compact, couple_scores, coupled_groups, make_masks


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def same_up_to_ties(ours: torch.Tensor, ref: torch.Tensor, scores: torch.Tensor) -> bool:
    """Equal masks, except units tied at the cut (top-k may pick any of them)."""
    if int(ours.sum()) != int(ref.sum()):
        return False
    differ = ours != ref
    return not bool(differ.any()) or bool((scores[differ] == scores[~ours].max()).all())


def masks_vs_global_unstructured(model: torch.nn.Module, sparsities: list[float]) -> None:
    sc = score(model, "magnitude")  # prunable set: every conv / linear weight but conv1 and fc
    t0 = time.perf_counter()
    ranking = Ranking(sc)
    t_build = time.perf_counter() - t0
    t_first = timed(lambda: ranking.masks(0.1, mode="global", min_keep=1))  # builds the global order
    n_weights = sum(t.numel() for t in sc.values())
    print(f"[1] new global sparsity -> masks over {len(sc)} layers, {n_weights / 1e6:.2f} M weights")
    print(f"    one-off: Ranking(scores) {t_build:.2f} s (per-layer sort), first global masks {t_first:.2f} s "
          f"(global sort); each later sparsity:")
    print(f"    {'sparsity':>8}  {'labkit Ranking':>15}  {'global_unstructured':>20}  {'speed-up':>8}  same masks")
    ours_t, ref_t = [], []
    for s in sparsities:
        ref = copy.deepcopy(model)  # a fresh model per call (prune re-parametrises in place); not timed
        modules = [(ref.get_submodule(n.rsplit(".", 1)[0]), "weight") for n in sc]
        box: dict[str, object] = {}
        t_ours = timed(lambda box=box, s=s: box.update(m=ranking.masks(s, mode="global", min_keep=1)))
        t_ref = timed(lambda modules=modules, s=s: prune.global_unstructured(modules, pruning_method=prune.L1Unstructured,
                                                                           amount=s))
        ours = box["m"]
        same = all(same_up_to_ties(ours[n], mod.weight_mask.bool(), sc[n])  # type: ignore[index]
                   for n, (mod, _) in zip(sc, modules))
        ours_t.append(t_ours)
        ref_t.append(t_ref)
        print(f"    {s:>8.2f}  {t_ours * 1e3:>12.1f} ms  {t_ref * 1e3:>17.1f} ms  {t_ref / t_ours:>7.1f}x  {same}")
    med = statistics.median(r / o for r, o in zip(ref_t, ours_t))
    print(f"    median speed-up: {med:.1f}x (target >= 20x)")


def interleaved(fns: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median seconds per call of each function, calls alternating round by round."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for f in fns.values():  # warm-up
        f()
    for _ in range(rounds):
        for k, f in fns.items():
            times[k].append(timed(f))
    return {k: statistics.median(v) for k, v in times.items()}


def masked_throughput(model: torch.nn.Module, x: torch.Tensor, rounds: int) -> None:
    masks = Ranking(score(model, "magnitude")).masks(0.5, mode="global", min_keep=1)
    masked = apply_masks(model, masks).eval()
    with torch.inference_mode():
        t = interleaved({"dense": lambda: model(x), "masked": lambda: masked(x)}, rounds)
    n = x.shape[0]
    print(f"[2] forward throughput, batch {tuple(x.shape)}, masks at 50% global weight sparsity")
    print(f"    dense  {n / t['dense']:8.1f} img/s   masked {n / t['masked']:8.1f} img/s   "
          f"masked/dense {t['dense'] / t['masked']:.3f}x (target >= 0.95x)")


def compacted_latency(model: torch.nn.Module, x: torch.Tensor, rounds: int) -> None:
    example = x[:1]
    sc = score(model, "magnitude", granularity="filter", exclude_first=False)  # every conv, the stem too
    coupled = couple_scores(sc, coupled_groups(model, example, layers=list(sc)))
    masks = make_masks(coupled, allocate(coupled, 0.5, mode="uniform"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        small = compact(model, masks, example).eval()
    convs = [n for n in sc if n != "fc.weight"]
    before = sum(model.get_parameter(n).shape[0] for n in convs)
    after = sum(small.get_parameter(n).shape[0] for n in convs)
    shape = tuple(x.shape[1:])
    c_dense, c_small = cost(model, shape, latency=False), cost(small, shape, latency=False)
    with torch.inference_mode():
        t = interleaved({"dense": lambda: model(x), "compact": lambda: small(x)}, rounds)
    print(f"[3] compacted vs dense, batch {tuple(x.shape)}: {1 - after / before:.1%} of conv filters removed")
    print(f"    params {c_dense['params'] / 1e6:.2f} M -> {c_small['params'] / 1e6:.2f} M "
          f"({c_small['params'] / c_dense['params']:.3f}x)")
    print(f"    MACs   {c_dense['MACs'] / 1e9:.3f} G -> {c_small['MACs'] / 1e9:.3f} G per image "
          f"({c_small['MACs'] / c_dense['MACs']:.3f}x)")
    print(f"    latency {t['dense'] * 1e3:.1f} ms -> {t['compact'] * 1e3:.1f} ms "
          f"({t['compact'] / t['dense']:.3f}x; speed-up {t['dense'] / t['compact']:.2f}x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10).eval()
    print(f"torchvision resnet18(num_classes=10): {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M params; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads on {os.cpu_count()} CPUs "
          f"({platform.processor() or platform.machine()}), load average {os.getloadavg()[0]:.1f}")
    masks_vs_global_unstructured(model, [0.3, 0.5, 0.7, 0.9, 0.45])
    x = torch.randn(args.batch, 3, args.size, args.size)
    masked_throughput(model, x, args.rounds)
    compacted_latency(model, x, args.rounds)


if __name__ == "__main__":
    main()
