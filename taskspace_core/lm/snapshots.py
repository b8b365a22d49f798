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
    load_snapshot(out_dir, run_hash, after, until)                   the state to go on from (on the CPU), or None
    drop_snapshot(out_dir)                                           once a checkpoint supersedes it
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..errors import ConfigError
from .identity import PRETRAIN_VERSION

SNAPSHOT_FILE = "snapshot.pt"
PARTIAL_FILE = ".snapshot.pt.partial"  # one fixed name: a write cut off by a kill is overwritten or dropped
SNAPSHOT_EVERY_S = 600.0  # ten minutes of training: a second to write even for the largest model


def save_snapshot(out_dir: Path, model, optimizer, step: int, wall: float, run_hash: str) -> Path:
    """Write the run's state after ``step`` to ``out_dir/snapshot.pt`` (a partial file, synced, then renamed)."""
    path, partial = Path(out_dir) / SNAPSHOT_FILE, Path(out_dir) / PARTIAL_FILE
    with open(partial, "wb") as f:
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                    "wall_time_s": wall, "pretrain_hash": run_hash, "pretrain_version": PRETRAIN_VERSION}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, path)
    return path


def load_snapshot(out_dir: Path, run_hash: str, after_step: int, until_step: int) -> dict | None:
    """The snapshot's state (on the CPU) if it goes further than ``after_step`` (the newest
    checkpoint's) without passing ``until_step`` (where this call stops); ``None`` otherwise or
    when there is none. A snapshot of another configuration or training code is refused, as its
    checkpoints would be."""
    path = Path(out_dir) / SNAPSHOT_FILE
    (Path(out_dir) / PARTIAL_FILE).unlink(missing_ok=True)  # a write that a kill cut off
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a foreign file: the checkpoints still hold the run
        raise ConfigError(f"{path}: unreadable resume snapshot ({exc}); delete it to resume from the "
                          "newest checkpoint") from None
    found = (state.get("pretrain_hash"), state.get("pretrain_version"))
    if found != (run_hash, PRETRAIN_VERSION):
        raise ConfigError(f"{path} is a snapshot of another configuration or training code (run hash {found[0]}, "
                          f"version {found[1]}; this run {run_hash}, version {PRETRAIN_VERSION}); "
                          "choose another --out")
    return state if after_step < state["step"] <= until_step else None


def drop_snapshot(out_dir: Path) -> None:
    for name in (SNAPSHOT_FILE, PARTIAL_FILE):
        (Path(out_dir) / name).unlink(missing_ok=True)
