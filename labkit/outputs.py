"""Output paths checked before any long work: the suffix, the folder, and a temporary file really written.

A study, a report or a training run can take minutes to hours; finding out at the end that the
output cannot be written loses all of it. :func:`check_output_path` is called first: it refuses a
wrong suffix or a folder, makes the missing parent folders, and writes then removes a small
temporary file beside the target (named like :mod:`labkit.io`'s temporaries), so permissions,
read-only file systems and a full disk are found in the first second. Every problem is an
:class:`~labkit.errors.OutputError` naming the flag, the path and the fix.

Example:
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "sub" / "report.html"
    >>> check_output_path(out, suffix=".html", flag="--out") == out
    True
    >>> check_output_path(out.with_suffix(".txt"), suffix=".html", flag="--out")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    labkit.errors.OutputError: --out must end in .html, got .../report.txt; e.g. --out report.html
"""
from __future__ import annotations

import hashlib
import os
import secrets
import socket
from pathlib import Path

from .errors import OutputError

__all__ = ["check_output_path"]

_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]  # as labkit.io._HOST


def check_output_path(path: str | os.PathLike[str], *, suffix: str | None = None, flag: str = "--out") -> Path:
    """``Path(path)`` once a file can be written there (checked by writing one); else :class:`OutputError`.

    Args:
        path: the file a long job will write at its end.
        suffix: the required ending (``".csv"``, ``".safetensors"``), or ``None`` for any.
        flag: how the path was given, for the message (``"--out"``, ``"path"``).
    """
    p = Path(path)
    if suffix is not None and p.suffix != suffix:
        raise OutputError(f"{flag} must end in {suffix}, got {path}; e.g. {flag} {p.stem or 'out'}{suffix}")
    if p.is_dir():
        raise OutputError(f"{flag} {path} is a folder; give a file name inside it, e.g. {p / ('out' + (suffix or ''))}")
    if p.exists() and not os.access(p, os.W_OK):
        raise OutputError(f"{flag} {path} exists and is not writable; change its permissions or pick another path")
    folder = p.absolute().parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"cannot write {flag} {path}: {existing} is a file, not a writable folder; pick a path in a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create the folder of {flag} {path}: {err.strerror or err}; "
                          f"pick a path in a folder you can write") from None
    # named like labkit.io's temporaries, so a probe left by a killed process is cleaned by the next write
    probe = folder / f".{p.name}.{_HOST}-{os.getpid()}.probe{secrets.token_hex(4)}.labkit-tmp"
    try:
        with open(probe, "wb") as f:
            f.write(b"labkit checks this folder can be written before any long work\n")
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        raise OutputError(f"cannot write {flag} {path}: {err.strerror or err} in {folder}; pick a path in a "
                          f"writable folder with free space") from None
    finally:
        try:
            probe.unlink()
        except OSError:
            pass
    return p
