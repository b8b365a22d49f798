"""A content-addressed results store: one directory per key, one file pair per finished job.

A job's result is ``<name>.npz`` (arrays) plus ``<name>.json`` (metadata, provenance and the
sha256 of the ``.npz``). The ``.npz`` is written first and the ``.json`` last, both atomically,
so a job is finished exactly when its ``.json`` exists and its hash matches. A truncated or
corrupted file is reported and treated as missing (recomputed), never silently used.

The directory name is ``<label>-<hash of the key>``: anything that changes a result (config
fields, data hash, checkpoint identity, :data:`~taskspace_core.probing.PROBE_VERSION`) changes
the key, so an identical config hits the cache and a changed one misses.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .config import stable_hash
from .provenance import atomic_write_bytes, atomic_write_json, atomic_write_text, provenance


class CorruptResultWarning(UserWarning):
    """A stored result failed its integrity check and will be recomputed."""


def _safe(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", label).strip("_") or "result"


class ResultStore:
    """Results of one key under ``root/<label>-<hash>``."""

    def __init__(self, root: str | Path, label: str, key: dict[str, Any]):
        self.key = key
        self.key_hash = stable_hash(key)
        self.dir = Path(root) / f"{_safe(label)}-{self.key_hash}"

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
