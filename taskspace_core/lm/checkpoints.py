"""Checkpoints: find one, verify its files, and train it if it exists nowhere.

A checkpoint of size ``S`` at epoch ``E`` of a preset lives in the run directory
(``<work_dir>/<preset>/models/S/epoch-E/``, weights and ``meta.json``, written by
:mod:`.pretrain`; a replicate with ``pretrain.seed`` k > 0 in ``models/S-seedk/``). The committed
results (``results/<preset>/models/S/epoch-E.json``) keep a copy of its ``meta.json`` without
weights: enough to find its task spaces, never to compute one.

    checkpoint_epoch       "final" / "epoch-0.5" / 0.5 -> the epoch, checked against the preset
    dynamics_epochs        the checkpoints RQ3 studies (a preset may pick some of them)
    find_checkpoint_meta   meta.json from the run directory, else the committed copy (no training)
    checkpoint_meta        the same, pretraining first if neither exists
    checkpoint_dir         the weights' directory: verified, retrained if damaged, trained if missing
    checkpoint_problems    what is wrong with a checkpoint's files
    training_curve         a size's training loss curve (run directory, else committed)
"""

from __future__ import annotations

import json
import warnings
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ..config import Config
from ..corpora.books import corpus_dir, load_books
from ..errors import ConfigError
from .models import checkpoint_identity
from .pretrain import PRETRAIN_VERSION, checkpoint_name, models_dir, pretrain, pretrain_hash
from ..provenance import sha256_file
from ..engine.store import CorruptResultWarning


def checkpoint_epoch(config: Config, checkpoint: str | float = "final") -> float:
    """``"final"``, ``"epoch-0.5"`` or ``0.5`` -> the epoch, checked against ``pretrain.checkpoints``."""
    epochs = checkpoint_epochs(config)
    if str(checkpoint) == "final":
        return epochs[-1]
    try:
        epoch = float(str(checkpoint).removeprefix("epoch-"))
    except ValueError:
        raise ConfigError(f"checkpoint '{checkpoint}': use 'final' or an epoch number") from None
    if epoch not in epochs:
        raise ConfigError(f"checkpoint '{checkpoint}' is not in pretrain.checkpoints "
                          f"({', '.join(f'{e:g}' for e in epochs)})")
    return epoch


def checkpoint_epochs(config: Config) -> list[float]:
    """Every checkpoint of the preset, in training order (0 = initialisation)."""
    return sorted(config.pretrain.checkpoints)


def dynamics_epochs(config: Config) -> list[float]:
    """The checkpoints the learning-dynamics chapter studies (``book.dynamics_checkpoints``; every
    checkpoint when empty), in training order, each checked against ``pretrain.checkpoints``."""
    chosen = config.book.dynamics_checkpoints
    return sorted({checkpoint_epoch(config, e) for e in chosen}) if chosen else checkpoint_epochs(config)


# --------------------------------------------------------------------------- verifying


def checkpoint_problems(path: str | Path) -> list[str]:
    """What is wrong with a finished checkpoint's files: missing, or not the bytes ``meta.json`` recorded.

    Checkpoints written before hashes were recorded (no ``files`` in meta) cannot be checked
    and report nothing.
    """
    path = Path(path)
    try:
        meta = json.loads((path / "meta.json").read_text())
    except (OSError, ValueError) as exc:
        return [f"{path / 'meta.json'}: unreadable ({exc})"]
    problems = []
    for name, digest in meta.get("files", {}).items():
        if not (path / name).is_file():
            problems.append(f"{path / name}: missing")
        elif sha256_file(path / name) != digest:
            problems.append(f"{path / name}: sha256 does not match meta.json")
    return problems


def _move_aside(directory: Path) -> Path:
    for n in range(1, 1000):
        aside = directory.with_name(f"{directory.name}.damaged-{n}")
        if not aside.exists():
            directory.rename(aside)
            return aside
    raise RuntimeError(f"too many damaged copies of {directory}")


def checkpoint_dir(config: Config, size: str, checkpoint: str | float = "final", train_if_missing: bool = True,
                   log=print) -> Path:
    """The directory of one checkpoint of ``size`` (``"final"`` or an epoch such as ``0.5``).

    A damaged checkpoint (files that do not match its ``meta.json``) is moved aside with its run
    and retrained. If it is missing and ``train_if_missing``, pretraining runs (or resumes) first.
    """
    config.size(size)
    epoch = checkpoint_epoch(config, checkpoint)
    path = models_dir(config.run_dir(), config, size) / checkpoint_name(epoch)
    problems = checkpoint_problems(path) if (path / "meta.json").is_file() else []
    if problems:
        # Every checkpoint of a run shares its optimizer history, and only the newest keeps the
        # optimizer state: the honest repair is to retrain the run (deterministic) after moving
        # the damaged one aside, where it can still be inspected.
        aside = _move_aside(path.parent)
        warnings.warn(f"{path}: damaged checkpoint ({'; '.join(problems)}); moved {path.parent} to {aside} "
                      "and retraining it", CorruptResultWarning, stacklevel=2)
    if not (path / "meta.json").is_file():
        if not train_if_missing:
            raise ConfigError(f"checkpoint {path} does not exist; run `taskspace pretrain --preset {config.preset}`")
        pretrain(config, size, log=log)
    return path


# --------------------------------------------------------------------------- finding metadata


def _committed_run(config: Config, size: str) -> Path | None:
    root = config.reference_dir()
    return models_dir(root, config, size) if root else None


def find_checkpoint_meta(config: Config, size: str, checkpoint: str | float = "final") -> dict | None:
    """A checkpoint's ``meta.json`` from the run directory, else the committed copy; None if neither.

    A committed copy counts only if it was trained under this config and this training code
    (same pretraining hash and ``PRETRAIN_VERSION``).
    """
    config.size(size)
    name = checkpoint_name(checkpoint_epoch(config, checkpoint))
    local = models_dir(config.run_dir(), config, size) / name / "meta.json"
    if local.is_file():
        return json.loads(local.read_text())
    committed_run = _committed_run(config, size)
    committed = committed_run / f"{name}.json" if committed_run else None
    if committed is not None and committed.is_file():
        meta = json.loads(committed.read_text())
        if trained_here(meta, config, size):
            return meta
    return None


def trained_here(meta: dict, config: Config, size: str) -> bool:
    """Whether the checkpoint of ``meta`` was trained under ``config`` (size ``size``) and today's training code."""
    return (meta.get("pretrain_hash") == expected_pretrain_hash(config, size)
            and checkpoint_identity(meta)["pretrain_version"] == PRETRAIN_VERSION)


def checkpoint_meta(config: Config, size: str, checkpoint: str | float = "final", log=print) -> dict:
    """:func:`find_checkpoint_meta`, pretraining the checkpoint first if it exists nowhere."""
    meta = find_checkpoint_meta(config, size, checkpoint)
    if meta is None:
        meta = json.loads((checkpoint_dir(config, size, checkpoint, log=log) / "meta.json").read_text())
    return meta


def expected_pretrain_hash(config: Config, size: str) -> str:
    """The pretraining hash a checkpoint of ``size`` trained under ``config`` carries (no training)."""
    return pretrain_hash(config, size, _corpus_hash(str(corpus_dir(config))))


@lru_cache(maxsize=8)  # reading and hashing the books once per process is enough for a whole book build
def _corpus_hash(directory: str) -> str:
    return load_books(Path(directory))[1]


# --------------------------------------------------------------------------- training curves


def training_curve(config: Config, size: str) -> pd.DataFrame:
    """The training loss curve of ``size`` (step, loss, lr, tokens): run directory, else committed copy."""
    local = models_dir(config.run_dir(), config, size) / "train_log.jsonl"
    if local.is_file():
        return dedupe_curve(pd.read_json(local, lines=True))
    committed_run = _committed_run(config, size)
    if committed_run and (committed_run / "train_log.csv").is_file():
        return pd.read_csv(committed_run / "train_log.csv")
    raise ConfigError(f"no training log for size '{size}' of preset '{config.preset}' "
                      f"(looked in {local} and {committed_run})")


def dedupe_curve(curve: pd.DataFrame) -> pd.DataFrame:
    """A training log with one record per step: a resumed run logs the step it resumed from again."""
    return curve.drop_duplicates("step", keep="last").sort_values("step").reset_index(drop=True)
