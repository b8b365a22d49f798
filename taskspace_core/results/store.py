"""A content-addressed results store: one directory per key, one file pair per finished job.

A job's result is ``<name>.npz`` (arrays) plus ``<name>.json`` (metadata, provenance and the
sha256 of the ``.npz``). The ``.npz`` is written first and the ``.json`` last, both atomically,
so a job is finished exactly when its ``.json`` exists and its hash matches. A truncated or
corrupted file is reported and treated as missing (recomputed), never silently used.

A job is computed by one worker at a time: :meth:`ResultStore.claim` takes ``<name>.lock``
(created exclusively, kept fresh by a heartbeat) before computing. A lock whose process died
(same host) or whose heartbeat stopped (any host, e.g. a SIGKILLed cluster worker) is stale and
is taken over, so a crash never blocks a job forever.

The directory name is ``<label>-<hash of the key>``: anything that changes a result (config
fields, data hash, checkpoint identity, :data:`~taskspace_core.results.keys.PROBE_VERSION`) changes
the key, so an identical config hits the cache and a changed one misses.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import socket
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..config import stable_hash
from ..errors import CorruptResultWarning
from ..provenance import atomic_write_bytes, atomic_write_json, atomic_write_text, provenance


def _safe(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", label).strip("_") or "result"


class ResultStore:
    """Results of one key under ``root/<label>-<hash>`` (an existing directory of the key, if any)."""

    def __init__(self, root: str | Path, label: str, key: dict[str, Any]):
        self.key = key
        self.key_hash = stable_hash(key)
        # a key's results live in one directory, whatever label it was first stored under
        existing = sorted(Path(root).glob(f"*-{self.key_hash}")) if Path(root).is_dir() else []
        self.dir = existing[0] if existing else Path(root) / f"{_safe(label)}-{self.key_hash}"

    def _paths(self, name: str) -> tuple[Path, Path]:
        stem = self.dir / name
        return stem.with_name(stem.name + ".npz"), stem.with_name(stem.name + ".json")

    def write_manifest(self, **extra: Any) -> None:
        """``manifest.json``: the full key (so a directory explains itself) and provenance."""
        path = self.dir / "manifest.json"
        if not path.exists():
            atomic_write_json(path, provenance(kind="store_manifest", key=self.key, key_hash=self.key_hash, **extra))

    def has(self, name: str) -> bool:
        return self.load(name) is not None

    def load(self, name: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """(arrays, meta) of a finished job, or None if missing or corrupt (with a warning)."""
        npz, meta_path = self._paths(name)
        if not meta_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text())
            data = npz.read_bytes()
            if hashlib.sha256(data).hexdigest() != meta["npz_sha256"]:
                raise ValueError(f"sha256 of {npz.name} does not match {meta_path.name}")
            with np.load(io.BytesIO(data), allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            warnings.warn(f"{meta_path.parent}/{name}: corrupt result ({exc}); it will be recomputed",
                          CorruptResultWarning, stacklevel=2)
            return None
        return arrays, meta

    def save(self, name: str, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Write a job's arrays, then its metadata (the commit point), atomically."""
        npz, meta_path = self._paths(name)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        data = buffer.getvalue()
        atomic_write_bytes(npz, data)
        atomic_write_json(meta_path, {**meta, "npz_sha256": hashlib.sha256(data).hexdigest()})

    def write_text(self, name: str, text: str) -> Path:
        """A derived, human-readable file (tables, summaries) next to the job results."""
        path = self.dir / name
        atomic_write_text(path, text)
        return path

    # ----------------------------------------------------------------------- one worker per job

    @contextlib.contextmanager
    def claim(self, name: str, wait: bool = True, poll_s: float = 0.5,
              stale_after_s: float = 120.0) -> Iterator[str]:
        """Hold job ``name``'s lock while the block computes it.

        Yields ``"compute"`` when the caller holds the lock and should compute the job, ``"done"``
        when the job is (or became, while waiting) stored, and ``"busy"`` when another live worker
        holds it and ``wait`` is False. With ``wait`` it blocks until the holder finishes or its
        lock goes stale (see the module docstring), and never yields ``"busy"``.
        """
        lock = self.dir / f"{name}.lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        while True:
            if self.has(name):
                _break_if_stale(lock, stale_after_s)  # its holder may have died between storing it and unlocking
                yield "done"
                return
            token = _try_lock(lock)
            if token is not None:
                break
            _break_if_stale(lock, stale_after_s)
            if not wait and lock.exists():
                yield "busy"
                return
            time.sleep(poll_s if lock.exists() else 0)
        stop = threading.Event()
        beat = threading.Thread(target=_heartbeat, args=(lock, stop, stale_after_s / 4), daemon=True)
        beat.start()
        try:
            yield "done" if self.has(name) else "compute"  # it may have finished between the check and the lock
        finally:
            stop.set()
            beat.join()
            with contextlib.suppress(FileNotFoundError, ValueError):
                if json.loads(lock.read_text()).get("token") == token:
                    lock.unlink()


def _owner() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _try_lock(lock: Path) -> str | None:
    """Create ``lock`` exclusively; its token if this process now holds it, else None."""
    token = uuid.uuid4().hex
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return None
    try:
        with os.fdopen(fd, "w") as f:
            json.dump({**_owner(), "token": token, "since": time.time()}, f)
    except OSError as exc:  # e.g. a full disk: leave no empty lock behind
        lock.unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(lock)) from exc
    return token


def _heartbeat(lock: Path, stop: threading.Event, every_s: float) -> None:
    while not stop.wait(every_s):
        with contextlib.suppress(FileNotFoundError):
            os.utime(lock)


def _break_if_stale(lock: Path, stale_after_s: float) -> None:
    """Remove ``lock`` if its holder is gone: a dead pid on this host, or no heartbeat for a while."""
    try:
        holder = json.loads(lock.read_text())
        age = time.time() - lock.stat().st_mtime
    except FileNotFoundError:
        return
    except (OSError, ValueError):  # half-written by a holder killed between create and write
        holder, age = {}, time.time() - lock.stat().st_mtime if lock.exists() else 0.0
    same_host_dead = holder.get("host") == socket.gethostname() and not _alive(holder.get("pid", -1))
    if not (same_host_dead or age > stale_after_s or (not holder and age > 5.0)):
        return
    # Rename, then check that what we moved is the lock we judged stale: another worker may have
    # replaced it in between, and its live lock goes straight back.
    moved = lock.with_name(f"{lock.name}.stale-{uuid.uuid4().hex}")
    try:
        os.rename(lock, moved)
    except FileNotFoundError:
        return
    try:
        if holder and json.loads(moved.read_text()).get("token") != holder.get("token"):
            with contextlib.suppress(FileExistsError):
                os.link(moved, lock)
    except (OSError, ValueError):
        pass
    moved.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
