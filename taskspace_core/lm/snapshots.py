"""Resume snapshots: a long pretraining run's state between two of its checkpoints.

Checkpoints are a run's results (scored, hashed, committed), and in a long run they can be hours
apart: the largest model of a ladder spends more than an hour between its last two. A session
that ends between them would lose every step since the last one. A *snapshot* is the run's whole
state (weights, optimizer, step, training wall time), written every ``every_s`` seconds of
training to ``<run dir>/snapshot.pt``; a resumed run starts from it when it is newer than the
newest checkpoint. A run is a pure function of its config and the step (the batch and the
learning rate depend only on the step; there is no dropout), so a run resumed from a snapshot
is bit-identical to one that never stopped.

A snapshot is not a checkpoint: nothing scores, hashes or commits it, and the next checkpoint
replaces it.

    save_snapshot(out_dir, model, optimizer, step, wall, run_hash)   write it atomically
    load_snapshot(out_dir, run_hash, after, until, device)           the state to go on from, or None
    drop_snapshot(out_dir)                                           once a checkpoint supersedes it
"""

from __future__ import annotations

import io
from pathlib import Path

import torch

from ..errors import ConfigError
from ..provenance import atomic_write_bytes

SNAPSHOT_FILE = "snapshot.pt"
SNAPSHOT_EVERY_S = 600.0  # ten minutes of training: a second to write even for the largest model


def save_snapshot(out_dir: Path, model, optimizer, step: int, wall: float, run_hash: str) -> Path:
    """Write the run's state after ``step`` to ``out_dir/snapshot.pt`` (temporary file, then rename)."""
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                "wall_time_s": wall, "pretrain_hash": run_hash}, buffer)
    path = Path(out_dir) / SNAPSHOT_FILE
    atomic_write_bytes(path, buffer.getvalue())
    return path


def load_snapshot(out_dir: Path, run_hash: str, after_step: int, until_step: int, device: str) -> dict | None:
    """The snapshot's state if it goes further than ``after_step`` (the newest checkpoint's) without
    passing ``until_step`` (where this call stops); ``None`` otherwise or when there is none. A
    snapshot of another configuration is refused, as its checkpoints would be."""
    path = Path(out_dir) / SNAPSHOT_FILE
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=False)
    except Exception as exc:  # a torn or foreign file: the checkpoints still hold the run
        raise ConfigError(f"{path}: unreadable resume snapshot ({exc}); delete it to resume from the "
                          "newest checkpoint") from None
    if state.get("pretrain_hash") != run_hash:
        raise ConfigError(f"{path} is a snapshot of another configuration (run hash {state.get('pretrain_hash')}, "
                          f"this config {run_hash}); choose another --out")
    return state if after_step < state["step"] <= until_step else None


def drop_snapshot(out_dir: Path) -> None:
    (Path(out_dir) / SNAPSHOT_FILE).unlink(missing_ok=True)
