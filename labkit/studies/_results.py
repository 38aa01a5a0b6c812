"""Result tables of the studies: a CSV with ``#`` header lines saying how it was made.

Every study writes its full run with :func:`write_table` and reads it back with
:func:`read_table`; the header (title, the exact command, the settings, library versions, torch
threads) travels with the numbers, so a committed table can be re-made and checked::

    # labkit DOMINOS study (docs/methods.md §5.7)
    # command: python -m labkit.studies.dominos --threads 1 --out notebooks/studies/results/dominos.csv
    # settings: {"epochs": 30, ...}
    # versions: {"torch": "2.14.1", ...}
    # torch threads: 1
    run,seed,...

Example:
    >>> import pandas as pd, tempfile, pathlib
    >>> df = pd.DataFrame({"run": ["a"], "acc": [0.5]}); df.attrs["settings"] = {"seeds": [0]}
    >>> p = write_table(df, pathlib.Path(tempfile.mkdtemp()) / "r.csv", "python -m x", "demo")
    >>> back = read_table(p); back.attrs["command"], back.attrs["settings"], back["acc"].tolist()
    ('python -m x', {'seeds': [0]}, [0.5])
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from ..io import atomic_write
from ..runtime import versions

__all__ = ["write_table", "read_table"]

_JSON_KEYS = ("settings", "versions")


def write_table(df: pd.DataFrame, path: str | os.PathLike[str], command: str, title: str) -> Path:
    """Save ``df`` as CSV under ``#`` header lines (title, command, settings, versions, threads)."""
    head = [f"# {title}", f"# command: {command}",
            f"# settings: {json.dumps(df.attrs.get('settings', {}), sort_keys=True, default=str)}",
            f"# versions: {json.dumps({k: v for k, v in versions().items() if k != 'platform'}, sort_keys=True)}",
            f"# torch threads: {torch.get_num_threads()}"]
    return atomic_write(path, "\n".join(head) + "\n" + df.to_csv(index=False))


def read_table(path: str | os.PathLike[str], **read_csv: Any) -> pd.DataFrame:
    """Load a table saved by :func:`write_table`; ``command``, ``settings`` and ``versions`` go to ``df.attrs``.

    ``read_csv`` keywords pass to :func:`pandas.read_csv` (e.g. ``dtype``).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no results table at {path}; run the study (its notebook or CLI) to make it")
    with path.open(encoding="utf-8") as fh:
        header = [ln[2:].rstrip("\n") for ln in fh if ln.startswith("# ")]
    df = pd.read_csv(path, comment="#", **read_csv)
    for line in header:
        key, _, value = line.partition(": ")
        if key in _JSON_KEYS:
            df.attrs[key] = json.loads(value)
        elif key == "command":
            df.attrs[key] = value
    return df
