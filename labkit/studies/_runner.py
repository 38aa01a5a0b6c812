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
* **progress**: a tqdm bar with units done, running and failed, and the ETA;
* **Ray** (``pip install 'labkit[dist]'``): ``--ray`` starts or joins a local Ray, ``--address
  auto|HOST:6379|ray://HOST:10001`` joins a cluster, ``--cpus-per-task`` / ``--gpus-per-task``
  reserve resources per unit (Ray then sets ``CUDA_VISIBLE_DEVICES``, so ``device=None`` picks
  the task's GPU). Ray is imported only then: labkit itself never needs it.

:func:`sweep_on_ray` fans a lab sweep (criteria x sparsities) or the report's operating points
out over Ray actors that each build the :class:`~labkit.lab.Lab` (model and data) once.

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
import math
import os
import socket
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from ._results import read_table, write_table

__all__ = ["Study", "Cluster", "ClusterError", "UnitFailure", "RunResult", "settings_hash", "unit_id",
           "run_units", "connect", "add_cluster_flags", "cluster_from_args", "run_cli", "cli_error",
           "sweep_on_ray"]

UNIT, HASH = "unit", "settings_hash"
_START_CLUSTER = ("start one with `ray start --head` on the head machine (and `ray start --address "
                  "HEAD:6379` on the others), or pass --ray for a local Ray on this machine")


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


@dataclass(frozen=True)
class Cluster:
    """Where units run. ``Cluster()`` = in-process; ``ray`` or ``address`` = on Ray.

    ``address``: ``"auto"`` (the cluster this machine belongs to), ``"HOST:6379"`` (a head's GCS)
    or ``"ray://HOST:10001"`` (Ray Client). ``cpus_per_task`` also sets each task's torch threads.
    """

    ray: bool = False
    address: str | None = None
    cpus_per_task: float = 1.0
    gpus_per_task: float = 0.0

    def __post_init__(self) -> None:
        if not self.cpus_per_task > 0:
            raise ValueError(f"--cpus-per-task must be > 0, got {self.cpus_per_task:g}")
        if self.gpus_per_task < 0:
            raise ValueError(f"--gpus-per-task must be >= 0, got {self.gpus_per_task:g}")

    @property
    def enabled(self) -> bool:
        return self.ray or self.address is not None


class ClusterError(RuntimeError):
    """The cluster cannot run the units (unreachable address, resources no node has)."""


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


def _error(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)  # ray.exceptions.RayTaskError wraps the task's exception
    exc = cause if isinstance(cause, BaseException) else exc
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def _call_unit(run: Callable, settings: Any, unit: dict[str, Any], threads: int | None) -> list[dict[str, Any]]:
    """Body of one unit (in-process or in a Ray worker)."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    return [dict(r) for r in run(settings, unit)]


# --- Ray ----------------------------------------------------------------------------------------------
def _import_ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise ClusterError("Ray is not installed; install it with pip install 'labkit[dist]' (or pip install "
                           "'ray>=2.9')") from err
    return ray


def _check_reachable(address: str, timeout: float = 3.0) -> None:
    """Fail in seconds (not Ray's minute of retries) when nothing listens at ``address``."""
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"--address {address!r} is not auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as err:
        raise ClusterError(f"no Ray cluster answers at {address} ({err.strerror or err}); {_START_CLUSTER}") from err


def connect(cluster: Cluster) -> Any:
    """Start or join Ray for ``cluster`` and check one task fits a node; returns the ``ray`` module.

    An already initialised Ray (e.g. ``ray.init(num_cpus=2)`` in a test or notebook) is reused.

    Raises:
        ClusterError: Ray missing, address unreachable, or no node has the resources of one task.
    """
    loaded = sys.modules.get("ray")
    if cluster.address not in (None, "auto") and not (loaded is not None and loaded.is_initialized()):
        _check_reachable(cluster.address)  # before importing Ray, which alone can take seconds
    ray = _import_ray()
    if not ray.is_initialized():
        address = cluster.address
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=True,
                     logging_level="warning", configure_logging=True)
        except (ConnectionError, RuntimeError, TimeoutError) as err:
            where = address or "this machine"
            raise ClusterError(f"cannot join Ray at {where} ({_error(err)}); {_START_CLUSTER}") from err
    _check_resources(ray, cluster)
    return ray


def _nodes(ray: Any) -> list[dict[str, float]]:
    return [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive", n.get("alive", False))]


def _check_resources(ray: Any, cluster: Cluster) -> None:
    nodes = _nodes(ray)
    if _slots(nodes, cluster) == 0:
        have = "; ".join(f"{n.get('CPU', 0):g} CPU, {n.get('GPU', 0):g} GPU" for n in nodes) or "no live node"
        raise ClusterError(f"no node of the Ray cluster has {cluster.cpus_per_task:g} CPU and "
                           f"{cluster.gpus_per_task:g} GPU for one task (nodes: {have}); lower --gpus-per-task / "
                           f"--cpus-per-task, or add a node with `ray start --address HEAD:6379 --num-gpus N`")


def _slots(nodes: Sequence[Mapping[str, float]], cluster: Cluster) -> int:
    """How many tasks the live nodes can run at once."""
    total = 0
    for n in nodes:
        k = math.floor(n.get("CPU", 0) / cluster.cpus_per_task + 1e-9)
        if cluster.gpus_per_task > 0:
            k = min(k, math.floor(n.get("GPU", 0) / cluster.gpus_per_task + 1e-9))
        total += max(k, 0)
    return total


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
    old = _resume(out, read, digest, fresh) if out is not None else None
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

    try:
        if ray is not None:
            _run_ray(ray, study, settings, todo, cluster, retries, land, failures, status, tick)
        else:
            for key, unit in todo:
                status["running"] = 1
                tick()
                for attempt in range(retries + 1):
                    try:
                        new = _call_unit(study.run, settings, unit, None)
                    except Exception as exc:  # noqa: BLE001 - reported with the unit, others go on
                        if attempt == retries:
                            failures.append(UnitFailure(unit, _error(exc)))
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


def _run_ray(ray: Any, study: Study, settings: Any, todo: list[tuple[str, dict[str, Any]]], cluster: Cluster,
             retries: int, land: Callable, failures: list[UnitFailure], status: dict[str, int], tick: Callable) -> None:
    """Submit ``todo`` as Ray tasks (at most as many in flight as the cluster runs at once)."""
    threads = max(1, int(cluster.cpus_per_task))
    task = ray.remote(_call_unit).options(num_cpus=cluster.cpus_per_task, num_gpus=cluster.gpus_per_task,
                                          max_retries=0)
    settings_ref = ray.put(settings)
    queue = list(todo)
    attempts: dict[str, int] = {}
    flight: dict[Any, tuple[str, dict[str, Any]]] = {}
    while queue or flight:
        room = max(1, _slots(_nodes(ray), cluster)) - len(flight)
        while queue and room > 0:
            key, unit = queue.pop(0)
            flight[task.remote(study.run, settings_ref, unit, threads)] = (key, unit)
            room -= 1
        status["running"] = len(flight)
        tick()
        done, _ = ray.wait(list(flight), num_returns=1)
        key, unit = flight.pop(done[0])
        try:
            new = ray.get(done[0])
        except Exception as exc:  # noqa: BLE001 - RayTaskError, WorkerCrashedError ...
            attempts[key] = attempts.get(key, 0) + 1
            if attempts[key] <= retries:
                queue.insert(0, (key, unit))
                continue
            failures.append(UnitFailure(unit, _error(exc)))
            status["failed"] += 1
            status["running"] = len(flight)
            tick(1)
            continue
        land(key, new)
        status["running"] = len(flight)
        tick(1)


# --- command line -------------------------------------------------------------------------------------------
def add_cluster_flags(ap: Any) -> None:
    """Add ``--ray``, ``--address``, ``--cpus-per-task``, ``--gpus-per-task``, ``--fresh`` to a study's parser."""
    g = ap.add_argument_group("cluster (Ray; pip install 'labkit[dist]')")
    g.add_argument("--ray", action="store_true", help="run the units as tasks on a local Ray (started or joined)")
    g.add_argument("--address", default=None,
                   help="join a Ray cluster: auto, HOST:6379 or ray://HOST:10001 (implies --ray)")
    g.add_argument("--cpus-per-task", type=float, default=1.0, help="CPUs per unit (also its torch threads)")
    g.add_argument("--gpus-per-task", type=float, default=0.0, help="GPUs per unit (fractions share a GPU)")
    ap.add_argument("--fresh", action="store_true",
                    help="replace the rows already in --out instead of resuming (default: resume)")


def cluster_from_args(args: Any) -> Cluster:
    """The :class:`Cluster` of the parsed flags of :func:`add_cluster_flags`."""
    return Cluster(ray=bool(args.ray), address=args.address, cpus_per_task=args.cpus_per_task,
                   gpus_per_task=args.gpus_per_task)


def cli_error(prog: str, message: str) -> None:
    """Bad input on the command line: one line on stderr, exit code 2, no traceback."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def run_cli(study: Study, settings: Any, args: Any, *, prog: str, write: Callable[[pd.DataFrame], Any],
            read: Callable[[Path], pd.DataFrame], command: str = "") -> pd.DataFrame:
    """A study's ``main``: run (or resume) its units as the flags say; exit 2 on bad input, 1 on failed units."""
    try:
        cluster = cluster_from_args(args)
        t0 = time.perf_counter()
        res = run_units(study, settings, out=args.out, cluster=cluster, write=write, read=read, fresh=args.fresh,
                        progress=True, command=command)
    except (ClusterError, ValueError, KeyError) as err:
        cli_error(prog, str(err).strip("'\""))
    where = f"on Ray ({cluster.address or 'local'})" if cluster.enabled else "in this process"
    print(f"{study.name}: {res.ran} unit(s) run {where}, {res.skipped} already in {args.out}, "
          f"{len(res.failures)} failed ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    if res.failures:
        for f in res.failures:
            print(f"{prog}: unit {unit_id(f.unit)} failed twice: {f.error}", file=sys.stderr)
        print(f"{prog}: the other units' rows are in {args.out}; rerun the same command to retry the failed "
              "unit(s)", file=sys.stderr)
        raise SystemExit(1)
    return res.table


# --- lab sweeps on Ray --------------------------------------------------------------------------------------
class _LabWorker:
    """A Ray actor's state: one :class:`~labkit.lab.Lab` (model, data, score caches) built once."""

    def __init__(self, factory: Callable[[], Any], threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self.lab = factory()

    def point(self, kind: str, criterion: str, sparsity: float, mode: str, granularity: str,
              kw: dict[str, Any]) -> list[dict[str, Any]]:
        if kind == "sweep":
            return self.lab.sweep([sparsity], criterion, mode, granularity, **kw).to_dict("records")
        from ..report import _measure

        return _measure(self.lab, [criterion], [sparsity], mode, granularity, progress=False)


def sweep_on_ray(lab_factory: Callable[[], Any], criteria: Sequence[str], sparsities: Sequence[float], *,
                 mode: str = "global", granularity: str = "weight", kind: str = "sweep",
                 cluster: Cluster = Cluster(ray=True), actors: int | None = None, **kw: Any) -> Any:
    """``Lab.sweep`` (``kind="sweep"``) or ``labkit report``'s operating points (``kind="report"``) on Ray actors.

    Every (criterion, sparsity) point is one call on one of ``actors`` actors (default: as many as
    the cluster runs at once); each actor calls ``lab_factory()`` once and keeps the Lab (model,
    data, cached scores). The result is the in-process one, in the same order::

        pd.concat([lab.sweep(sparsities, c, mode, granularity) for c in criteria])   # kind="sweep"
        labkit.report._measure(lab, criteria, sparsities, mode, granularity, False)  # kind="report"

    (the report's points, trials with their masks and full-test reports, go to
    ``render_report(..., points=...)``).

    Example:
        >>> from functools import partial
        >>> from labkit.lab import Lab
        >>> df = sweep_on_ray(partial(Lab, "resnet20", "digits-lt"), ["magnitude", "random"],
        ...                   [0.3, 0.5, 0.7], cluster=Cluster(address="auto"))   # doctest: +SKIP
    """
    if kind not in ("sweep", "report"):
        raise ValueError(f"kind must be 'sweep' (Lab.sweep) or 'report' (labkit report's points), got {kind!r}")
    jobs = [(c, float(s)) for c in criteria for s in sparsities]
    if not jobs:
        raise ValueError("give at least one criterion and one sparsity")
    ray = connect(cluster)
    from ray.util import ActorPool

    n = actors or max(1, _slots(_nodes(ray), cluster))
    cls = ray.remote(num_cpus=cluster.cpus_per_task, num_gpus=cluster.gpus_per_task)(_LabWorker)
    workers = [cls.remote(lab_factory, max(1, int(cluster.cpus_per_task))) for _ in range(min(n, len(jobs)))]
    try:
        pool = ActorPool(workers)
        parts = pool.map(lambda a, j: a.point.remote(kind, j[0], j[1], mode, granularity, kw), jobs)
        rows = [r for part in parts for r in part]
    finally:
        for w in workers:
            ray.kill(w)
    return pd.DataFrame(rows) if kind == "sweep" else rows
