"""Is a study faster on Ray? A smoke study serially, then on a local Ray with 2 workers, in one run.

The study is the CSASML smoke setting (1 epoch on 10% of the digits) cut to ``--runs`` x
``--seeds``: one unit per (run, seed), each a short training. Measured:

- **serial**: :func:`labkit.studies._runner.run_units` in this process, torch on 1 thread;
- **Ray start-up**: ``ray.init(num_cpus=2)`` plus the first task on each worker (a worker process
  starts and imports torch and labkit once; later tasks reuse it);
- **Ray**: the same units as tasks with 1 CPU each (2 at a time), on the warm workers.

It prints the speed-up ``serial / Ray`` with and without the start-up, and checks that the two
tables are equal row for row (wall-time column aside). Units this short are where Ray's
overhead shows most; a real study's units run minutes to hours, so the start-up (seconds) vanishes
and the speed-up approaches the number of workers.

Usage:
    .venv/bin/python benchmarks/ray_study.py [--seeds 0 1 2 3] [--runs resnet20 baseline]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch


def _quiet_jsonschema_import() -> None:
    """Keep Ray's helper processes from importing ``rfc3987_syntax`` (seconds of CPU each).

    jsonschema imports it when installed (JupyterLab's extras pull it in); every Ray process imports
    jsonschema; on a busy 2-core machine the raylet then gives up waiting for its agents. A stub
    on ``PYTHONPATH`` declines the import (jsonschema only loses its IRI format check).
    """
    if importlib.util.find_spec("rfc3987_syntax") is None:
        return
    stub = Path(tempfile.mkdtemp(prefix="labkit-raystub-"))
    (stub / "rfc3987_syntax.py").write_text("raise ImportError('not needed by Ray')\n")
    repo = str(Path(__file__).resolve().parents[1])
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(stub), repo, os.environ.get("PYTHONPATH")) if p)


def _warm(_: int) -> int:
    import labkit.studies.csasml  # noqa: F401  - what a unit imports first

    return os.getpid()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--runs", nargs="+", default=["resnet20", "baseline"])
    args = ap.parse_args()
    _quiet_jsonschema_import()
    from labkit.studies import csasml
    from labkit.studies._ray import Cluster
    from labkit.studies._runner import run_units

    s = replace(csasml.CSASMLSettings.smoke(), runs=tuple(args.runs), seeds=tuple(args.seeds))
    n = len(s.runs) * len(s.seeds)
    torch.set_num_threads(1)  # as each 1-CPU Ray task does: the same arithmetic, the same numbers
    print(f"CSASML smoke study, {n} units ({', '.join(s.runs)} x seeds {list(s.seeds)}); "
          f"{os.cpu_count()} CPUs, torch {torch.__version__}, {platform.python_version()}")

    t0 = time.perf_counter()
    serial = run_units(csasml.STUDY, s, progress=False).table
    t_serial = time.perf_counter() - t0

    import ray

    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning")
    t_init = time.perf_counter() - t0
    t0 = time.perf_counter()
    pids = ray.get([ray.remote(num_cpus=1)(_warm).remote(i) for i in range(2)])
    t_warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    on_ray = run_units(csasml.STUDY, s, cluster=Cluster(ray=True, cpus_per_task=1), progress=False).table
    t_ray = time.perf_counter() - t0
    ray.shutdown()

    drop = ["train_seconds", "unit", "settings_hash"]
    equal = serial.drop(columns=drop).equals(on_ray.drop(columns=drop))
    start = t_init + t_warm
    print(f"serial (1 process, 1 thread)        {t_serial:7.1f} s   {t_serial / n:5.2f} s/unit")
    print(f"Ray start-up: init {t_init:5.1f} s + first task on {len(set(pids))} workers {t_warm:5.1f} s "
          f"= {start:6.1f} s")
    print(f"Ray, 2 workers (warm)               {t_ray:7.1f} s   {t_ray / n:5.2f} s/unit")
    print(f"speed-up serial / Ray: {t_serial / t_ray:.2f}x on warm workers, "
          f"{t_serial / (t_ray + start):.2f}x including the start-up")
    print(f"tables equal row for row (wall-time column aside): {equal}")
    if not equal:
        with pd.option_context("display.width", 200):
            print(serial.drop(columns=drop).compare(on_ray.drop(columns=drop)))


if __name__ == "__main__":
    main()
