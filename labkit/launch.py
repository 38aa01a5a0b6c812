"""Open the marimo lab on any model, checkpoint and dataset: ``labkit lab`` and the notebook's arguments.

One set of flags, read in two places:

* ``labkit lab --model resnet32 --checkpoint run.safetensors --dataset cifar100-lt --root ~/data``
  checks them (:func:`parse_lab_args`; bad input is one line and exit code 2, nothing started),
  then serves ``notebooks/lab.py`` with ``marimo run`` (``--edit``: ``marimo edit``) on
  127.0.0.1 with a fresh access token, passing the same flags after ``--``, and prints the URL;
* the notebook reads them back from ``mo.cli_args()`` (:func:`notebook_lab_args`) and opens the
  lab with :func:`open_lab`, so ``marimo edit notebooks/lab.py -- --model resnet20 --dataset
  digits-lt`` does the same by hand. Without ``--model`` the notebook offers the shipped
  checkpoints in a dropdown, as before.

Weights, in this order: ``--checkpoint FILE`` (a ``labkit train`` checkpoint; its metadata must
name ``--model``, and its ``dataset_kwargs`` are the defaults of the data flags); the shipped
checkpoint for (model, dataset); a torchvision model's ImageNet weights from the local torch
cache (``resnet18``, ``vgg16``, with a fresh head when the class count differs).

The notebook is found next to the package (``<repo>/notebooks/lab.py``), which is where a
source checkout installed with ``pip install -e .`` has it; another copy is named with
``--notebook``.

Example:
    >>> a = parse_lab_args(["--model", "resnet20", "--dataset", "digits-lt", "--imbalance", "20"])
    >>> a.model, a.dataset, a.data_flags()
    ('resnet20', 'digits-lt', {'imbalance': 20.0})
    >>> notebook_args({"model": "resnet20", "dataset": "digits-lt", "smoke": ""})
    ['--model', 'resnet20', '--dataset', 'digits-lt', '--smoke']
"""
from __future__ import annotations

import argparse
import inspect
import os
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .lab import Lab

__all__ = ["LaunchError", "LabArgs", "add_lab_flags", "parse_lab_args", "check_lab_args", "notebook_args", "notebook_lab_args",
           "open_lab", "lab_notebook", "marimo_command", "serve"]

#: Where a source checkout keeps the lab: ``<repo>/notebooks/lab.py`` beside ``<repo>/labkit``.
LAB_NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "lab.py"
_DEVICES = "auto, cpu, cuda, cuda:N or mps"


class LaunchError(ValueError):
    """Bad ``labkit lab`` input: the message names what was wrong and the fix (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would print usage and exit; the caller decides
        raise LaunchError(message)


def add_lab_flags(p: argparse.ArgumentParser) -> None:
    """The flags ``labkit lab`` and the notebook share."""
    p.add_argument("--model", default=None, help="model name (see `labkit list`), e.g. resnet32 or resnet18")
    p.add_argument("--checkpoint", default=None,
                   help="a .safetensors checkpoint written by `labkit train`; default: the shipped one for "
                        "(model, dataset), or a torchvision model's ImageNet weights from the torch cache")
    p.add_argument("--dataset", default=None,
                   help="dataset name (see `labkit list`); default: the checkpoint's, else digits-lt")
    p.add_argument("--root", default=None, help="folder holding the dataset files (CIFAR, ImageNet-LT, image folder)")
    p.add_argument("--imbalance", type=float, default=None, help="imbalance factor n_max / n_min of *-lt datasets (>= 1)")
    p.add_argument("--size", type=int, default=None, help="image side in pixels (digits, image folders)")
    p.add_argument("--data-seed", type=int, default=None, help="seed of the held-out splits (default: the checkpoint's)")
    p.add_argument("--device", default="auto", help=f"{_DEVICES} (default auto: cuda, then mps, then cpu)")
    p.add_argument("--smoke", action="store_true", help="tiny CI settings (what `-- --smoke` does for every notebook)")


@dataclass(frozen=True)
class LabArgs:
    """What the lab opens: checked by :func:`parse_lab_args` (paths expanded and made absolute)."""

    model: str | None = None
    dataset: str | None = None
    checkpoint: str | None = None
    root: str | None = None
    imbalance: float | None = None
    size: int | None = None
    data_seed: int | None = None
    device: str = "auto"
    smoke: bool = False

    def data_flags(self) -> dict[str, Any]:
        """The data options given explicitly, as :func:`labkit.data.load_dataset` keywords."""
        kw: dict[str, Any] = {"root": self.root, "imbalance": self.imbalance, "size": self.size,
                              "seed": self.data_seed}
        return {k: v for k, v in kw.items() if v is not None}

    def argv(self) -> list[str]:
        """The flags again, for ``marimo ... -- <argv>``."""
        out: list[str] = []
        for flag, value in (("model", self.model), ("checkpoint", self.checkpoint), ("dataset", self.dataset),
                            ("root", self.root), ("imbalance", self.imbalance), ("size", self.size),
                            ("data-seed", self.data_seed)):
            if value is not None:
                out += [f"--{flag}", str(value)]
        if self.device != "auto":
            out += ["--device", self.device]
        return out + (["--smoke"] if self.smoke else [])


def _check_device(device: str) -> None:
    import torch

    from .runtime import resolve_device

    if device != "auto":
        try:
            torch.device(device)
        except RuntimeError:
            raise LaunchError(f"--device {device!r} is not a device; use {_DEVICES}") from None
    try:
        resolve_device(device)
    except RuntimeError:
        raise LaunchError(f"--device {device!r} is not available on this machine; use --device auto or cpu") from None


def _checkpoint_meta(path: Path, model: str | None) -> dict[str, Any]:
    from .models.checkpoints import CheckpointError, load_checkpoint

    if path.suffix != ".safetensors":
        raise LaunchError(f"--checkpoint {path}: not a .safetensors file (labkit never reads pickles); "
                          "pass a checkpoint written by `labkit train --out FILE.safetensors`")
    if not path.is_file():
        raise LaunchError(f"--checkpoint {path}: no such file; pass the path `labkit train --out` wrote")
    try:
        _, meta = load_checkpoint(path)
    except CheckpointError as err:
        raise LaunchError(f"--checkpoint {path}: {err}") from None
    if model is not None and meta.get("model") != model:
        raise LaunchError(f"--checkpoint {path} holds a {meta.get('model')!r}, not a {model!r}; "
                          f"pass --model {meta.get('model')} (or leave --model out)")
    return meta


def _missing_weights(model: str, dataset: str) -> str | None:
    """Why (model, dataset) has no weights to open without ``--checkpoint``; ``None`` when it has."""
    from .models import get_model
    from .models.checkpoints import checkpoint_path

    if checkpoint_path(model, dataset).is_file():
        return None
    hint = f"pass --checkpoint FILE (made by `labkit train --model {model} --dataset {dataset} --out FILE.safetensors`)"
    if "pretrained" not in inspect.signature(get_model(model)).parameters:
        return f"no trained weights for {model} on {dataset}: {hint}"
    from torchvision.models import get_model_weights

    from .models.torchvision_adapters import hub_checkpoint_path

    weights = get_model_weights(model)
    path = hub_checkpoint_path(getattr(weights, "IMAGENET1K_V1", weights.DEFAULT).url)
    if path.is_file():
        return None
    return (f"{model}'s ImageNet weights are not in the torch cache: put {path.name} in {path.parent} "
            f"(labkit never downloads), or {hint}")


def parse_lab_args(argv: Sequence[str]) -> LabArgs:
    """Read and check the lab's flags; every problem raises :class:`LaunchError` naming the fix.

    Checked before anything starts: the model and dataset names (the valid ones are listed), the
    checkpoint (exists, is a labkit checkpoint of ``--model``), that weights exist at all, the
    root folder, flags the dataset does not take, ``--imbalance >= 1``, ``--size >= 1`` and the device.
    """
    p = _Parser(prog="labkit lab", add_help=False)
    add_lab_flags(p)
    return check_lab_args(p.parse_args(list(argv)))


def check_lab_args(ns: argparse.Namespace) -> LabArgs:
    """:func:`parse_lab_args` on flags argparse has read already (``labkit lab``'s own parser)."""
    from .data import get_dataset, list_datasets
    from .models import list_models

    meta: dict[str, Any] = {}
    if ns.model is not None and ns.model not in list_models():
        raise LaunchError(f"unknown model {ns.model!r}; models: {', '.join(list_models())}")
    ckpt = None
    if ns.checkpoint is not None:
        path = Path(ns.checkpoint).expanduser().resolve()
        meta = _checkpoint_meta(path, ns.model)
        ckpt = str(path)
    model = ns.model or meta.get("model")
    if model is None and (ns.dataset is not None or ns.root is not None):
        raise LaunchError(f"--dataset / --root need --model (or --checkpoint); models: {', '.join(list_models())}")
    dataset = ns.dataset or meta.get("dataset") or ("digits-lt" if model is not None else None)
    if dataset is not None and dataset not in list_datasets():
        raise LaunchError(f"unknown dataset {dataset!r}; datasets: {', '.join(list_datasets())}")
    root = None
    if ns.root is not None:
        rp = Path(ns.root).expanduser().resolve()
        if not rp.is_dir():
            raise LaunchError(f"--root {ns.root}: no such folder; pass the folder that holds the dataset files")
        root = str(rp)
    args = LabArgs(model, dataset, ckpt, root, ns.imbalance, ns.size, ns.data_seed, ns.device, ns.smoke)
    if dataset is not None:
        takes = inspect.signature(get_dataset(dataset)).parameters
        for key, flag in (("root", "--root"), ("imbalance", "--imbalance"), ("size", "--size"),
                          ("seed", "--data-seed")):
            if key in args.data_flags() and key not in takes:
                raise LaunchError(f"dataset {dataset!r} does not take {flag}; leave it out")
        if "root" in takes and takes["root"].default is inspect.Parameter.empty and root is None:
            raise LaunchError(f"dataset {dataset!r} needs --root (the folder that holds its files)")
    if ns.imbalance is not None and not ns.imbalance >= 1:
        raise LaunchError(f"--imbalance {ns.imbalance:g}: the imbalance factor n_max / n_min must be >= 1")
    if ns.size is not None and ns.size < 1:
        raise LaunchError(f"--size {ns.size}: the image side must be a positive number of pixels")
    missing = _missing_weights(model, dataset) if model is not None and dataset is not None and ckpt is None else None
    if missing:
        raise LaunchError(missing)
    _check_device(ns.device)
    return args


def notebook_args(cli_args: Mapping[str, Any]) -> list[str]:
    """``mo.cli_args()`` (marimo's parsed ``-- --model resnet20 ...``) back into an argv list."""
    out: list[str] = []
    for key, value in cli_args.items():
        if isinstance(value, list):
            raise LaunchError(f"--{key} was given {len(value)} times; give it once")
        out += [f"--{key}"] if value == "" else [f"--{key}", str(value)]
    return out


def notebook_lab_args(cli_args: Mapping[str, Any]) -> LabArgs | None:
    """The lab's arguments in a notebook, or ``None`` when none but ``--smoke`` were given."""
    if not set(cli_args) - {"smoke"}:
        return None
    return parse_lab_args(notebook_args(cli_args))


def open_lab(args: LabArgs, **lab_kwargs: Any) -> Lab:
    """The :class:`~labkit.lab.Lab` that ``args`` describe (see the module docstring for the weights)."""
    from .data import load_dataset
    from .lab import Lab
    from .models import load_model
    from .models.checkpoints import checkpoint_path, load_checkpoint

    if args.model is None or args.dataset is None:
        raise LaunchError("open_lab needs a model and a dataset (pass --model, --dataset)")
    if args.checkpoint is not None:
        state, meta = load_checkpoint(args.checkpoint)
        model = load_model(args.model, num_classes=int(meta["num_classes"]), in_channels=int(meta["in_channels"]))
        model.load_state_dict(state, strict=True)
        model.labkit_meta = meta  # type: ignore[assignment]  # what the Lab checks the data against
    elif checkpoint_path(args.model, args.dataset).is_file():
        model = load_model(args.model, dataset=args.dataset, pretrained=True)
    else:
        model = None
    base = dict(getattr(model, "labkit_meta", {}).get("dataset_kwargs", {})) if model is not None else {}
    base.pop("root", None)  # the training machine's folder: ours is --root
    data = load_dataset(args.dataset, **{**base, **args.data_flags()})
    if model is None:  # torchvision's ImageNet weights, a fresh head when the class count differs
        model = load_model(args.model, pretrained=True, num_classes=data.num_classes, in_channels=data.input_shape[0])
    lab = Lab(model, data, device=None if args.device == "auto" else args.device, **lab_kwargs)
    lab.model_name = args.model
    return lab


# --- serving ------------------------------------------------------------------------------------------
def lab_notebook(path: str | os.PathLike[str] | None = None) -> Path:
    """The lab notebook: ``path`` if given, else ``<repo>/notebooks/lab.py`` beside the package."""
    nb = Path(path).expanduser() if path is not None else LAB_NOTEBOOK
    if not nb.is_file():
        raise LaunchError(f"no lab notebook at {nb}: it ships with the source tree (git clone, then "
                          "pip install -e '.[lab]'), or pass --notebook PATH")
    return nb.resolve()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def marimo_command(args: LabArgs, notebook: Path, port: int, token: str, edit: bool = False) -> list[str]:
    """The ``marimo run|edit`` command that serves ``notebook`` on 127.0.0.1 with ``args`` after ``--``."""
    cmd = [sys.executable, "-m", "marimo", "-q", "edit" if edit else "run", str(notebook), "--headless",
           "--host", "127.0.0.1", "--port", str(port), "--token", "--token-password", token, "--no-sandbox"]
    rest = args.argv()
    return cmd + (["--", *rest] if rest else [])


def serve(args: LabArgs, *, port: int | None = None, edit: bool = False,
          notebook: str | os.PathLike[str] | None = None) -> int:
    """Serve the lab until Ctrl-C; print its URL (with the access token) first. Returns the exit code."""
    if port is not None and not 1 <= port <= 65535:
        raise LaunchError(f"--port {port}: pick a port in 1..65535 (or leave it out for a free one)")
    nb = lab_notebook(notebook)
    port = port or _free_port()
    token = secrets.token_urlsafe(16)
    env = {**os.environ, "MARIMO_SKIP_UPDATE_CHECK": "1"}
    proc = subprocess.Popen(marimo_command(args, nb, port, token, edit), env=env)
    print(f"labkit lab: {args.model or 'shipped checkpoints'} on {args.dataset or 'digits-lt'} at "
          f"http://127.0.0.1:{port}/?access_token={token}  (Ctrl-C stops it)", flush=True)
    def stop(*_: Any) -> None:
        raise KeyboardInterrupt

    try:  # a SIGTERM to labkit stops marimo too (signals can be caught in the main thread only)
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:
        previous = None
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        return 0
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def main(ns: argparse.Namespace) -> int:
    """``labkit lab``: check the flags and serve (see :func:`serve`); bad input prints one line, returns 2."""
    try:
        args = check_lab_args(ns)
        return serve(args, port=ns.port, edit=ns.edit, notebook=ns.notebook)
    except LaunchError as err:
        print(f"labkit lab: error: {err}", file=sys.stderr)
        return 2
