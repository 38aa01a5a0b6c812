"""Result tables of the studies: a CSV with ``#`` header lines saying how it was made.

Every study writes its full run with :func:`write_table` and reads it back with
:func:`read_table`; the header (title, format, the exact command, the settings, library versions,
torch threads, wall time, the code's git commit) travels with the numbers, so a committed table
can be re-made and checked::

    # labkit DOMINOS study (docs/methods.md §5.7)
    # format: 2
    # command: python -m labkit.studies.dominos --threads 1 --out notebooks/studies/results/dominos.csv
    # settings: {"epochs": 30, ...}
    # versions: {"torch": "2.14.1", ...}
    # torch threads: 1
    # wall time s: 1234.5
    # git commit: 4e13a79... (or "unknown" outside a git checkout; "+dirty" with uncommitted changes)
    # digest: sha256:9f0c...
    run,seed,...

The last header line is the sha256 of everything else in the file; :func:`read_table` checks it,
so a table changed by hand or cut short by a copy is refused (tables from before the digest, which
have none, are read as they are).

**Format versions.** ``1``: the tables committed before issue 17 (no ``format`` line, no wall
time or commit; read as they are). ``2``: this header; ``df.attrs["format"]`` says which one a
table is (:data:`FORMAT`).

Example:
    >>> import pandas as pd, tempfile, pathlib
    >>> df = pd.DataFrame({"run": ["a"], "acc": [0.5]}); df.attrs["settings"] = {"seeds": [0]}
    >>> p = write_table(df, pathlib.Path(tempfile.mkdtemp()) / "r.csv", "python -m x", "demo", wall_s=1.5)
    >>> back = read_table(p); back.attrs["command"], back.attrs["settings"], back["acc"].tolist()
    ('python -m x', {'seeds': [0]}, [0.5])
    >>> back.attrs["format"], back.attrs["wall time s"]
    (2, 1.5)
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from ..io import ContainerError, atomic_write
from ..runtime import versions

__all__ = ["FORMAT", "write_table", "read_table", "git_commit"]

FORMAT = 2
"""The header format :func:`write_table` writes (1 = the tables before issue 17)."""

_JSON_KEYS = ("settings", "versions")
_DIGEST = "# digest: "


@lru_cache(maxsize=1)
def git_commit() -> str:
    """The labkit checkout's commit (``+dirty`` with uncommitted changes), ``"unknown"`` outside git.

    Asked of the folder this file is in, so an installed (non-git) labkit says ``unknown``.
    """
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        if sha.returncode != 0 or not sha.stdout.strip():
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "."], cwd=here.parent,
                               capture_output=True, text=True, timeout=10)
        return sha.stdout.strip() + ("+dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def write_table(df: pd.DataFrame, path: str | os.PathLike[str], command: str, title: str,
                wall_s: float | None = None) -> Path:
    """Save ``df`` as CSV under ``#`` header lines (title, format, command, settings, versions, threads, time, commit).

    ``wall_s`` (default ``df.attrs["wall time s"]``, set by the runner) is the run's wall time so far.
    """
    wall = wall_s if wall_s is not None else df.attrs.get("wall time s")
    head = [f"# {title}", f"# format: {FORMAT}", f"# command: {command}",
            f"# settings: {json.dumps(df.attrs.get('settings', {}), sort_keys=True, default=str)}",
            f"# versions: {json.dumps({k: v for k, v in versions().items() if k != 'platform'}, sort_keys=True)}",
            f"# torch threads: {torch.get_num_threads()}",
            f"# wall time s: {'unknown' if wall is None else f'{float(wall):.1f}'}",
            f"# git commit: {git_commit()}"]
    head_text, body = "\n".join(head) + "\n", df.to_csv(index=False, lineterminator="\n")
    digest = hashlib.sha256((head_text + body).encode("utf-8")).hexdigest()
    return atomic_write(path, f"{head_text}{_DIGEST}sha256:{digest}\n{body}")


def _check_digest(path: Path) -> None:
    """Refuse a table whose ``# digest:`` line does not match the rest of the file (no line: not checked)."""
    lines = path.read_bytes().decode("utf-8").splitlines(keepends=True)
    said = [ln for ln in lines if ln.startswith(_DIGEST)]
    if not said:
        return
    rest = "".join(ln for ln in lines if not ln.startswith(_DIGEST))
    actual = hashlib.sha256(rest.encode("utf-8")).hexdigest()
    if said[0][len(_DIGEST):].strip() != f"sha256:{actual}":
        raise ContainerError(f"{path} is corrupted: its digest does not match its content, so it was changed after "
                             f"it was written (an edit, a partial copy); rerun the study command with --fresh to "
                             f"remake it, or restore it")


def read_table(path: str | os.PathLike[str], **read_csv: Any) -> pd.DataFrame:
    """Load a table saved by :func:`write_table` (format 1 or 2); the header goes to ``df.attrs``.

    ``title`` (the first line), ``command``, ``settings``, ``versions``, ``torch threads``, ``wall time s`` (float or None),
    ``git commit`` and ``format`` (1 when the header has no format line). ``read_csv`` keywords
    pass to :func:`pandas.read_csv` (e.g. ``dtype``).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no results table at {path}; run the study (its notebook or CLI) to make it")
    _check_digest(path)
    with path.open(encoding="utf-8") as fh:
        header = [ln[2:].rstrip("\n") for ln in fh if ln.startswith("# ")]
    df = pd.read_csv(path, comment="#", **read_csv)
    df.attrs["format"] = 1
    known = (*_JSON_KEYS, "command", "git commit", "format", "torch threads", "wall time s", "digest")
    if header and header[0].partition(": ")[0] not in known:
        df.attrs["title"] = header[0]
    for line in header:
        key, _, value = line.partition(": ")
        if key in _JSON_KEYS:
            df.attrs[key] = json.loads(value)
        elif key in ("command", "git commit"):
            df.attrs[key] = value
        elif key in ("format", "torch threads"):
            df.attrs[key] = int(value) if value.isdigit() else value
        elif key == "wall time s":
            df.attrs[key] = None if value == "unknown" else float(value)
    return df
