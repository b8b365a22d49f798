"""Shipped weights: a committed checkpoint's weights, installed into the run directory instead of pretraining.

The reference results carry no weights, except the final checkpoint of the sizes a preset ships
(``book.shipped_sizes``; ``cpu``: the small model), so that a seminar can compute new task spaces
on a model that knows some grammar without pretraining it first. Such a checkpoint sits in
``results/<preset>/models/<run>/epoch-<E>/`` as a Hugging Face model directory (safetensors
weights, config, tokenizer) with a model card (``README.md``), beside its record
``epoch-<E>.json``, which holds the sha256 of every file the checkpoint was saved with.

:func:`~.pretrain.ensure_checkpoint` calls :func:`install_shipped` before it would pretrain: the
files are checked against the record, copied into the run directory with the record as their
``meta.json``, and from there on the checkpoint is one like any trained here. Weights that do not
hash as recorded are refused with a one-line error naming the file, never used.

    shipped_dir       the committed model directory of one checkpoint, or None
    install_shipped   copy it into the run directory, hash-checked, with its record as meta.json
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from ..config import Config
from ..errors import DataError
from ..provenance import atomic_dir, atomic_write_json, sha256_file
from .checkpoints import trained_here
from .identity import checkpoint_name, models_dir

MODEL_CARD = "README.md"  # the Hugging Face name for a model directory's card


def shipped_dir(config: Config, size: str, epoch: float) -> Path | None:
    """``results/<preset>/models/<run>/epoch-<E>/`` when it holds weights and its record says they
    were trained under ``config`` and today's training code; else None."""
    root = config.reference_dir()
    if root is None:
        return None
    run = models_dir(root, config, size)
    directory, record = run / checkpoint_name(epoch), run / f"{checkpoint_name(epoch)}.json"
    if not (directory / "model.safetensors").is_file() or not record.is_file():
        return None
    return directory if trained_here(json.loads(record.read_text()), config, size) else None


def install_shipped(config: Config, size: str, epoch: float, target: Path,
                    log: Callable[[str], None] = print) -> bool:
    """Install the shipped checkpoint of ``size`` at ``epoch`` as ``target`` (a run-directory
    checkpoint); False if none is shipped. Raises :class:`~taskspace_core.errors.DataError`
    naming the file if a shipped file is missing or does not hash as its record says."""
    source = shipped_dir(config, size, epoch)
    if source is None:
        return False
    record_path = source.with_name(f"{source.name}.json")
    record = json.loads(record_path.read_text())
    for name, digest in record["files"].items():
        if not (source / name).is_file():
            raise DataError(source / name, f"missing: the record {record_path.name} lists it")
        if sha256_file(source / name) != digest:
            raise DataError(source / name, f"sha256 does not match its record {record_path.name}: "
                                           "these are not the weights the committed results were computed from")
    with atomic_dir(target) as tmp:  # a half-copied checkpoint never looks finished
        for name in record["files"]:
            shutil.copyfile(source / name, tmp / name)
        atomic_write_json(tmp / "meta.json", record)  # written last, as pretraining does
    log(f"installed the shipped checkpoint {source} -> {target} (sha256 checked)")
    return True
