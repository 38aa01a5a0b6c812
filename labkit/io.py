"""Every file labkit writes goes through here: one atomic writer and one safetensors container.

The formats and the guarantee are described in docs/design.md §6.1.

**Atomic writes.** :func:`atomic_write` (bytes or text) and :func:`atomic_path` (for writers
that want a path: ``pandas.DataFrame.to_csv``, ``zipfile``, safetensors' ``save_file``) write a
temporary file in the target's folder, flush and ``fsync`` it, then ``os.replace`` it over the
target, which POSIX and Windows do atomically. A reader therefore sees the old file or the new
one, never half of either; a failure at any point, ``KeyboardInterrupt`` included, removes the
temporary file and leaves the old file as it was. Temporary files are named
``.<target>.<host>-<pid>.<random>.labkit-tmp``; the ones a killed process (``kill -9``, power
loss) could not remove are deleted by the next write into that folder: at once when they belong
to the same target and their process is gone, otherwise after :data:`STALE_AFTER` seconds.

**Containers.** :func:`save_container` writes named tensors and a JSON object as one
safetensors file (tensors only: nothing is unpickled on load) whose single metadata key
``"labkit"`` holds::

    {"digest": "sha256:<hex>", "format": "labkit/<kind>/v1", "meta": {...}}

``kind`` says what the file is (``"masks"``, ``"checkpoint"``, ``"train-state"``, see
:func:`list_container_kinds`); ``digest`` is the sha256 of every tensor's name, dtype, shape
and bytes (in name order) followed by the header without the digest, so a flipped bit anywhere
is caught by :func:`load_container`. The JSON is written with sorted keys and no spaces, and the
header has one key, so the same tensors and metadata always give the same bytes. Any problem
(missing file, not safetensors or truncated, another kind of file, a changed file, a newer
format) raises :class:`ContainerError` with a message naming the file and what to do.

Files written before this container existed (the ``v0`` layouts of masks, model checkpoints
and training run state) are still read; they carry no digest.

Example:
    >>> import tempfile, torch
    >>> p = save_container(Path(tempfile.mkdtemp()) / "m.safetensors", {"w": torch.ones(2, dtype=torch.bool)},
    ...                    kind="masks", meta={"granularity": "filter", "meta": {}})
    >>> tensors, meta = load_container(p, kind="masks")
    >>> tensors["w"].tolist(), meta["granularity"]
    ([True, True], 'filter')
    >>> load_container(p, kind="checkpoint")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    labkit.io.ContainerError: ...m.safetensors is a mask file, not a model checkpoint; read it with ...
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

from ._registry import Registry
from .errors import LabkitError

__all__ = [
    "atomic_write", "atomic_path", "clean_stale_temps", "STALE_AFTER", "TEMP_SUFFIX",
    "ContainerError", "ContainerNotFoundError", "save_container", "load_container",
    "content_digest", "register_container_kind", "list_container_kinds", "FORMAT_VERSION",
]

PathLike = str | os.PathLike[str]

# --- atomic writes ------------------------------------------------------------------------------

#: Suffix of the writer's temporary files; nothing else in labkit ends in it.
TEMP_SUFFIX = ".labkit-tmp"
#: Seconds after which any temporary file of ours in a folder counts as abandoned.
STALE_AFTER = 15 * 60
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]
_TEMP = re.compile(r"^\.(?P<target>.+)\.(?P<host>[0-9a-f]{6})-(?P<pid>\d+)\.[^.]+" + re.escape(TEMP_SUFFIX) + "$")


def _process_gone(pid: int) -> bool:
    """True when no process ``pid`` runs on this machine (POSIX only; elsewhere: unknown, False)."""
    if os.name != "posix" or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: it exists but belongs to someone else
        return False
    return False


def clean_stale_temps(folder: PathLike, target: str | None = None, *, max_age: float = STALE_AFTER) -> list[Path]:
    """Delete temporary files left in ``folder`` by writers that died; return what was removed.

    A temp file is stale when it is older than ``max_age`` seconds, or when it is for
    ``target`` (a file name) and was made on this machine by a process that no longer exists.
    Temp files of live writers are left alone, so two processes can write into one folder.
    """
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        found = _TEMP.match(entry.name) if entry.name.endswith(TEMP_SUFFIX) else None
        if found is None:
            continue
        try:
            old = now - entry.stat(follow_symlinks=False).st_mtime > max_age
            crashed = (found["target"] == target and found["host"] == _HOST
                       and _process_gone(int(found["pid"])))
            if old or crashed:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:  # removed by someone else meanwhile, or not ours to remove
            continue
    return removed


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: PathLike, *, mode: int = 0o644) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on a clean exit it replaces ``path`` atomically.

    Write the whole file to the yielded path inside the ``with`` block. Afterwards the temp
    file is fsynced, given permission bits ``mode`` and renamed over ``path`` (parent folders
    are created). If the block raises, even ``KeyboardInterrupt``, the temp file is removed and
    ``path`` is untouched.

    Example:
        >>> import tempfile, pandas as pd
        >>> out = Path(tempfile.mkdtemp()) / "sub" / "t.csv"
        >>> with atomic_path(out) as tmp:
        ...     pd.DataFrame({"a": [1]}).to_csv(tmp, index=False)
        >>> out.read_text()
        'a\\n1\\n'
    """
    path = Path(path)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(folder, path.name)
    fd, name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.{_HOST}-{os.getpid()}.", suffix=TEMP_SUFFIX)
    tmp = Path(name)
    try:
        os.close(fd)
        yield tmp
        fd = os.open(tmp, os.O_RDWR | getattr(os, "O_BINARY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)  # mkstemp makes 0600; labkit's files are meant to be read by others
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(folder)


def atomic_write(path: PathLike, data: bytes | str, *, mode: int = 0o644) -> Path:
    """Write ``data`` (``str`` is encoded as UTF-8, newlines kept as given) to ``path`` atomically.

    See :func:`atomic_path` for the guarantee. Returns ``path`` as a :class:`~pathlib.Path`.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    with atomic_path(path, mode=mode) as tmp:
        tmp.write_bytes(raw)
    return Path(path)


# --- the container ------------------------------------------------------------------------------

#: The newest container version this labkit writes and reads.
FORMAT_VERSION = 1
_KEY = "labkit"
_FORMAT = re.compile(r"^labkit/(?P<kind>[a-z0-9][a-z0-9-]*)/v(?P<version>\d+)$")


class ContainerError(LabkitError, ValueError):
    """A labkit file that is missing, unreadable, changed since written, of another kind or too new."""


class ContainerNotFoundError(ContainerError, FileNotFoundError):
    """No file at the path (also a ``FileNotFoundError``, so either ``except`` catches it)."""


@dataclass(frozen=True)
class ContainerKind:
    """What a kind of container holds, in words (for errors) and how to read it."""

    description: str
    reader: str
    writer: str


_KINDS: Registry[ContainerKind] = Registry("container kind")
_KINDS.add("masks", ContainerKind("a mask file", "labkit.pruning.Masks.load", "Masks.save(path)"))
_KINDS.add("checkpoint", ContainerKind("a model checkpoint", "labkit.models.load_checkpoint",
                                       "labkit.models.save_checkpoint(model, path, meta)"))
_KINDS.add("train-state", ContainerKind("a training run state", "labkit.training.load_train_state",
                                        "labkit.training.fit(..., checkpoint=path)"))


def register_container_kind(name: str, description: str, reader: str, writer: str) -> None:
    """Allow containers of kind ``name`` (lower-case letters, digits, ``-``).

    ``description`` names such a file in errors ("a mask file"); ``reader`` and ``writer`` name
    the functions that load and make one, suggested when a file is opened with the wrong loader.
    """
    if not _FORMAT.match(f"labkit/{name}/v1"):
        raise ValueError(f"a container kind is lower-case letters, digits and '-', got {name!r}")
    _KINDS.add(name, ContainerKind(description, reader, writer))


def list_container_kinds() -> list[str]:
    """The registered container kinds, sorted."""
    return _KINDS.names()


def _describe(kind: str) -> str:
    return _KINDS.get(kind).description if kind in _KINDS else f"a labkit {kind!r} file"


def _writer(kind: str) -> str:
    return _KINDS.get(kind).writer if kind in _KINDS else "labkit.io.save_container"


def _flat_bytes(t: Tensor) -> memoryview:
    """The tensor's bytes in C order (native byte order, as safetensors stores them on x86/ARM)."""
    t = t.detach().to("cpu").contiguous()
    if t.numel() == 0:
        return memoryview(b"")
    return t.reshape(-1).view(torch.uint8).numpy().data


def _canonical(obj: Any) -> str:
    """JSON with sorted keys and no spaces: the same content always gives the same text.

    NaN and infinities are written as Python's ``json`` writes them (a training history may
    hold them); model checkpoints refuse them before they get here.
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def content_digest(tensors: Mapping[str, Tensor], header: str) -> str:
    """``"sha256:<hex>"`` over every tensor's name, dtype, shape and bytes (name order), then ``header``."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name]
        data = _flat_bytes(t)
        h.update(_canonical([name, str(t.dtype).removeprefix("torch."), list(t.shape)]).encode())
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    h.update(header.encode())
    return f"sha256:{h.hexdigest()}"


def save_container(path: PathLike, tensors: Mapping[str, Tensor], *, kind: str,
                   meta: Mapping[str, Any]) -> Path:
    """Write ``tensors`` and the JSON object ``meta`` as a ``labkit/<kind>/v1`` safetensors file, atomically.

    Tensors are copied to the CPU first (views of one buffer are fine). ``meta`` must be
    JSON-able: str keys; str, numbers, bools, None, lists and dicts as values.

    Raises:
        ContainerError: ``kind`` is not registered, or ``meta`` is not JSON-able.
    """
    if kind not in _KINDS:
        raise ContainerError(f"unknown container kind {kind!r}; known: {', '.join(_KINDS.names())} "
                             f"(add one with labkit.io.register_container_kind)")
    cpu: dict[str, Tensor] = {}
    for name, t in tensors.items():
        if not isinstance(name, str) or not isinstance(t, Tensor):
            raise TypeError(f"{_describe(kind)} holds str -> Tensor; got {name!r}: {type(t).__name__}")
        # a copy: safetensors refuses tensors that share memory, and the caller's stay untouched
        cpu[name] = t.detach().to("cpu").clone(memory_format=torch.contiguous_format)
    head = {"format": f"labkit/{kind}/v{FORMAT_VERSION}", "meta": dict(meta)}
    try:
        text = _canonical(head)
    except (TypeError, ValueError) as err:
        raise ContainerError(f"the metadata of {_describe(kind)} must be JSON-able (str keys; str, numbers, "
                             f"lists, dicts as values): {err}") from None
    head["digest"] = content_digest(cpu, text)
    with atomic_path(path) as tmp:
        save_file(cpu, str(tmp), metadata={_KEY: _canonical(head)})
    return Path(path)


def _legacy(raw: Mapping[str, str]) -> tuple[str, dict[str, Any]] | None:
    """``(kind, meta)`` of a file in a layout from before the container (v0), else ``None``."""
    fmt = raw.get("format")
    if fmt == "labkit-masks":
        return "masks", {"granularity": raw.get("granularity", "weight"), "meta": json.loads(raw.get("meta", "{}"))}
    if fmt == "labkit-train-state/1":
        return "train-state", {"meta": json.loads(raw["meta"]), "optimizer": json.loads(raw["optimizer"])}
    if _KEY in raw:
        meta = json.loads(raw[_KEY])
        if isinstance(meta, dict) and "format" not in meta:
            return "checkpoint", meta  # model checkpoints kept their metadata under "labkit"
    return None


@dataclass
class _Header:
    kind: str
    version: int
    meta: dict[str, Any]
    digest: str | None   # None: a v0 file, which has none
    covered: str         # the header text the digest covers


def _header(path: Path, raw: Mapping[str, str], want: str, kind: str) -> _Header:
    """Classify a file by its safetensors metadata (v1 container, or one of the v0 layouts)."""
    head = json.loads(raw[_KEY]) if _KEY in raw else None
    if isinstance(head, dict) and str(head.get("format", "")).startswith("labkit/"):
        found = _FORMAT.match(head["format"])
        if found is None:
            raise ContainerError(f"{path} has an unknown labkit format {head['format']!r}; "
                                 f"it was not written by this labkit")
        digest = head.pop("digest", None)
        if digest is None and int(found["version"]) <= FORMAT_VERSION:
            raise ContainerError(f"{path} is corrupted: its labkit header has no content digest; write it again")
        return _Header(found["kind"], int(found["version"]), head.get("meta", {}), digest, _canonical(head))
    legacy = _legacy(raw)
    if legacy is None:
        raise ContainerError(f"{path} is a safetensors file without labkit metadata, so it is not "
                             f"{want}; make one with {_writer(kind)}")
    return _Header(legacy[0], 0, legacy[1], None, "")


def _read(path: Path, kind: str) -> tuple[dict[str, Tensor], _Header]:
    """Open ``path``, check it is ``kind`` in a version we read, and load its tensors on the CPU."""
    want = _describe(kind)
    if not path.is_file():
        raise ContainerNotFoundError(f"no file at {path} (expected {want})")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            head = _header(path, f.metadata() or {}, want, kind)
            if head.kind != kind:
                hint = f"; read it with {_KINDS.get(head.kind).reader}" if head.kind in _KINDS else ""
                raise ContainerError(f"{path} is {_describe(head.kind)}, not {want}{hint}")
            if head.version > FORMAT_VERSION:
                raise ContainerError(f"{path} is {want} in format v{head.version}, written by a newer labkit; "
                                     f"this labkit reads up to v{FORMAT_VERSION}: upgrade labkit to read it")
            return {n: f.get_tensor(n) for n in f.keys()}, head
    except ContainerError:
        raise
    except json.JSONDecodeError as err:
        raise ContainerError(f"{path} is corrupted: its labkit metadata is not JSON ({err}); write it again") from None
    except Exception as err:  # safetensors raises several types for a damaged header or body
        raise ContainerError(f"{path} is not a safetensors file, or it was cut short (it should be {want}); "
                             f"it cannot be read, write it again ({err})") from None


def load_container(path: PathLike, *, kind: str,
                   device: str | torch.device = "cpu") -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Read a file written by :func:`save_container`: ``(tensors on device, meta)``.

    The content digest is recomputed and compared with the one in the header; v0 files (from
    before the container) have none and are read as they are.

    Raises:
        ContainerError: the file is missing (:class:`ContainerNotFoundError`), is not a
            safetensors file or is truncated, is another kind of file, was changed after it was
            written (digest mismatch), or was written in a newer format.
    """
    path = Path(path)
    tensors, head = _read(path, kind)
    if head.digest is not None:
        actual = content_digest(tensors, head.covered)
        if actual != head.digest:
            raise ContainerError(f"{path} is corrupted: its content digest is {actual[7:23]}... but the file "
                                 f"says {str(head.digest)[7:23]}...; it was changed after it was written (disk "
                                 f"error, partial copy, or an edit). Restore it or write it again")
    if torch.device(device) != torch.device("cpu"):
        tensors = {n: t.to(device) for n, t in tensors.items()}
    return tensors, head.meta
