"""What identifies a pretraining run and a checkpoint, and where a run keeps its checkpoints.

A run is identified by :func:`pretrain_hash` (the size, the recipe it trains with, the tokenizer
and corpus) and ``PRETRAIN_VERSION`` (the training code); a checkpoint by
:func:`checkpoint_identity` (the run and where in training it was taken). These identify every
result computed from a checkpoint, so results are found by them without the weights present.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from ..config import Config, is_earlier_behaviour, stable_hash
from .precision import key_precision

# Bump when a change to the training code changes the weights a config produces: it is part of
# every checkpoint's identity (and so of every task-space key), next to the config hash.
PRETRAIN_VERSION = 1


def checkpoint_name(epoch: float) -> str:
    return f"epoch-{epoch:g}"


def run_name(config: Config, size: str) -> str:
    """The directory name of one pretraining run of ``size``: the size itself at ``pretrain.seed``
    0, else the size and its seed (``small-seed1``), so replicates sit beside the run they repeat."""
    seed = config.pretrain.seed
    return size if seed == 0 else f"{size}-seed{seed}"


def models_dir(root: str | Path, config: Config, size: str) -> Path:
    """Where ``root`` (a run directory or committed results) keeps the run of ``size``:
    ``root/models/<run_name>``."""
    return Path(root) / "models" / run_name(config, size)



def size_recipe(config: Config, size: str):
    """The pretraining config one size trains with: ``pretrain`` with that size's ``lr_by_size`` applied."""
    cfg = config.pretrain
    return dataclasses.replace(cfg, lr=cfg.lr_by_size.get(size, cfg.lr), lr_by_size={})


def pretrain_hash(config: Config, size: str, corpus_hash: str) -> str:
    """Identity of a pretraining run: everything that changes its weights (not max_steps, logging or the device).

    Computed from :func:`size_recipe`, so the learning rate is the one this size trains with.
    ``lr_by_size`` is already in that rate, ``precision`` counts only where it is not fp32 and
    ``init`` only where it is not "hf", so none changes the hash of a run that does not use it."""
    p = asdict(size_recipe(config, size))
    for key in ("max_steps", "log_every", "precision", "lr_by_size"):
        p.pop(key)
    if is_earlier_behaviour(config, "pretrain", "init"):
        p.pop("init")
    p.update(key_precision(config.pretrain, config.device))  # nothing for fp32
    return stable_hash({"spec": config.size(size), "pretrain": p, "tokenizer": config.tokenizer, "corpus": corpus_hash})



def checkpoint_identity(meta: dict) -> dict:
    """The identity of one of our checkpoints, from its ``meta.json``: pretraining config, data and
    code version (``pretrain_hash`` + ``pretrain_version``) plus where in training it was taken.
    A record without ``pretrain_version`` is version 1."""
    return {"kind": "taskspace-checkpoint", "pretrain_hash": meta["pretrain_hash"],
            "pretrain_version": meta.get("pretrain_version", 1), "epoch": meta["epoch"], "step": meta["step"],
            "size": meta.get("size"), "preset": meta.get("preset")}


def model_identity(name_or_path: str | Path, revision: str | None = None) -> dict:
    """What a result computed from this model is keyed by (never the path it happens to sit at).

    - our checkpoints: :func:`checkpoint_identity` of their ``meta.json`` (pretraining run hash of
      config, corpus and tokenizer, code version, epoch and step), so results stay valid, and can
      be found, without the weights present;
    - other local directories: the sha256 of ``config.json`` and the weight files;
    - hub models: the repo id and revision.
    """
    path = Path(name_or_path).expanduser()
    meta_file = path / "meta.json"
    if meta_file.is_file():
        meta = json.loads(meta_file.read_text())
        if "pretrain_hash" in meta:
            return checkpoint_identity(meta)
    if path.is_dir():
        digest = hashlib.sha256()
        for f in sorted(path.iterdir()):
            if f.name == "config.json" or f.suffix in (".safetensors", ".bin"):
                digest.update(f.name.encode())
                with f.open("rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        digest.update(block)
        return {"kind": "local", "sha256": digest.hexdigest()[:16]}
    return {"kind": "hub", "name": str(name_or_path), "revision": revision}
