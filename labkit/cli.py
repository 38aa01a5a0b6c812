"""The ``labkit`` command line: ``train``, ``eval``, ``report``, ``lab``, ``export-lab``, ``study`` and ``list``.

Every flag is explained by ``labkit <command> --help``. The shipped checkpoints in
``labkit/models/assets/`` were made with ``labkit train`` (the exact commands are in the README),
so anyone can regenerate and check them.

Example:
    $ labkit train --model resnet20 --dataset digits-lt --imbalance 20 --epochs 60 \\
          --out labkit/models/assets/resnet20__digits-lt.safetensors
    $ labkit eval --model resnet20 --dataset digits-lt
    $ labkit lab --model resnet32 --checkpoint run.safetensors --dataset cifar100-lt --root ~/data
    $ labkit study longtail --smoke --out /tmp/longtail.csv    # = python -m labkit.studies.longtail ...
    $ torchrun --nproc_per_node 2 -m labkit.cli train ...   # data-parallel (labkit.training.distributed)
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from typing import Any

from .cli_input import OneLineParser, run_cli
from .errors import UnknownNameError

__all__ = ["main", "build_parser"]


def _dataset_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    kw: dict[str, Any] = {"seed": args.data_seed}
    if args.imbalance is not None:
        kw["imbalance"] = args.imbalance
    if args.size is not None:
        kw["size"] = args.size
    if args.root is not None:
        kw["root"] = args.root
    return kw


def _add_data_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="digits-lt",
                   help="dataset name (see `labkit list`); default: the embedded, offline digits-lt")
    p.add_argument("--imbalance", type=float, default=None,
                   help="long-tail imbalance factor IF = n_max / n_min for *-lt datasets (>= 1)")
    p.add_argument("--size", type=int, default=None,
                   help="image side in pixels for digits (8, 16 or 32; default 16)")
    p.add_argument("--root", default=None, help="folder holding the dataset files (CIFAR, ImageNet-LT, ...)")
    p.add_argument("--data-seed", type=int, default=0,
                   help="seed of the held-out splits and the long-tail class order (default 0)")


#: ``labkit train``'s settings without ``--recipe`` (each flag overrides one).
_PLAIN: dict[str, Any] = {"epochs": 60, "lr": 1e-3, "optimizer": "adam", "weight_decay": 5e-4, "batch_size": 64,
                          "schedule": "cosine", "loss": "ce"}


def _recipes() -> list[str]:
    from .training.recipes import list_recipes

    return list_recipes()


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="labkit", description="labkit: a pruning lab.")  # bad flags: one line, exit 2
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model from scratch and save a safetensors checkpoint",
                       description="Train a model on a dataset and write a checkpoint (atomic, resumable).")
    t.add_argument("--model", default="resnet20", help="model name (see `labkit list`)")
    _add_data_flags(t)
    t.add_argument("--recipe", default=None, choices=_recipes(),
                   help="a published recipe (labkit.training.list_recipes()): optimizer, lr schedule, batch, "
                        "epochs, loss, crop + flip; the flags below override it. ldam-drw: Cao et al. 2019")
    t.add_argument("--epochs", type=int, default=None, help=f"training epochs (default {_PLAIN['epochs']})")
    t.add_argument("--lr", type=float, default=None, help=f"learning rate (default {_PLAIN['lr']}, Adam)")
    t.add_argument("--optimizer", choices=["adam", "sgd"], default=None, help="optimizer (default adam)")
    t.add_argument("--weight-decay", type=float, default=None, help=f"weight decay (default {_PLAIN['weight_decay']})")
    t.add_argument("--batch-size", type=int, default=None,
                   help=f"mini-batch size (default {_PLAIN['batch_size']}); under torchrun the global batch, "
                        "split over the processes")
    t.add_argument("--schedule", choices=["none", "cosine", "step", "warmup_step"], default=None,
                   help="learning-rate schedule (default cosine)")
    t.add_argument("--loss", default=None, help="training loss (see labkit.training.list_losses(); default ce)")
    t.add_argument("--seed", type=int, default=0, help="seed of initialisation and batch order (default 0)")
    t.add_argument("--device", default="auto", help="cuda, mps, cpu or auto (default: cuda, then mps, then cpu)")
    t.add_argument("--amp", choices=["auto", "off", "bf16", "fp16"], default="auto",
                   help="mixed precision (default auto: bf16 on CUDA, fp16 + loss scaling before Ampere; "
                        "float32 on MPS and CPU)")
    t.add_argument("--subset", type=int, default=None, metavar="N",
                   help="smoke run: train, validate and test on N seeded items of each split (the loss keeps "
                        "the full training class counts); the checkpoint records it")
    t.add_argument("--out", required=True, help="checkpoint path to write (.safetensors)")
    t.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from <out>.run.safetensors (same settings; written every epoch)")
    t.add_argument("--ship", action="store_true",
                   help="also record the file's sha256 in labkit/models/assets/manifest.json")

    e = sub.add_parser("eval", help="per-class evaluation of a shipped or given checkpoint",
                       description="Evaluate a model on a dataset's test split: overall, balanced, "
                                   "many/medium/few accuracy with 95%% bootstrap intervals.")
    e.add_argument("--model", default="resnet20", help="model name (default resnet20)")
    _add_data_flags(e)
    e.add_argument("--checkpoint", default=None,
                   help="a .safetensors checkpoint; default: the shipped one for (model, dataset)")
    e.add_argument("--device", default="auto", help="cuda, mps, cpu or auto")
    e.add_argument("--per-class", action="store_true", help="also print the per-class table")
    e.add_argument("--json", action="store_true", help="print the summary as JSON")

    r = sub.add_parser("report", help="write a static HTML pruning report",
                       description="Prune the default model at several operating points and write a "
                                   "self-contained HTML report (figures, plan, seed, versions).")
    r.add_argument("--model", default="resnet20", help="model name (default resnet20)")
    r.add_argument("--dataset", default="digits-lt", help="dataset name (default digits-lt)")
    r.add_argument("--criterion", default="magnitude", help="pruning criterion (default magnitude)")
    r.add_argument("--mode", default="global", help="allocation mode: global, uniform or layered")
    r.add_argument("--sparsities", default="0.1,0.3,0.5,0.7,0.9",
                   help="comma-separated operating points (default 0.1,0.3,0.5,0.7,0.9)")
    r.add_argument("--granularity", default="weight", choices=["weight", "filter"],
                   help="prune single weights or whole filters (default weight)")
    r.add_argument("--baselines", default="random",
                   help="comma-separated criteria measured at the same points and drawn beside (default random)")
    r.add_argument("--verdicts", default=None,
                   help="folder of committed study results whose PASS / FAIL tables to append "
                        "(default notebooks/studies/results when present)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    r.add_argument("--out", default="report.html", help="output HTML path (default report.html)")
    g = r.add_argument_group("cluster (Ray; pip install 'labkit[dist]')")
    g.add_argument("--ray", action="store_true", help="measure the operating points on a local Ray (actors)")
    g.add_argument("--address", default=None, help="join a Ray cluster: auto, HOST:6379 or ray://HOST:10001")
    g.add_argument("--cpus-per-task", type=float, default=1.0, help="CPUs per actor (default 1)")
    g.add_argument("--gpus-per-task", type=float, default=0.0, help="GPUs per actor (default 0)")

    x = sub.add_parser("export-lab", help="export the marimo lab (or any marimo notebook) to HTML that opens offline",
                       description="Run a marimo notebook and write a static snapshot of it as one HTML file: "
                                   "figures, tables and styles inline, no CDN, no scripts (opens offline). "
                                   "Needs Playwright and a Chromium (apt-get install chromium). Arguments "
                                   "after -- go to the notebook: labkit export-lab lab.html -- --smoke")
    x.add_argument("out", nargs="?", default="lab.html", help="output HTML path (default lab.html)")
    x.add_argument("--notebook", default="notebooks/lab.py", help="marimo notebook (default notebooks/lab.py)")
    x.add_argument("--include-code", action="store_true", help="keep the cells' code in the page")
    x.add_argument("--screenshot", default=None, help="also save a PNG of the rendered page here")

    lb = sub.add_parser("lab", help="open the marimo lab on a model, checkpoint and dataset (prints the URL)",
                        description="Serve notebooks/lab.py on 127.0.0.1 with an access token, opened on the given "
                                    "model, checkpoint and dataset (see labkit.launch). Bad input: one line, exit 2.")
    from .launch import add_lab_flags

    add_lab_flags(lb)
    lb.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: a free one)")
    lb.add_argument("--edit", action="store_true", help="marimo edit (cells and code) instead of marimo run (the app)")
    lb.add_argument("--notebook", default=None, help="the lab notebook (default: notebooks/lab.py of the source tree)")

    st = sub.add_parser("study", help="run a method study (same as python -m labkit.studies.NAME)",
                        description="Run one of the method studies of docs/methods.md; every argument after NAME "
                                    "goes to the study (labkit study NAME --help lists them).")
    st.add_argument("name", choices=_STUDIES, help="the study")
    st.add_argument("args", nargs=argparse.REMAINDER, help="the study's arguments, e.g. --smoke --out results.csv")

    sub.add_parser("list", help="list datasets, models, criteria and merge modes")
    return parser


_STUDIES = ("longtail", "csasml", "optimized", "transfer", "dominos")


def _study(name: str, args: Sequence[str]) -> int:
    """``labkit study NAME ...``: the study's own command line (it exits 2 on bad input, 1 on failed units)."""
    import importlib

    try:
        importlib.import_module(f"labkit.studies.{name}").main(list(args))
    except SystemExit as done:  # the study's exit code (2 bad input, 1 failed units, 0 --help) as ours
        return done.code if isinstance(done.code, int) else 1
    return 0


def _train(args: argparse.Namespace) -> int:
    from .analysis import evaluate
    from .cli_input import check_resume, check_train_flags
    from .data import load_dataset
    from .models import load_model
    from .models.checkpoints import save_checkpoint, update_manifest
    from .runtime import resolve_device, seed_everything, versions
    from .training import FitConfig, fit, get_recipe
    from .training.distributed import close, init_from_env

    out = check_train_flags(args)  # every flag and the output path, before any work
    ctx = init_from_env(args.device)  # under torchrun: one process per GPU (NCCL) or CPU slot (gloo)
    dkw = _dataset_kwargs(args)
    data = load_dataset(args.dataset, **dkw)
    seed_everything(args.seed)
    model = load_model(args.model, dataset=args.dataset, pretrained=False,
                       num_classes=data.num_classes, in_channels=data.input_shape[0])
    device = ctx.device if ctx is not None else resolve_device(args.device)
    flags = {k: getattr(args, k) for k in _PLAIN if getattr(args, k) is not None}
    if args.recipe is not None:
        rec = get_recipe(args.recipe)
        recipe = rec.fit_config(data, seed=args.seed, device=device, amp=args.amp, **flags)
        model = rec.prepare(model)
    else:
        recipe = FitConfig(**{**_PLAIN, **flags}, class_counts=data.class_counts, seed=args.seed, device=device,
                           amp=args.amp)
    if args.resume:  # refuse another model or fewer epochs than done, keeping the run state
        check_resume(out.with_suffix(".run.safetensors"), epochs=recipe.epochs, model=args.model,
                     model_keys={k: tuple(v.shape) for k, v in model.state_dict().items()})
    config = {k: getattr(recipe, k) for k in _PLAIN} | {"seed": args.seed}
    config.update({"recipe": args.recipe} if args.recipe else {})
    splits = {n: _cut(getattr(data, n), args.subset, args.seed) for n in ("train", "val", "test")}
    if len(splits["train"]) * math.prod(data.input_shape) < 2**28:  # < 1 GiB: batches index device tensors
        splits["train"].tensors()
    hist = fit(model, splits["train"], recipe, val=splits["val"], checkpoint=out.with_suffix(".run.safetensors"),
               resume=args.resume)
    if args.recipe is not None:
        model = rec.finish(model)  # a cosine head folds into nn.Linear: same predictions, loadable
    if ctx is not None:
        if not ctx.is_main:  # rank 0 evaluates and writes; the others hold the same weights
            close()
            return 0
        config["world_size"] = ctx.world  # batch_size stays the global batch
    rep = evaluate(model, splits["test"], groups=data.groups, classes=data.classes,
                   class_counts=data.class_counts, device=device)
    metrics: dict[str, float | None] = {"test_overall": rep.overall, "test_balanced": rep.balanced,
               **{f"test_{g}": v for g, v in rep.by_group.items()}}
    # A balanced set has no medium / few classes: their accuracy is NaN, which JSON cannot hold.
    metrics = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in metrics.items()}
    meta = {"model": args.model, "dataset": args.dataset, "dataset_kwargs": dkw,
            "num_classes": data.num_classes, "in_channels": data.input_shape[0],
            "input_shape": list(data.input_shape), "train": config, "metrics": metrics,
            **({"recipe": rec.describe()} if args.recipe else {}),
            **({"subset": args.subset} if args.subset else {}),
            "final_train_loss": float(hist.to_frame()["loss"].iloc[-1]),
            "train_loss": [float(v) for v in hist.loss],
            "command": "labkit " + " ".join(sys.argv[1:]), "versions": versions()}
    save_checkpoint(model.cpu(), out, meta)
    if args.ship:
        update_manifest(out)
    out.with_suffix(".run.safetensors").unlink(missing_ok=True)
    print(json.dumps(metrics, indent=2))
    print(f"wrote {out}")
    if ctx is not None:
        close()
    return 0


def _cut(split: Any, n: int | None, seed: int) -> Any:
    """``n`` seeded items of ``split`` (``--subset``; the split itself when ``n`` is None or larger)."""
    if n is None or n >= len(split):
        return split
    import numpy as np

    return split.subset(np.sort(np.random.default_rng(seed).permutation(len(split))[:n]))


def _eval(args: argparse.Namespace) -> int:
    from .analysis import evaluate
    from .cli_input import check_device
    from .data import list_datasets, load_dataset
    from .models import load_model
    from .models.checkpoints import load_checkpoint
    from .models.checks import check_finite
    from .runtime import resolve_device

    check_device(args.device)
    if args.dataset not in list_datasets():  # not reported as a missing checkpoint
        raise UnknownNameError(f"--dataset {args.dataset!r} is not a dataset; known: {', '.join(list_datasets())}")
    if args.checkpoint:
        state, meta = load_checkpoint(args.checkpoint)
        if meta.get("model") != args.model:
            raise SystemExit(f"{args.checkpoint} holds a {meta.get('model')!r}, not a {args.model!r}; "
                             f"pass --model {meta.get('model')}")
        check_finite(state, f"checkpoint {args.checkpoint}")
        dkw = meta.get("dataset_kwargs", {})
        data = load_dataset(meta.get("dataset", args.dataset), **dkw)
        model = load_model(args.model, num_classes=meta["num_classes"], in_channels=meta["in_channels"])
        model.load_state_dict(state, strict=True)
    else:
        model = load_model(args.model, dataset=args.dataset, pretrained=True)
        dkw = getattr(model, "labkit_meta", {}).get("dataset_kwargs", _dataset_kwargs(args))
        data = load_dataset(args.dataset, **dkw)
    check_finite(model, f"the {args.model} checkpoint")
    rep = evaluate(model, data.test, groups=data.groups, classes=data.classes,
                   class_counts=data.class_counts, device=resolve_device(args.device))
    if args.json:
        print(json.dumps({"overall": rep.overall, "balanced": rep.balanced, **rep.by_group,
                          "ci": {k: list(v) for k, v in rep.ci.items()}}, indent=2))
    else:
        print(rep.summary().to_string(index=False))
        if args.per_class:
            print(rep.per_class.to_string(index=False))
    return 0


def _list(_: argparse.Namespace) -> int:
    from .criteria import list_criteria
    from .data import list_datasets
    from .models import list_models
    from .pruning import list_merge_modes

    for title, names in (("datasets", list_datasets()), ("models", list_models()),
                         ("criteria", list_criteria()), ("merge modes", list_merge_modes())):
        print(f"{title}: {', '.join(names)}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from .cli_input import number_list
    from .outputs import check_output_path
    from .report import write_report

    sparsities = number_list(args.sparsities, flag="--sparsities", lo=0.0, hi=1.0)
    check_output_path(args.out, flag="--out")  # before minutes of pruning
    baselines = [b.strip() for b in args.baselines.split(",") if b.strip()]
    points = None
    if args.ray or args.address:  # every point on a Ray actor that loads the model and data once
        from functools import partial

        from .lab import Lab
        from .report import _measure
        from .studies._ray import Cluster, sweep_on_ray

        cluster = Cluster(ray=True, address=args.address, cpus_per_task=args.cpus_per_task,
                          gpus_per_task=args.gpus_per_task)
        criteria = [args.criterion] + [b for b in baselines if b != args.criterion]
        points = sweep_on_ray(partial(Lab, args.model, args.dataset, seed=args.seed), criteria, sparsities,
                              mode=args.mode, granularity=args.granularity, measure=partial(_measure, progress=False),
                              cluster=cluster)
    path = write_report(args.out, model=args.model, dataset=args.dataset, criterion=args.criterion,
                        mode=args.mode, sparsities=sparsities, seed=args.seed, granularity=args.granularity,
                        baselines=baselines, verdicts=args.verdicts or True, progress=not args.no_progress,
                        points=points)
    print(f"wrote {path}")
    return 0


def _lab(args: argparse.Namespace) -> int:
    from .launch import main as launch_lab

    return launch_lab(args)


def _export_lab(args: argparse.Namespace) -> int:
    from .export import export_notebook

    path = export_notebook(args.notebook, args.out, args=args.notebook_args, include_code=args.include_code,
                           screenshot=args.screenshot)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, opens offline)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["study"] and len(argv) > 1 and argv[1] in _STUDIES:  # the rest is the study's, `--` included
        return _study(argv[1], argv[2:])
    rest: list[str] = []
    if "--" in argv:  # what follows `--` belongs to the notebook (export-lab), as for `marimo export`
        cut = argv.index("--")
        argv, rest = argv[:cut], argv[cut + 1:]
    args = build_parser().parse_args(argv)
    if rest and args.command != "export-lab":
        print(f"labkit {args.command}: error: unexpected arguments after --: {' '.join(rest)}", file=sys.stderr)
        return 2
    args.notebook_args = rest
    handlers = {"train": _train, "eval": _eval, "list": _list, "report": _report, "export-lab": _export_lab,
                "lab": _lab}
    return run_cli(f"labkit {args.command}", lambda: handlers[args.command](args))  # bad input: one line, exit 2


if __name__ == "__main__":
    raise SystemExit(main())
