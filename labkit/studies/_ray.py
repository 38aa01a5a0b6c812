"""Ray for the studies and lab sweeps: join or start a cluster, check it can run a task, fan work out.

Ray is the optional ``dist`` extra (``pip install 'labkit[dist]'``); it is imported only when a
:class:`Cluster` asks for it, so labkit itself never needs it.

* :class:`Cluster`: where units run (``Cluster()`` in this process; ``ray`` / ``address`` on Ray);
* :func:`connect`: start or join Ray and refuse, in seconds, an address nobody answers at or a
  task no node has the resources for (:class:`ClusterError`);
* :func:`run_on_ray`: the study runner's Ray loop (at most as many tasks in flight as the cluster
  runs at once; a failed task is retried, then reported);
* :func:`sweep_on_ray`: a lab sweep (criteria x sparsities) on Ray actors that each build the
  :class:`~labkit.lab.Lab` (model and data) once.

Example:
    >>> Cluster().enabled, Cluster(address="auto").enabled
    (False, True)
"""
from __future__ import annotations

import math
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

__all__ = ["Cluster", "ClusterError", "connect", "error_line", "run_on_ray", "sweep_on_ray"]

_START_CLUSTER = ("start one with `ray start --head` on the head machine (and `ray start --address "
                  "HEAD:6379` on the others), or pass --ray for a local Ray on this machine")


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


def error_line(exc: BaseException) -> str:
    """``Type: first line of the message`` (a Ray task error is unwrapped to the task's exception)."""
    cause = getattr(exc, "cause", None)  # ray.exceptions.RayTaskError wraps the task's exception
    exc = cause if isinstance(cause, BaseException) else exc
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


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
            raise ClusterError(f"cannot join Ray at {where} ({error_line(err)}); {_START_CLUSTER}") from err
    _check_resources(ray, cluster)
    return ray


def _nodes(ray: Any) -> list[dict[str, float]]:
    return [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive", n.get("alive", False))]


def _check_resources(ray: Any, cluster: Cluster) -> None:
    nodes = _nodes(ray)
    if slots(nodes, cluster) == 0:
        have = "; ".join(f"{n.get('CPU', 0):g} CPU, {n.get('GPU', 0):g} GPU" for n in nodes) or "no live node"
        raise ClusterError(f"no node of the Ray cluster has {cluster.cpus_per_task:g} CPU and "
                           f"{cluster.gpus_per_task:g} GPU for one task (nodes: {have}); lower --gpus-per-task / "
                           f"--cpus-per-task, or add a node with `ray start --address HEAD:6379 --num-gpus N`")


def slots(nodes: Sequence[Mapping[str, float]], cluster: Cluster) -> int:
    """How many tasks the live nodes (their ``Resources`` dicts) can run at once."""
    total = 0
    for n in nodes:
        k = math.floor(n.get("CPU", 0) / cluster.cpus_per_task + 1e-9)
        if cluster.gpus_per_task > 0:
            k = min(k, math.floor(n.get("GPU", 0) / cluster.gpus_per_task + 1e-9))
        total += max(k, 0)
    return total


Todo = list[tuple[str, dict[str, Any]]]


def run_on_ray(ray: Any, body: Callable[..., list[dict[str, Any]]], run: Callable, settings: Any, todo: Todo,
               cluster: Cluster, retries: int, land: Callable[[str, list[dict[str, Any]]], None],
               fail: Callable[[dict[str, Any], BaseException], None], status: dict[str, int],
               tick: Callable[..., None]) -> None:
    """Submit ``todo`` (key, unit) as Ray tasks ``body(run, settings, unit, threads)``.

    At most as many tasks are in flight as the cluster runs at once. A finished unit's rows go to
    ``land(key, rows)``; a task that raises is resubmitted up to ``retries`` times, then reported
    with ``fail(unit, exc)``. ``status`` (``running`` / ``failed``) and ``tick(done)`` drive the
    progress bar.
    """
    threads = max(1, int(cluster.cpus_per_task))
    task = ray.remote(body).options(num_cpus=cluster.cpus_per_task, num_gpus=cluster.gpus_per_task, max_retries=0)
    settings_ref = ray.put(settings)
    queue = list(todo)
    attempts: dict[str, int] = {}
    flight: dict[Any, tuple[str, dict[str, Any]]] = {}
    while queue or flight:
        room = max(1, slots(_nodes(ray), cluster)) - len(flight)
        while queue and room > 0:
            key, unit = queue.pop(0)
            flight[task.remote(run, settings_ref, unit, threads)] = (key, unit)
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
            fail(unit, exc)
            status["failed"] += 1
            status["running"] = len(flight)
            tick(1)
            continue
        land(key, new)
        status["running"] = len(flight)
        tick(1)


# --- lab sweeps on Ray --------------------------------------------------------------------------------
Measure = Callable[..., list[Any]]
"""``measure(lab, [criterion], [sparsity], mode, granularity)`` -> a list (one actor call's result)."""


class _LabWorker:
    """A Ray actor's state: one :class:`~labkit.lab.Lab` (model, data, score caches) built once."""

    def __init__(self, factory: Callable[[], Any], threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self.lab = factory()

    def point(self, measure: Measure | None, criterion: str, sparsity: float, mode: str, granularity: str,
              kw: dict[str, Any]) -> list[Any]:
        if measure is None:
            return self.lab.sweep([sparsity], criterion, mode, granularity, **kw).to_dict("records")
        return measure(self.lab, [criterion], [sparsity], mode, granularity, **kw)


def sweep_on_ray(lab_factory: Callable[[], Any], criteria: Sequence[str], sparsities: Sequence[float], *,
                 mode: str = "global", granularity: str = "weight", measure: Measure | None = None,
                 cluster: Cluster = Cluster(ray=True), actors: int | None = None, **kw: Any) -> Any:
    """``Lab.sweep`` (default) or any per-point ``measure`` of a Lab, on Ray actors.

    Every (criterion, sparsity) point is one call on one of ``actors`` actors (default: as many as
    the cluster runs at once); each actor calls ``lab_factory()`` once and keeps the Lab (model,
    data, cached scores). Without ``measure`` the result is ``lab.sweep``'s table, in the same
    order as in-process::

        pd.concat([lab.sweep(sparsities, c, mode, granularity) for c in criteria])

    With ``measure`` (a picklable function ``measure(lab, [criterion], [sparsity], mode,
    granularity, **kw) -> list``, e.g. ``partial(labkit.report._measure, progress=False)`` for
    ``labkit report``'s operating points) it is the concatenation of its lists, point by point.

    Example:
        >>> from functools import partial
        >>> from labkit.lab import Lab
        >>> df = sweep_on_ray(partial(Lab, "resnet20", "digits-lt"), ["magnitude", "random"],
        ...                   [0.3, 0.5, 0.7], cluster=Cluster(address="auto"))   # doctest: +SKIP
    """
    jobs = [(c, float(s)) for c in criteria for s in sparsities]
    if not jobs:
        raise ValueError("give at least one criterion and one sparsity")
    ray = connect(cluster)
    from ray.util import ActorPool

    n = actors or max(1, slots(_nodes(ray), cluster))
    cls = ray.remote(num_cpus=cluster.cpus_per_task, num_gpus=cluster.gpus_per_task)(_LabWorker)
    workers = [cls.remote(lab_factory, max(1, int(cluster.cpus_per_task))) for _ in range(min(n, len(jobs)))]
    try:
        pool = ActorPool(workers)
        parts = pool.map(lambda a, j: a.point.remote(measure, j[0], j[1], mode, granularity, kw), jobs)
        rows = [r for part in parts for r in part]
    finally:
        for w in workers:
            ray.kill(w)
    return pd.DataFrame(rows) if measure is None else rows
