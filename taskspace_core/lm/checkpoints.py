"""Checkpoints: find one and verify its files (training a missing one is :mod:`.pretrain`'s).

A checkpoint of size ``S`` at epoch ``E`` of a preset lives in the run directory
(``<work_dir>/<preset>/models/S/epoch-E/``, weights and ``meta.json``, written by
:mod:`.pretrain`; a replicate with ``pretrain.seed`` k > 0 in ``models/S-seedk/``). The committed
results (``results/<preset>/models/S/epoch-E.json``) keep a copy of its ``meta.json`` without
weights: enough to find its task spaces, never to compute one.

    checkpoint_epoch       "final" / "epoch-0.5" / 0.5 -> the epoch, checked against the preset
    dynamics_epochs        the checkpoints RQ3 studies (a preset may pick some of them)
    find_checkpoint_meta   meta.json from the run directory, else the committed copy; None if neither
    load_checkpoint_meta   the same, or a one-line error naming the missing checkpoint
    checkpoint_problems    what is wrong with a checkpoint's files
    training_curve         a size's training loss curve (run directory, else committed)
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ..config import Config
from ..corpora.books import corpus_dir, load_books
from ..errors import ConfigError, DataError, MissingResult
from ..provenance import cpu_label, sha256_file
from .identity import PRETRAIN_VERSION, checkpoint_identity, checkpoint_name, models_dir, pretrain_hash


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

    A record without file hashes (no ``files`` in meta) cannot be checked
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


def differing_files(record: dict, other: dict) -> list[str]:
    """The file names whose sha256 differs between two checkpoint records (or that one of them lacks)."""
    ours, theirs = record.get("files", {}), other.get("files", {})
    return sorted(name for name in {*ours, *theirs} if ours.get(name) != theirs.get(name))


# --------------------------------------------------------------------------- finding metadata


def _committed_run(config: Config, size: str) -> Path | None:
    root = config.reference_dir()
    return models_dir(root, config, size) if root else None


def find_checkpoint_meta(config: Config, size: str, checkpoint: str | float = "final") -> dict | None:
    """A checkpoint's ``meta.json`` from the run directory, else the committed copy; None if neither.

    A committed copy counts only if it was trained under this config and this training code
    (same pretraining hash and ``PRETRAIN_VERSION``). A local checkpoint that its committed record
    describes (same run, epoch and step) is given that record's preset label (see
    :func:`recorded_preset`); if its files are also the committed bytes, it is the committed
    checkpoint retrained, and the committed record is returned: the book cites that record's
    measurements (wall time, host, code version), not a retrain's.
    """
    config.size(size)
    name = checkpoint_name(checkpoint_epoch(config, checkpoint))
    local = models_dir(config.run_dir(), config, size) / name / "meta.json"
    if local.is_file():
        meta = json.loads(local.read_text())
        record = _committed_record_of(config, size, meta["epoch"], meta["step"], meta["pretrain_hash"])
        if record is None:
            return meta | {"preset": config.preset}
        return record if meta.get("files") and not differing_files(meta, record) else meta | {"preset": record["preset"]}
    committed_run = _committed_run(config, size)
    committed = committed_run / f"{name}.json" if committed_run else None
    if committed is not None and committed.is_file():
        meta = json.loads(committed.read_text())
        if trained_here(meta, config, size):
            return meta
    return None


def _committed_record_of(config: Config, size: str, epoch: float, step: int, run_hash: str) -> dict | None:
    """The committed record of this very checkpoint (same run hash, training code, epoch and step,
    and a preset label), or None."""
    committed_run = _committed_run(config, size)
    record = committed_run / f"{checkpoint_name(epoch)}.json" if committed_run else None
    if record is None or not record.is_file():
        return None
    meta = json.loads(record.read_text())
    identity = checkpoint_identity(meta)
    if (identity["pretrain_hash"], identity["pretrain_version"], identity["epoch"], identity["step"]) == (
            run_hash, PRETRAIN_VERSION, epoch, step) and identity["preset"]:
        return meta
    return None


def refuse_unreproduced(config: Config, size: str, meta: dict, where: Path) -> None:
    """Raise :class:`DataError` when ``meta``, a checkpoint just trained at ``where``, is a committed
    checkpoint's run, epoch and step with other weights: the committed task spaces were computed
    from the committed weights, so training on from these would only produce spaces that do not
    belong beside them. Called as each checkpoint is saved, it stops a retrain on a machine whose
    kernels round differently at its first trained checkpoint, not after the whole run."""
    record = _committed_record_of(config, size, meta["epoch"], meta["step"], meta["pretrain_hash"])
    differing = differing_files(meta, record) if record is not None and record.get("files") else []
    if not differing:
        return
    here = cpu_label(meta.get("host", {})) or "a CPU this record does not name"
    there = cpu_label(record.get("host", {})) or "a CPU its record does not name"
    raise DataError(where, f"the retrained weights differ from the committed record of the same run, epoch "
                           f"{meta['epoch']:g} and step {meta['step']} (another sha256 of {', '.join(differing)}): "
                           f"trained here on {here}, committed from {there}; pretraining reproduces bit for bit on "
                           "the same kernels only. Stopped before training further; results_dir \"\" trains this run "
                           "without comparing it to the committed results")


def recorded_preset(config: Config, size: str, epoch: float, step: int, run_hash: str) -> str:
    """The preset label a new checkpoint is recorded under.

    The label is part of every result key (:func:`~.identity.checkpoint_identity`). A preset can be
    renamed after its checkpoints were committed (``cpu`` was ``cpu-next``); a retrain of the same
    run must then keep the committed label, or its spaces would be filed under keys the plan never
    looks up. So: the committed record's label when it records this very checkpoint (same run
    hash, training code, epoch and step), else ``config.preset``.
    """
    record = _committed_record_of(config, size, epoch, step, run_hash)
    return record["preset"] if record is not None else config.preset


def load_checkpoint_meta(config: Config, size: str, checkpoint: str | float = "final") -> dict:
    """:func:`find_checkpoint_meta`, or :class:`~taskspace_core.errors.MissingResult` naming the
    checkpoint and the command that trains it (nothing is trained here)."""
    meta = find_checkpoint_meta(config, size, checkpoint)
    if meta is None:
        name = checkpoint_name(checkpoint_epoch(config, checkpoint))
        raise MissingResult(f"no checkpoint {name} of size '{size}' (run {models_dir('', config, size).name}) "
                            f"for preset '{config.preset}', neither trained in {config.run_dir()} nor committed "
                            f"in {config.reference_dir()}: `taskspace pretrain --preset {config.preset} --size {size}`")
    return meta


def trained_here(meta: dict, config: Config, size: str) -> bool:
    """Whether the checkpoint of ``meta`` was trained under ``config`` (size ``size``) and today's training code."""
    return (meta.get("pretrain_hash") == expected_pretrain_hash(config, size)
            and checkpoint_identity(meta)["pretrain_version"] == PRETRAIN_VERSION)


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


CURVE_COLUMNS = ("step", "loss", "lr", "tokens", "wall_s")  # one line of train_log.jsonl (pretrain writes it)


def dedupe_curve(curve: pd.DataFrame) -> pd.DataFrame:
    """A training log with one record per step: a resumed run logs the step it resumed from again.
    A run taken only to its initialisation (a space of epoch 0 first) has logged nothing yet."""
    if curve.empty:
        return pd.DataFrame(columns=list(CURVE_COLUMNS))
    return curve.drop_duplicates("step", keep="last").sort_values("step").reset_index(drop=True)
