"""Command-line input checked before any work: numbers, lists, devices, resumed runs, one-line errors.

Every ``labkit`` subcommand (and every study command) ends bad input the same way: one line
``<prog>: error: <what was wrong, the valid values, the fix>`` on stderr and exit code 2, no
traceback (:func:`run_cli`). Flags are checked up front by the helpers here, so a mistake
costs a second, not the run.

Example:
    >>> number_list("0.1,0.5", flag="--sparsities", lo=0.0, hi=1.0)
    [0.1, 0.5]
    >>> number_list("0.5,abc", flag="--sparsities", lo=0.0, hi=1.0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    labkit.errors.OptionError: --sparsities: 'abc' is not a number; give comma-separated numbers in [0.0, 1.0)...
"""
from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from .errors import MismatchError, OptionError, cli_errors, one_line

__all__ = ["OneLineParser", "number_list", "at_least", "check_device", "check_resume", "check_train_flags",
           "run_cli"]

DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (``prog: error: ...; see prog --help``), exit code 2."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {one_line(Exception(message))} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def number_list(text: str, *, flag: str, lo: float, hi: float, closed: bool = False) -> list[float]:
    """Comma-separated numbers in ``[lo, hi)`` (``[lo, hi]`` if ``closed``); an empty list is refused."""
    out: list[float] = []
    rng = f"[{lo}, {hi}{']' if closed else ')'}"
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        try:
            v = float(item)
        except ValueError:
            raise OptionError(f"{flag}: {item!r} is not a number; give comma-separated numbers in {rng}, "
                              f"e.g. {flag} 0.1,0.5,0.9") from None
        if math.isnan(v) or v < lo or v > hi or (v == hi and not closed):
            raise OptionError(f"{flag}: {item} is outside {rng}; e.g. {flag} 0.1,0.5,0.9")
        out.append(v)
    if not out:
        raise OptionError(f"{flag} is empty; give comma-separated numbers in {rng}, e.g. {flag} 0.1,0.5,0.9")
    return out


def at_least(value: Any, low: float, *, flag: str, example: str) -> None:
    """Refuse ``value`` below ``low`` (or NaN), naming the flag and an example."""
    if value is not None and (isinstance(value, float) and math.isnan(value) or value < low):
        raise OptionError(f"{flag} must be >= {low:g}, got {value}; e.g. {flag} {example}")


def check_device(device: str, *, flag: str = "--device") -> None:
    """``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``, and available on this machine."""
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", device):
        raise OptionError(f"{flag} {device!r} is not a device labkit runs on; valid: {', '.join(DEVICES)} "
                          f"(auto picks cuda, then mps, then cpu)")
    from .runtime import resolve_device

    try:
        resolve_device(device)
    except RuntimeError as err:
        raise OptionError(f"{flag} {device}: {err}") from None


def check_resume(run_state: Path, *, epochs: int, model_keys: dict[str, tuple[int, ...]], model: str) -> None:
    """Refuse a ``--resume`` that asks for another run than the one saved in ``run_state``; nothing is deleted.

    ``model_keys`` are the ``{name: shape}`` of the freshly built ``--model``: a run state holding
    other tensors was written for another architecture.
    """
    if not run_state.exists():
        return
    from .training.checkpoint import load_train_state

    state = load_train_state(run_state)
    done = int(state.meta.get("epoch", 0))
    saved = {k: tuple(v.shape) for k, v in state.model.items()}
    if saved != model_keys:
        differ = sorted(set(saved) ^ set(model_keys)) or [k for k in saved if saved[k] != model_keys.get(k)]
        raise MismatchError(f"--resume: the run state {run_state} was written for another model than --model {model} "
                            f"({len(differ)} tensor(s) differ, e.g. {differ[0]}); pass the --model of that run, or "
                            f"another --out to start a new one (the run state is kept)")
    if epochs < done:
        raise MismatchError(f"--resume: the run state {run_state} has {done} epoch(s) done, more than --epochs {epochs}; "
                            f"pass --epochs {done} or more, or another --out to start a new run (the run state is kept)")


def check_train_flags(args: argparse.Namespace) -> Path:
    """``labkit train``'s flags and ``--out`` checked (a temp file written there) before any work."""
    from .outputs import check_output_path

    if isinstance(args.epochs, int) and args.epochs < 1:
        raise OptionError(f"--epochs must be >= 1, got {args.epochs}; e.g. --epochs 60")
    for flag, value, low, example in (("--batch-size", args.batch_size, 1, "64"), ("--imbalance", args.imbalance, 1, "20"),
                                      ("--weight-decay", args.weight_decay, 0, "5e-4")):
        at_least(value, low, flag=flag, example=example)
    if args.subset is not None and args.subset < 1:
        raise OptionError(f"--subset must be a positive number of items, got {args.subset}; e.g. --subset 512")
    if args.lr is not None and not args.lr > 0:
        raise OptionError(f"--lr must be > 0, got {args.lr}; e.g. --lr 1e-3")
    check_device(args.device)
    return check_output_path(args.out, suffix=".safetensors", flag="--out")


def run_cli(prog: str, handler: Callable[[], int]) -> int:
    """``handler()``'s exit code, or 2 after one line on stderr for bad input (see :func:`cli_errors`)."""
    try:
        with cli_errors(prog, also=(RuntimeError,)):
            return handler()
    except SystemExit as done:
        if isinstance(done.code, str):  # raise SystemExit("message"): one line, code 2
            print(f"{prog}: error: {one_line(Exception(done.code))}", file=sys.stderr)
            return 2
        return done.code if isinstance(done.code, int) else 1
