"""Provenance and safe writes: every result says which code, data and packages made it.

Writes are atomic (write to a temporary sibling, then ``os.replace``), so an interrupted run
never leaves a half-written file or checkpoint that looks finished.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from .paths import REPO_ROOT

# every package that can change a number (the first seven) or a rendered page (the rest)
_PACKAGES = ("taskspace", "torch", "transformers", "tokenizers", "numpy", "pandas", "datasets",
             "altair", "vl-convert-python", "jupyter-book", "myst-nb", "sphinx-book-theme", "papermill", "jupytext")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """sha256 of a file, read in blocks (checkpoints can be hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_commit() -> str:
    """The repo's HEAD commit, with ``-dirty`` if tracked files other than the committed results
    (``results/``, which a reference run itself rewrites as each space lands) changed; ``unknown``
    outside git."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no", "--", ".",
             ":(exclude)results"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


# the CPU's matrix-unit flags that decide which kernels a bf16 or fp32 matmul runs on (oneDNN picks
# AMX tiles, AVX-512 bf16 dot products or plain AVX-512/AVX2 FMAs): bf16 training on two of these
# kernel families agrees to rounding, not bit for bit
_MATMUL_FLAGS = ("amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx2")


def cpu_identity(cpuinfo: str | None = None) -> dict[str, Any]:
    """The CPU's model name and which of :data:`_MATMUL_FLAGS` it has, from ``/proc/cpuinfo``
    (``cpuinfo`` gives its text instead); elsewhere the platform's processor string and no flags."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    fields = dict(line.split(":", 1) for line in cpuinfo.splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}  # the last processor's; all are alike
    flags = set(fields.get("flags", "").split())
    return {"cpu": fields.get("model name") or platform.processor() or "unknown",
            "matmul_flags": [f for f in _MATMUL_FLAGS if f in flags]}


def cpu_label(host: dict) -> str:
    """A record's ``host`` CPU in words: ``"AMD EPYC (avx512_bf16, avx512f, avx2)"``; ``""`` for a
    record from before the CPU field."""
    if not host.get("cpu"):
        return ""
    return f"{host['cpu']} ({', '.join(host.get('matmul_flags', [])) or 'no matrix-unit flags'})"


def provenance(**extra: Any) -> dict[str, Any]:
    """Code version, package versions, host (with its CPU model and matrix-unit flags) and time,
    plus whatever the caller adds."""
    return {
        "git_commit": git_commit(),
        "packages": package_versions(),
        "host": {"platform": platform.platform(), "cpus": os.cpu_count(), **cpu_identity()},
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **extra,
    }


def _write_all(fd: int, tmp: str, data: bytes) -> None:
    """Write ``data`` to the open temporary file ``tmp`` and close it (the one place bytes hit the
    disk, so the tests can make it fail as a full disk does)."""
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _process_umask() -> int:
    """This process's umask (read without changing it where Linux shows it, else set and restored)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary sibling, then rename it over ``path``.

    The file gets the mode a plain ``open(path, "w")`` would give it (``mkstemp``'s is 0600,
    which left results and shipped model cards unreadable to the other users of a shared machine).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(fd, 0o666 & ~_process_umask())
        _write_all(fd, tmp, data)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None:  # e.g. ENOSPC from write(): name the file
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _json_safe(obj: Any) -> Any:
    """NaN and infinities become null, so every file is strict JSON (readable outside Python)."""
    if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(_json_safe(obj), indent=2, sort_keys=True, allow_nan=False) + "\n")


@contextlib.contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``final`` only if the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
