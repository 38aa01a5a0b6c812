"""labkit.io: the one atomic writer (crash-safe, no temp left, stale temps swept) and the one container."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

import labkit.io as lio
from labkit.io import (STALE_AFTER, TEMP_SUFFIX, ContainerError, ContainerNotFoundError, atomic_path,
                       atomic_write, clean_stale_temps, load_container, save_container)
from labkit.models.checkpoints import ASSETS_DIR, read_manifest, sha256_file

REPO = Path(lio.__file__).resolve().parents[1]


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(TEMP_SUFFIX))


# --- atomic writes ------------------------------------------------------------------------------

def test_atomic_write_text_and_bytes(tmp_path: Path) -> None:
    out = atomic_write(tmp_path / "a" / "b" / "t.txt", "héllo\r\nworld\n")   # parents made
    assert out == tmp_path / "a" / "b" / "t.txt"
    assert out.read_bytes() == "héllo\r\nworld\n".encode()                   # newlines kept as given
    assert (out.stat().st_mode & 0o777) == 0o644                              # readable by others
    atomic_write(out, b"\x00\x01")
    assert out.read_bytes() == b"\x00\x01" and os.listdir(out.parent) == ["t.txt"]


def test_atomic_path_for_path_writers(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "t.csv") as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith(TEMP_SUFFIX)
        pd.DataFrame({"a": [1, 2]}).to_csv(tmp, index=False)
    with atomic_path(tmp_path / "z.zip") as tmp, zipfile.ZipFile(tmp, "w") as z:
        z.writestr("x.txt", "x")
    assert (tmp_path / "t.csv").read_text() == "a\n1\n2\n"
    assert zipfile.ZipFile(tmp_path / "z.zip").read("x.txt") == b"x"
    assert sorted(os.listdir(tmp_path)) == ["t.csv", "z.zip"]


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_crash_mid_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path, error: BaseException) -> None:
    path = atomic_write(tmp_path / "r.csv", "old\n")
    with pytest.raises(type(error)):
        with atomic_path(path) as tmp:
            tmp.write_text("half of the ne")
            raise error
    assert path.read_text() == "old\n" and os.listdir(tmp_path) == ["r.csv"]


def test_a_killed_writer_leaves_a_temp_that_the_next_write_removes(tmp_path: Path) -> None:
    """kill -9 mid-write: no except clause runs, so the temp stays until the next write sweeps it."""
    target = atomic_write(tmp_path / "state.json", "{}")
    code = ("import os, sys; from labkit.io import atomic_path\n"
            "with atomic_path(sys.argv[1]) as tmp:\n"
            "    tmp.write_text('half'); os._exit(3)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code, str(target)], env=env, timeout=300)
    assert done.returncode == 3
    (left,) = _temps(tmp_path)                          # the crash left one temp, the target intact
    assert left.startswith(".state.json.") and target.read_text() == "{}"
    atomic_write(target, '{"epoch": 2}')
    assert _temps(tmp_path) == [] and target.read_text() == '{"epoch": 2}'


def test_only_abandoned_temps_are_swept(tmp_path: Path) -> None:
    host = lio._HOST
    live_same = tmp_path / f".t.csv.{host}-{os.getpid()}.abc{TEMP_SUFFIX}"     # a live writer, same target
    live_other = tmp_path / f".u.csv.{host}-{os.getpid()}.abd{TEMP_SUFFIX}"    # a live writer, another target
    old_other = tmp_path / f".u.csv.{host}-{os.getpid()}.abe{TEMP_SUFFIX}"     # abandoned long ago
    foreign = tmp_path / ".t.csv.tmp"                                          # not ours: never touched
    for p in (live_same, live_other, old_other, foreign):
        p.write_text("x")
    past = time.time() - STALE_AFTER - 60
    os.utime(old_other, (past, past))
    os.utime(foreign, (past, past))
    assert clean_stale_temps(tmp_path, "t.csv") == [old_other]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (live_same, live_other, foreign))


# --- the container ------------------------------------------------------------------------------

TENSORS = {"w": torch.arange(12, dtype=torch.float32).reshape(3, 4), "mask": torch.tensor([True, False]),
           "half": torch.ones(3, dtype=torch.bfloat16), "n": torch.tensor(7), "empty": torch.zeros(0, 2)}
META = {"seed": 0, "b": [1, 2.5, None], "a": {"z": "é", "y": True}}


def test_round_trip_keeps_tensors_dtypes_and_meta(tmp_path: Path) -> None:
    path = save_container(tmp_path / "sub" / "c.safetensors", TENSORS, kind="masks", meta=META)
    tensors, meta = load_container(path, kind="masks")
    assert meta == META and tensors.keys() == TENSORS.keys()
    for name, t in TENSORS.items():
        assert tensors[name].dtype == t.dtype and torch.equal(tensors[name], t), name
    on_meta, _ = load_container(path, kind="masks", device="meta")
    assert {t.device.type for t in on_meta.values()} == {"meta"}
    assert os.listdir(path.parent) == ["c.safetensors"]


def test_header_is_one_key_with_format_digest_and_meta(tmp_path: Path) -> None:
    path = save_container(tmp_path / "c.safetensors", TENSORS, kind="train-state", meta=META)
    with safe_open(str(path), framework="pt") as f:
        raw = f.metadata()
    assert list(raw) == ["labkit"]
    head = json.loads(raw["labkit"])
    assert head["format"] == "labkit/train-state/v1" and head["meta"] == META
    assert head["digest"].startswith("sha256:") and len(head["digest"]) == 7 + 64


def test_same_content_gives_the_same_bytes(tmp_path: Path) -> None:
    a = save_container(tmp_path / "a.safetensors", TENSORS, kind="masks", meta=META)
    shuffled = {k: TENSORS[k].clone() for k in reversed(list(TENSORS))}
    b = save_container(tmp_path / "b.safetensors", shuffled, kind="masks", meta=dict(reversed(list(META.items()))))
    assert a.read_bytes() == b.read_bytes()
    c = save_container(tmp_path / "c.safetensors", TENSORS, kind="masks", meta={**META, "seed": 1})
    assert c.read_bytes() != a.read_bytes()


def test_shared_memory_views_are_saved_and_the_callers_tensors_untouched(tmp_path: Path) -> None:
    buf = torch.tensor([True, False, True, True])
    views = {"a": buf[:2], "b": buf[2:]}
    path = save_container(tmp_path / "v.safetensors", views, kind="masks", meta={})
    back, _ = load_container(path, kind="masks")
    assert back["a"].tolist() == [True, False] and back["b"].tolist() == [True, True]
    assert buf.tolist() == [True, False, True, True]


def test_a_changed_tensor_byte_fails_the_digest(tmp_path: Path) -> None:
    path = save_container(tmp_path / "c.safetensors", TENSORS, kind="masks", meta=META)
    data = bytearray(path.read_bytes())
    data[-9] ^= 0x01      # inside the tensor data: the file still parses
    path.write_bytes(bytes(data))
    with pytest.raises(ContainerError, match=r"c\.safetensors is corrupted: its content digest"):
        load_container(path, kind="masks")


def test_changed_metadata_fails_the_digest(tmp_path: Path) -> None:
    path = save_container(tmp_path / "c.safetensors", TENSORS, kind="masks", meta=META)
    with safe_open(str(path), framework="pt") as f:
        head = json.loads(f.metadata()["labkit"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    head["meta"]["seed"] = 99
    save_file(tensors, str(path), metadata={"labkit": json.dumps(head)})
    with pytest.raises(ContainerError, match="corrupted"):
        load_container(path, kind="masks")


def test_wrong_kind_says_what_the_file_is(tmp_path: Path) -> None:
    path = save_container(tmp_path / "m.safetensors", TENSORS, kind="masks", meta={})
    with pytest.raises(ContainerError, match=r"m\.safetensors is a mask file, not a model checkpoint; "
                                             r"read it with labkit\.pruning\.Masks\.load"):
        load_container(path, kind="checkpoint")


def test_newer_version_asks_for_an_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "n.safetensors"
    save_file({"w": torch.ones(1)}, str(path),
              metadata={"labkit": json.dumps({"format": "labkit/masks/v2", "meta": {}, "digest": "sha256:0"})})
    with pytest.raises(ContainerError, match="format v2, written by a newer labkit.*upgrade labkit"):
        load_container(path, kind="masks")


def test_missing_truncated_foreign_and_garbage_files(tmp_path: Path) -> None:
    with pytest.raises(ContainerNotFoundError, match=r"no file at .*nope\.safetensors \(expected a mask file\)") as err:
        load_container(tmp_path / "nope.safetensors", kind="masks")
    assert isinstance(err.value, FileNotFoundError) and isinstance(err.value, ValueError)
    path = save_container(tmp_path / "c.safetensors", TENSORS, kind="masks", meta=META)
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(ContainerError, match=r"c\.safetensors is not a safetensors file, or it was cut short"):
        load_container(path, kind="masks")
    (tmp_path / "g.safetensors").write_bytes(b"PK\x03\x04 a zip, not safetensors")
    with pytest.raises(ContainerError, match="cut short"):
        load_container(tmp_path / "g.safetensors", kind="masks")
    save_file({"w": torch.ones(1)}, str(tmp_path / "hf.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ContainerError, match="without labkit metadata, so it is not a mask file; make one with"):
        load_container(tmp_path / "hf.safetensors", kind="masks")


def test_save_refuses_unknown_kinds_and_non_json_meta(tmp_path: Path) -> None:
    with pytest.raises(ContainerError, match="unknown container kind 'mask'; known: checkpoint, masks"):
        save_container(tmp_path / "x.safetensors", TENSORS, kind="mask", meta={})
    with pytest.raises(ContainerError, match="must be JSON-able"):
        save_container(tmp_path / "x.safetensors", TENSORS, kind="masks", meta={"p": Path("/x")})
    with pytest.raises(ValueError, match="already registered"):
        lio.register_container_kind("masks", "a mask file", "x", "y")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("name", sorted(read_manifest()))
def test_the_committed_v0_checkpoints_still_load(name: str) -> None:
    """The shipped assets predate the container (metadata under "labkit", no digest): read as they are."""
    path = ASSETS_DIR / name
    assert sha256_file(path) == read_manifest()[name]        # the committed bytes, unchanged
    tensors, meta = load_container(path, kind="checkpoint")
    assert meta["model"] == name.split("__")[0] and meta["num_classes"] > 0
    with safe_open(str(path), framework="pt") as f:
        assert all(torch.equal(tensors[k], f.get_tensor(k)) for k in f.keys())
    with pytest.raises(ContainerError, match="is a model checkpoint, not a mask file"):
        load_container(path, kind="masks")
