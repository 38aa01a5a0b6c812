"""Run a study's units in-process or on a Ray cluster; stream every finished unit to the CSV; resume.

A study is a grid of independent **units** (a seed, a class order, a run ...: each study says
which). A unit is a pure function of ``(settings, unit)``: it seeds everything it draws from the
unit itself, so it computes the same rows in this process, in a Ray worker on this machine, or on
another machine (docs/methods.md §0.1: same seed, same split, init and batch order). That is what lets
:func:`run_units` farm the units out and still give the serial table, row for row.

What :func:`run_units` adds around the study's unit function:

* **stream**: each finished unit's rows are written to the results CSV at once (the whole file
  is rewritten atomically, temp file + rename, so a reader never sees half a row and the ``#``
  header appears once);
* **resume**: every row carries its ``unit`` (JSON) and ``settings_hash`` (the settings minus
  the unit axes), so rerunning the same command skips the units already in the file and runs the
  rest; a file made with other settings is refused (``--fresh`` replaces it);
* **retry**: a unit that raises is run once more, then reported with its error, while every other
  unit's rows are kept (the CLI exits 1 and names it; rerunning retries just that unit);
* **provenance**: the table's ``attrs["wall time s"]`` is the run's wall time (a resume adds to
  the time already recorded), written to the header with the command, settings, versions,
  threads and git commit (:func:`labkit.studies._results.write_table`);
* **progress**: a tqdm bar with units done, running and failed, and the ETA;
* **Ray** (``pip install 'labkit[dist]'``): ``--ray`` starts or joins a local Ray, ``--address
  auto|HOST:6379|ray://HOST:10001`` joins a cluster, ``--cpus-per-task`` / ``--gpus-per-task``
  reserve resources per unit (Ray then sets ``CUDA_VISIBLE_DEVICES``, so ``device=None`` picks
  the task's GPU). Ray is imported only then: labkit itself never needs it.

The Ray side (:class:`Cluster`, joining a cluster, the task loop) is :mod:`labkit.studies._ray`;
the command line around :func:`run_units` is :mod:`labkit.studies._cli`.

Example (serial, the same call with ``cluster=Cluster(ray=True)`` runs on a local Ray):
    >>> import tempfile, pathlib
    >>> def unit_rows(settings, unit): return [{"seed": unit["seed"], "x": unit["seed"] * settings["k"]}]
    >>> study = Study("toy", units=lambda s: [{"seed": i} for i in s["seeds"]], run=unit_rows, axes=("seeds",),
    ...               settings_dict=dict)
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "toy.csv"
    >>> res = run_units(study, {"seeds": [0, 1, 2], "k": 10}, out=out, progress=False)
    >>> res.table["x"].tolist(), res.ran, res.skipped
    ([0, 10, 20], 3, 0)
    >>> run_units(study, {"seeds": [0, 1, 2, 3], "k": 10}, out=out, progress=False).ran   # resumes: only seed 3
    1
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ._ray import Cluster, connect, error_line, run_on_ray
from ._results import read_table, write_table

__all__ = ["Study", "UnitFailure", "RunResult", "settings_hash", "unit_id", "run_units"]

UNIT, HASH = "unit", "settings_hash"


@dataclass(frozen=True)
class Study:
    """What a study tells the runner.

    Args:
        name: shown on the progress bar (``"csasml"``).
        units: ``units(settings) -> [unit, ...]``, each a small JSON-able dict, in table order.
        run: ``run(settings, unit) -> [row, ...]``: a **module-level** function (Ray pickles it by
            reference), seeded from the unit alone.
        axes: settings fields that only choose which units exist (``seeds``, ``runs`` ...); they
            are left out of the settings hash, so adding a seed reuses the seeds already run.
        settings_dict: settings -> JSON-able dict (``df.attrs["settings"]``; default ``asdict``).
        columns: the table's column order (default: the order of the first row's keys).
        volatile: columns that measure time, not results (equal tables may differ there).
    """

    name: str
    units: Callable[[Any], list[dict[str, Any]]]
    run: Callable[[Any, dict[str, Any]], list[dict[str, Any]]]
    axes: tuple[str, ...] = ("seeds",)
    settings_dict: Callable[[Any], dict[str, Any]] = asdict
    columns: tuple[str, ...] | None = None
    volatile: tuple[str, ...] = ()


@dataclass
class UnitFailure:
    """A unit that failed twice: its key and the last error (``Type: message``)."""

    unit: dict[str, Any]
    error: str


@dataclass
class RunResult:
    """What :func:`run_units` returns: the table of finished units (in unit order) and the failures."""

    table: pd.DataFrame
    failures: list[UnitFailure] = field(default_factory=list)
    ran: int = 0
    skipped: int = 0


def unit_id(unit: Mapping[str, Any]) -> str:
    """The unit's key as stored in the ``unit`` column: sorted, compact JSON."""
    return json.dumps(dict(unit), sort_keys=True, separators=(",", ":"), default=str)


def settings_hash(settings: Any, study: Study) -> str:
    """12 hex digits of sha256 over the settings without the unit axes (what makes a row comparable)."""
    d = {k: v for k, v in study.settings_dict(settings).items() if k not in study.axes}
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _call_unit(run: Callable, settings: Any, unit: dict[str, Any], threads: int | None) -> list[dict[str, Any]]:
    """Body of one unit (in-process or in a Ray worker)."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    return [dict(r) for r in run(settings, unit)]


# --- the loop --------------------------------------------------------------------------------------------
def _resume(out: Path, read: Callable[[Path], pd.DataFrame], digest: str, fresh: bool) -> pd.DataFrame | None:
    if fresh or not out.exists():
        return None
    old = read(out)
    if UNIT not in old.columns or HASH not in old.columns:
        return None  # a table from before streaming: made again, as it always was
    other = sorted(set(old[HASH].astype(str)) - {digest})
    if other:
        raise ValueError(f"{out} holds results of other settings (hash {', '.join(other)}, now {digest}); rerun "
                         "the command that made it to resume, pass another --out, or --fresh to replace it")
    return old


def run_units(study: Study, settings: Any, *, out: str | os.PathLike[str] | None = None,
              cluster: Cluster = Cluster(), write: Callable[[pd.DataFrame], Any] | None = None,
              read: Callable[[Path], pd.DataFrame] = read_table, retries: int = 1, fresh: bool = False,
              progress: bool = True, command: str = "", title: str = "") -> RunResult:
    """Run every unit of ``settings`` (skipping those already in ``out``); return the table in unit order.

    Args:
        study: the study's units and unit function.
        out: results CSV, rewritten atomically after every finished unit; ``None`` = keep in memory.
        cluster: ``Cluster()`` runs in this process, one unit after the other.
        write: ``write(df)`` saves the table (default: :func:`write_table` to ``out`` with ``title``
            and ``command``); ``read(path)`` loads it back for resuming.
        retries: extra attempts of a failing unit before it is reported (default 1).
        fresh: ignore (and replace) the rows already in ``out``.

    Units already in ``out`` that ``settings`` no longer asks for (an earlier run with more seeds
    and the same settings hash) are kept, after the others: a resume never drops results.
    """
    units = study.units(settings)
    ids = [unit_id(u) for u in units]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{study.name}: duplicate units in the settings ({len(ids) - len(set(ids))} repeated)")
    digest = settings_hash(settings, study)
    out = Path(out) if out is not None else None
    if write is None and out is not None:
        write = lambda df: write_table(df, out, command, title or f"labkit {study.name} study")  # noqa: E731
    rows: dict[str, list[dict[str, Any]]] = {}
    started = time.perf_counter()
    old = _resume(out, read, digest, fresh) if out is not None else None
    before = float(old.attrs.get("wall time s") or 0.0) if old is not None else 0.0  # a resumed run adds up
    if old is not None:
        for key, part in old.groupby(UNIT, sort=False):
            rows[str(key)] = part.to_dict("records")
    extra = [k for k in rows if k not in ids]  # units of a larger earlier run stay in the file
    todo = [(i, u) for i, u in zip(ids, units) if i not in rows]
    skipped = len(units) - len(todo)
    columns: list[str] = list(study.columns or ())

    def table() -> pd.DataFrame:
        recs = [r for k in ids + extra if k in rows for r in rows[k]]
        cols = columns or (list(recs[0]) if recs else [])
        cols = [c for c in cols if c not in (UNIT, HASH)] + [UNIT, HASH]
        df = pd.DataFrame(recs, columns=cols) if recs else pd.DataFrame(columns=cols)
        df.attrs["settings"] = study.settings_dict(settings)
        df.attrs["wall time s"] = before + time.perf_counter() - started
        return df

    def land(key: str, new: list[dict[str, Any]]) -> None:
        if new and not columns:
            columns.extend(new[0])
        rows[key] = [{**r, UNIT: key, HASH: digest} for r in new]
        if write is not None:
            write(table())

    failures: list[UnitFailure] = []
    ray = connect(cluster) if cluster.enabled and todo else None  # bad address / resources fail before any work
    bar = None
    if progress and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(units), initial=skipped, desc=study.name, unit="unit", file=sys.stderr)
    status = {"running": 0, "failed": 0}

    def tick(done: int = 0) -> None:
        if bar is not None:
            bar.set_postfix(running=status["running"], failed=status["failed"], refresh=False)
            bar.update(done)

    def fail(unit: dict[str, Any], exc: BaseException) -> None:
        failures.append(UnitFailure(unit, error_line(exc)))

    try:
        if ray is not None:
            run_on_ray(ray, _call_unit, study.run, settings, todo, cluster, retries, land, fail, status, tick)
        else:
            for key, unit in todo:
                status["running"] = 1
                tick()
                for attempt in range(retries + 1):
                    try:
                        new = _call_unit(study.run, settings, unit, None)
                    except Exception as exc:  # noqa: BLE001 - reported with the unit, others go on
                        if attempt == retries:
                            fail(unit, exc)
                            status["failed"] += 1
                        continue
                    land(key, new)
                    break
                status["running"] = 0
                tick(1)
    finally:
        if bar is not None:
            bar.close()
    return RunResult(table(), failures, ran=len(todo) - len(failures), skipped=skipped)
