"""One command line for every study: ``python -m labkit.studies.<name>`` (or ``labkit study <name>``).

A study states its command once, as a :class:`StudyCommand` (its settings class, the settings a
flag may override, how its table is written and read, its verdict); :func:`study_main` is then
the whole of its ``main``. Every study gets the same flags and the same behaviour:

* ``--out CSV`` (required): checked **before any work** (a ``.csv`` name in a writable folder);
  every finished unit lands there at once (atomically) and a rerun of the same command resumes;
* ``--smoke`` (the settings' ``smoke()``: tiny, for CI), ``--seeds``, the study's own overrides,
  presets such as ``--cifar100 ROOT``, ``--threads N`` (``torch.set_num_threads``);
* the cluster flags ``--ray``, ``--address``, ``--cpus-per-task``, ``--gpus-per-task``,
  ``--fresh`` (:mod:`labkit.studies._runner`, :mod:`labkit.studies._ray`);
* bad input (a flag, the settings, the output path, the cluster) is one line on stderr,
  ``<module>: error: ...``, exit code 2, no traceback; units that failed twice exit 1 after the
  others' rows are saved; at the end the verdict table is printed.

The command recorded in the CSV header is ``python -m labkit.studies.<name> <the arguments>``,
exactly what reruns it (:func:`labkit.course.studies.rerun_command`).

Example:
    >>> check_output("results/run.csv").name
    'run.csv'
    >>> check_output("results/run.txt")
    Traceback (most recent call last):
    ...
    labkit.errors.OutputError: --out must be a .csv file (the study's table), got results/run.txt
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NoReturn

import pandas as pd

from ..errors import OutputError, cli_errors, one_line
from ..outputs import check_output_path
from ._ray import Cluster, ClusterError
from ._runner import Study, run_units, unit_id

__all__ = ["Option", "StudyParser", "Preset", "StudyCommand", "add_study_flags", "add_cluster_flags", "cluster_from_args",
           "check_output", "check_data", "settings_from_args", "run_parsed", "study_main"]


@dataclass(frozen=True)
class Option:
    """A settings override on the command line: ``--flag V`` (``--flag V1 V2 ...`` if ``many``) sets a field.

    The field is the flag's name with ``-`` as ``_`` (``--e-aux`` sets ``e_aux``) unless ``field`` says.
    """

    flag: str
    type: Callable[[str], Any] = int
    many: bool = False
    choices: Sequence[str] | None = None
    help: str | None = None
    field: str | None = None

    @property
    def dest(self) -> str:
        return self.field or self.flag.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class Preset:
    """Other settings chosen by a flag that takes a data folder: ``--cifar100 ROOT`` -> ``make(root=ROOT)``."""

    flag: str
    make: Callable[..., Any]
    help: str
    metavar: str = "ROOT"

    @property
    def dest(self) -> str:
        return "preset_" + self.flag.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class StudyCommand:
    """A study's command line, stated once.

    Args:
        module: the study's module, ``"labkit.studies.csasml"`` (the recorded command runs it).
        study: its units and unit function (:class:`~labkit.studies._runner.Study`).
        settings: its settings class: ``settings()`` is the full run, ``settings.smoke()`` the CI run.
        write: ``write(df, path, command)`` saves the table; ``read(path)`` loads it (resume).
        verdict: ``verdict(df)`` -> the verdict table printed at the end.
        options: the settings fields a flag may override (``--seeds`` is always there).
        presets: flags that pick other settings with a data folder (``--cifar100 ROOT``).
        flags: adds flags that are not settings (e.g. longtail's ``--pie-k``).
        after: ``after(args, settings, table, command, started)`` once the table is complete (e.g.
            longtail's ``.md`` report); ``started`` is the ``time.perf_counter()`` of the start.
        check: ``check(settings)`` raises on settings that would fail mid-run (run before any unit).
    """

    module: str
    study: Study
    settings: Any
    write: Callable[[pd.DataFrame, Path, str], Path]
    read: Callable[[Path], pd.DataFrame]
    verdict: Callable[[pd.DataFrame], pd.DataFrame]
    options: tuple[Option, ...] = ()
    presets: tuple[Preset, ...] = ()
    flags: Callable[[argparse.ArgumentParser], None] | None = None
    after: Callable[[argparse.Namespace, Any, pd.DataFrame, str, float], None] | None = None
    check: Callable[[Any], None] | None = None

    @property
    def description(self) -> str:
        import importlib

        doc = importlib.import_module(self.module).__doc__ or self.module
        return doc.strip().splitlines()[0]


def add_cluster_flags(ap: argparse.ArgumentParser) -> None:
    """Add ``--ray``, ``--address``, ``--cpus-per-task``, ``--gpus-per-task``, ``--fresh`` to a study's parser."""
    g = ap.add_argument_group("cluster (Ray; pip install 'labkit[dist]')")
    g.add_argument("--ray", action="store_true", help="run the units as tasks on a local Ray (started or joined)")
    g.add_argument("--address", default=None,
                   help="join a Ray cluster: auto, HOST:6379 or ray://HOST:10001 (implies --ray)")
    g.add_argument("--cpus-per-task", type=float, default=1.0, help="CPUs per unit (also its torch threads)")
    g.add_argument("--gpus-per-task", type=float, default=0.0, help="GPUs per unit (fractions share a GPU)")
    ap.add_argument("--fresh", action="store_true",
                    help="replace the rows already in --out instead of resuming (default: resume)")


def cluster_from_args(args: argparse.Namespace) -> Cluster:
    """The :class:`~labkit.studies._ray.Cluster` of the parsed flags of :func:`add_cluster_flags`."""
    return Cluster(ray=bool(args.ray), address=args.address, cpus_per_task=args.cpus_per_task,
                   gpus_per_task=args.gpus_per_task)


def add_study_flags(cmd: StudyCommand, ap: argparse.ArgumentParser) -> None:
    """Every flag of ``cmd`` on ``ap``: ``--smoke``, presets, ``--seeds``, overrides, ``--threads``, ``--out``,
    the cluster flags."""
    ap.add_argument("--smoke", action="store_true", help=f"tiny settings ({cmd.settings.__name__}.smoke()): for CI")
    for p in cmd.presets:
        ap.add_argument(p.flag, metavar=p.metavar, dest=p.dest, default=None, help=p.help)
    ap.add_argument("--seeds", type=int, nargs="+", help="seeds (split, init and batch order); three for a verdict")
    for o in cmd.options:
        ap.add_argument(o.flag, dest=o.dest, type=o.type, nargs="+" if o.many else None,
                        choices=list(o.choices) if o.choices is not None else None, help=o.help)
    if cmd.flags is not None:
        cmd.flags(ap)
    ap.add_argument("--threads", type=int, default=None,
                    help="torch.set_num_threads (1 is fastest on busy shared cores; recorded in the command)")
    ap.add_argument("--out", required=True, help="CSV to write (atomically, after every unit; a rerun resumes)")
    add_cluster_flags(ap)


def settings_from_args(cmd: StudyCommand, args: argparse.Namespace) -> Any:
    """The settings the flags ask for: the full run, ``--smoke`` or a preset, then the overrides.

    Raises:
        ValueError: ``--smoke`` together with a preset (they exclude each other).
    """
    chosen = [p for p in cmd.presets if getattr(args, p.dest) is not None]
    if args.smoke and chosen:
        raise ValueError(f"--smoke and {chosen[0].flag} exclude each other")
    base = cmd.settings.smoke() if args.smoke else chosen[0].make(root=getattr(args, chosen[0].dest)) if chosen \
        else cmd.settings()
    fields = ["seeds"] + [o.dest for o in cmd.options]
    over = {k: tuple(v) if isinstance(v, list) else v for k in fields if (v := getattr(args, k)) is not None}
    return replace(base, **over)


def check_data(settings: Any) -> None:
    """Load a preset's dataset once, before any unit: missing or damaged files end the run here.

    A ``--cifar10 ROOT`` with no CIFAR files under ``ROOT`` would otherwise fail in every unit
    (twice, with retries) after the cluster started. The loader's own error names the missing
    files and how to get them; loading real CIFAR takes a second or two, nothing next to the run.
    """
    from ..data import load_dataset

    load_dataset(settings.dataset, seed=int(settings.seeds[0]), **dict(settings.dataset_options))


def check_output(path: str | os.PathLike[str], suffix: str = ".csv") -> Path:
    """``path`` if a study may write its table there: the ``suffix``, and a folder it can write in.

    The folder may not exist yet (it is made), but its nearest existing parent must be a writable
    folder; an existing ``path`` must be a writable file (a rerun resumes it).

    Raises:
        OutputError (a ValueError): wrong suffix, a folder where the file should be, or nowhere to write.
    """
    p = Path(path)
    if p.suffix != suffix:
        raise OutputError(f"--out must be a {suffix} file (the study's table), got {path}")
    if p.exists():
        if not p.is_file():
            raise OutputError(f"--out {path} exists and is not a file; give a file name, e.g. {p / 'results.csv'}")
        if not os.access(p, os.W_OK):
            raise OutputError(f"--out {path} is not writable; change its permissions or pick another path")
    return check_output_path(p, suffix=suffix, flag="--out")  # a temp file really written: found now, not at the end


class StudyParser(argparse.ArgumentParser):
    """Flag errors as one line ``prog: error: ...`` and exit code 2 (argparse prints the usage too)."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {one_line(Exception(message))} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def _command(cmd: StudyCommand, argv: Sequence[str]) -> str:
    return " ".join(shlex.quote(a) for a in ["python", "-m", cmd.module, *argv])


def run_parsed(cmd: StudyCommand, args: argparse.Namespace, argv: Sequence[str]) -> pd.DataFrame:
    """Run (or resume) the study the parsed ``args`` describe; ``argv`` is what the recorded command repeats.

    Exit 2 on bad input (before any work), 1 when units failed twice (after saving the others).
    """
    prog, started = cmd.module, time.perf_counter()
    command = _command(cmd, argv)
    with cli_errors(prog, also=(ClusterError,)):
        settings = settings_from_args(cmd, args)
        if cmd.check is not None:
            cmd.check(settings)
        if any(getattr(args, p.dest) is not None for p in cmd.presets):
            check_data(settings)
        out = check_output(args.out)
        cluster = cluster_from_args(args)
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        res = run_units(cmd.study, settings, out=out, cluster=cluster, fresh=args.fresh, progress=True,
                        write=lambda d: cmd.write(d, out, command), read=cmd.read, command=command)
    where = f"on Ray ({cluster.address or 'local'})" if cluster.enabled else "in this process"
    print(f"{cmd.study.name}: {res.ran} unit(s) run {where}, {res.skipped} already in {args.out}, "
          f"{len(res.failures)} failed ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    if res.failures:
        for f in res.failures:
            print(f"{prog}: unit {unit_id(f.unit)} failed twice: {f.error}", file=sys.stderr)
        print(f"{prog}: the other units' rows are in {args.out}; rerun the same command to retry the failed "
              "unit(s)", file=sys.stderr)
        raise SystemExit(1)
    if cmd.after is not None:
        cmd.after(args, settings, res.table, command, started)
    with pd.option_context("display.width", 200, "display.max_colwidth", 100):
        print(cmd.verdict(res.table)[["criterion", "measured", "verdict"]].to_string(index=False))
    return res.table


def study_main(cmd: StudyCommand, argv: Sequence[str] | None = None) -> pd.DataFrame:
    """A study's whole ``main``: parse ``argv`` (default ``sys.argv[1:]``), run, print the verdict."""
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = StudyParser(prog=f"python -m {cmd.module}", description=cmd.description)
    add_study_flags(cmd, ap)
    return run_parsed(cmd, ap.parse_args(argv), argv)
