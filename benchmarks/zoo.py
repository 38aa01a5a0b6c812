"""labkit's filter path on torchvision's zoo, next to Torch-Pruning's own ``MagnitudePruner``.

For every entry of :data:`labkit.models.torchvision_zoo.ZOO` (random weights, batch 1, the
entry's smallest input), each in a fresh subprocess capped at ``--mem`` GB and ``--timeout`` s:

- labkit: ``score(m, "magnitude", granularity="filter") -> Ranking.masks(0.3, mode="global",
  normalize="l2", min_keep=0.1) -> compact``: seconds, params / MACs after, whether masked and
  compacted outputs agree, peak resident memory of the process;
- Torch-Pruning 1.6: ``tp.pruner.MagnitudePruner`` (L1 importance, ``pruning_ratio=0.3``, one
  step), set up the way its own torchvision example does: 1000-way classifiers in
  ``ignored_layers``, ``num_heads`` and ``round_to`` for ViT; seconds, params / MACs after,
  classes kept. A family it cannot prune shows its error.

MACs are Torch-Pruning's ``count_ops_and_params`` at the same input. The two do not remove the
same channels: labkit removes what the masks (one global L2-normalised threshold) switch off and
its coupled groups allow; Torch-Pruning removes 30 % of every group.

Usage:
    python benchmarks/zoo.py [--models resnet18,vit_b_16] [--out benchmarks/zoo_results.md]
    python benchmarks/zoo.py --readme [test-artifacts/zoo_results.json]   # README's table from the test
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- zoo-table:begin -->", "<!-- zoo-table:end -->"


def _labkit(name: str) -> dict:
    import torch_pruning as tp

    from labkit.models.torchvision_zoo import build, example
    from labkit.pruning.filter_path import filter_path

    model = build(name)
    x = example(model, name)
    macs0, params0 = tp.utils.count_ops_and_params(model, x)
    r = filter_path(model, x, progress=False)
    macs1, params1 = tp.utils.count_ops_and_params(r["model"], x)
    return {"seconds": r["seconds"], "params0": params0, "macs0": macs0, "params": params1, "macs": macs1,
            "agree": r["agree"], "classes": r["classes"], "kept_zeroed": r["kept_zeroed"],
            "rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}


def _torch_pruning(name: str) -> dict:
    import torch
    import torch_pruning as tp
    from torch import nn
    from torchvision.models.vision_transformer import VisionTransformer

    from labkit.models.torchvision_zoo import build, example

    model = build(name)
    x = example(model, name)
    for p in model.parameters():
        p.requires_grad_(True)
    ignored = [m for m in model.modules()
               if (isinstance(m, nn.Linear) and m.out_features == 1000)
               or (isinstance(m, nn.Conv2d) and m.out_channels == 1000)]
    kw: dict = {}
    if isinstance(model, VisionTransformer):
        kw = {"round_to": model.encoder.layers[0].num_heads,
              "num_heads": {m: m.num_heads for m in model.modules() if isinstance(m, nn.MultiheadAttention)}}
    t0 = time.perf_counter()
    pruner = tp.pruner.MagnitudePruner(model, x, importance=tp.importance.MagnitudeImportance(p=1),
                                       pruning_ratio=0.3, ignored_layers=ignored, **kw)
    pruner.step()
    if isinstance(model, VisionTransformer):
        model.hidden_dim = model.conv_proj.out_channels
    seconds = time.perf_counter() - t0
    macs, params = tp.utils.count_ops_and_params(model, x)
    with torch.no_grad():
        classes = int(model(x).shape[-1])
    return {"seconds": seconds, "params": params, "macs": macs, "classes": classes}


def _child(name: str, which: str, mem_gb: float) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (int(mem_gb * 2**30), int(mem_gb * 2**30)))
    warnings.simplefilter("ignore")
    try:
        out = _labkit(name) if which == "labkit" else _torch_pruning(name)
    except MemoryError:
        out = {"error": f"out of memory (> {mem_gb:g} GB)"}
    except Exception as e:  # noqa: BLE001 - the table reports any failure
        out = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:90] if str(e) else ''}"}
    print(json.dumps(out))


def _run(name: str, which: str, mem_gb: float, timeout: float) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    try:
        p = subprocess.run([sys.executable, __file__, "--child", name, which, str(mem_gb)], env=env,
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout (> {timeout:g} s)"}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        tail = (p.stderr.strip().splitlines() or ["no output"])[-1][:90]
        return {"error": f"crashed (exit {p.returncode}): {tail}"}
    return json.loads(lines[-1])


def _m(n: float) -> str:
    return f"{n / 1e6:.2f} M"


def _g(n: float) -> str:
    return f"{n / 1e9:.3f} G"


def bench(names: list[str], mem_gb: float, timeout: float) -> str:
    import torch
    import torch_pruning as tp

    head = (f"# torchvision zoo: labkit filter path vs Torch-Pruning MagnitudePruner (ratio 0.3)\n\n"
            f"{time.strftime('%Y-%m-%d %H:%M')}, torch {torch.__version__}, Torch-Pruning {tp.__version__}, "
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
            f"load average {os.getloadavg()[0]:.1f}; each side in its own process capped at {mem_gb:g} GB "
            f"and {timeout:g} s. Command: `python benchmarks/zoo.py`\n\n"
            "| model | input | params / MACs dense | labkit s | labkit params / MACs after | masked = compacted | "
            "labkit peak RSS | TP s | TP params / MACs after | TP classes |\n|---|---|---|---|---|---|---|---|---|---|")
    print(head, flush=True)
    rows = []
    from labkit.models.torchvision_zoo import ZOO

    sizes = {e.name: e.size for e in ZOO}
    for name in names:
        a, b = _run(name, "labkit", mem_gb, timeout), _run(name, "tp", mem_gb, timeout)
        if "error" in a:
            left = f"| {name} | {sizes[name]} | | {a['error']} | | | |"
        else:
            left = (f"| {name} | {sizes[name]} | {_m(a['params0'])} / {_g(a['macs0'])} | {a['seconds']:.1f} | "
                    f"{_m(a['params'])} / {_g(a['macs'])} | {'yes' if a['agree'] else 'NO'} | {a['rss_gb']:.2f} GB |")
        right = (f" {b['error']} | | |" if "error" in b else
                 f" {b['seconds']:.1f} | {_m(b['params'])} / {_g(b['macs'])} | {b['classes']} |")
        rows.append(left + right)
        print(rows[-1], flush=True)
    return head + "\n" + "\n".join(rows) + "\n"


def readme_table(results: Path) -> str:
    """README's "Supported models" section from the zoo test's results."""
    from labkit.models.torchvision_zoo import ZOO

    rows = json.loads(results.read_text()) if results.exists() else {}
    lines = [BEGIN, "", "| family | model (tested) | input | params dense → compacted (30 % of filters, global) | "
             "status |", "|---|---|---|---|---|"]
    for e in ZOO:
        r = rows.get(e.name)
        if r is None:
            lines.append(f"| {e.family} | `{e.name}` | {e.size} | — | not run |")
            continue
        ratio = r["params_after"] / r["params_before"]
        note = "masked = compacted, 1000 classes kept"
        if e.name.startswith(("swin", "maxvit")):
            note += "; window attention protected (its channels kept)"
        elif e.name.startswith("shufflenet"):
            note += "; channel-shuffle channels kept"
        elif e.name.startswith(("resnext", "regnet")):
            note += "; grouped convs lose equal channels per group"
        elif e.name.startswith("vit"):
            note += "; attention width kept (heads whole)"
        elif e.name.startswith("squeezenet"):
            note += "; conv classifier protected"
        lines.append(f"| {e.family} | `{e.name}` | {e.size} | {_m(r['params_before'])} → {_m(r['params_after'])} "
                     f"({ratio:.2f}×) | {'supported' if r['ok'] else 'FAILS'}: {note} |")
    lines += ["", END]
    return "\n".join(lines)


def write_readme(results: Path) -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    table = readme_table(results)
    if BEGIN in text:
        text = text[:text.index(BEGIN)] + table + text[text.index(END) + len(END):]
    else:
        section = ("## Supported models\n\n"
                   "Any torchvision classifier (`weights=None` here, so nothing downloads) goes through the filter path\n"
                   "(`lk.score(m, \"magnitude\", granularity=\"filter\")` → `Ranking(...).masks(0.3, mode=\"global\", "
                   "normalize=\"l2\", min_keep=0.1)` → `lk.apply_masks` / `lk.compact`) and weight masks. Table written by\n"
                   "`python benchmarks/zoo.py --readme` from the last run of `tests/models/test_torchvision_zoo.py`;\n"
                   "timings next to Torch-Pruning's `MagnitudePruner` are in `benchmarks/zoo_results.md`. Layers whose\n"
                   "channels cannot change safely (the classifier, attention heads, shuffled and windowed channels) keep\n"
                   "their width; their masked channels stay zeroed, so masked and compacted outputs still agree.\n\n"
                   + table + "\n\n")
        anchor = "## Development"
        text = text.replace(anchor, section + anchor, 1) if anchor in text else text.rstrip() + "\n\n" + section
    readme.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--models", default="", help="comma-separated subset of the zoo")
    ap.add_argument("--mem", type=float, default=6.0, help="GB cap per process")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per process")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "zoo_results.md"))
    ap.add_argument("--readme", nargs="?", const=str(ROOT / "test-artifacts" / "zoo_results.json"))
    a = ap.parse_args()
    if a.child:
        _child(a.child[0], a.child[1], float(a.child[2]))
        return
    if a.readme:
        write_readme(Path(a.readme))
        print(f"README.md: Supported models table from {a.readme}")
        return
    from labkit.models.torchvision_zoo import ZOO

    names = [n for n in a.models.split(",") if n] or [e.name for e in ZOO]
    Path(a.out).write_text(bench(names, a.mem, a.timeout))
    print(f"written to {a.out}")


if __name__ == "__main__":
    main()
