"""Committed results: export a task space without weights, find it by its key, load it back.

A reproducible paper ships its results. ``taskspace reproduce --preset cpu`` computes every task
space the book's chapters ask for (:mod:`.experiments`) and exports each one, once complete,
into ``results/<preset>/``::

    meta.json                        provenance, and the sha256 of every file below
    memo.json                        every space's Mantel tests, keyed by their inputs (memo.py)
    models/<size>/epoch-<E>.json     each checkpoint's meta.json: pretraining hash and code
                                     version, config, corpus and tokenizer hashes, tokens seen,
                                     validation loss, wall time
    models/<size>/train_log.csv      the training curve (step, loss, lr, tokens)
    spaces/<label>-<key hash>/
        manifest.json                store key, config, provenance, wall times, headline
                                     numbers, file hashes
        scores.npz                   per-pair margins (eval1; eval2 after each source's
                                     fine-tune), mask shares, overlaps and union, fine-tune curves
        mask_tables.csv.gz           per source and parameter tensor: how many entries are masked
        transfer.csv.gz, within.csv  the transfer matrices (long form, with CIs) and the
                                     within-phenomenon table, for reading without code

No weights. A space's directory has the same key hash as in the run store, and the key is
computed from the checkpoint's identity (its ``meta.json``) and the BLiMP files, so
:func:`load_or_compute_space` finds a result by its key without the model. The full masks (a bit per
parameter and source) stay in the run store; the book needs only their summaries.
:func:`analysed_space` is what the chapters call: a space (committed, else the run store) and
its analysis.
"""

from __future__ import annotations

import gzip
import io
import json
import sys
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from ..corpora import blimp
from ..lm.pretrain import ensure_checkpoint, ensure_checkpoint_meta
from ..lm.checkpoints import dedupe_curve
from ..config import Config, parameter_overrides, apply_overrides, stable_hash, to_dict
from ..errors import DataError
from ..analysis.memo import MEMO_FILE, Memo
from ..lm.identity import checkpoint_identity
from ..lm.identity import models_dir, run_name
from ..engine.probing import probe_selection, space_key
from ..provenance import atomic_dir, atomic_write_json, atomic_write_text, provenance, sha256_bytes, sha256_file
from ..analysis.report import Analysis, analyse, write_report
from ..errors import CorruptResultWarning
from ..analysis.space import Origin, PairMargins, TaskSpace, transfers
from ..engine.compute import compute_space

INDEX = "meta.json"


# --------------------------------------------------------------------------- finding and loading spaces


def find_space(config: Config, identity: dict) -> Path | None:
    """The committed directory holding the task space of ``identity`` under ``config``, if any."""
    root = config.reference_dir()
    return _keyed_dir(root / "spaces", config, identity) if root is not None else None


def find_stored_space(config: Config, identity: dict) -> Path | None:
    """The run store's directory of the task space of ``identity`` under ``config``, if it was
    computed and analysed there (its ``summary.json`` written: :func:`~taskspace_core.report.write_report`)."""
    found = _keyed_dir(config.run_dir() / "spaces", config, identity)
    return found if found is not None and (found / "summary.json").is_file() else None


def _keyed_dir(spaces: Path, config: Config, identity: dict) -> Path | None:
    """The directory under ``spaces`` named ``<label>-<key hash>`` for this config and checkpoint."""
    if not spaces.is_dir():
        return None
    paradigms, data_hash = probe_selection(config)
    key_hash = stable_hash(space_key(config, identity, data_hash, paradigms))
    found = sorted(spaces.glob(f"*-{key_hash}"))
    return found[0] if found else None


def load_or_compute_space(config: Config, size: str, checkpoint: str | float = "final", log=print,
                          progress_file=None) -> TaskSpace:
    """The task space of one checkpoint: committed results when they hold it, else the run store.

    The run store computes what is missing (pretraining the checkpoint first if needed), with a
    progress bar on ``progress_file`` if one is given. Both routes give the same numbers: the
    committed files are the store's per-pair margins.
    """
    identity = checkpoint_identity(ensure_checkpoint_meta(config, size, checkpoint, log=log))
    found = find_space(config, identity)
    if found is not None:
        space = load_space(found, config)
        if space is not None:
            return space
    path = ensure_checkpoint(config, size, checkpoint, log=log)
    return compute_space(config, path, label=space_label(config, size, path), log=log,
                         progress=progress_file is not None, progress_file=progress_file)


def space_label(config: Config, size: str, checkpoint: Path) -> str:
    """The name a space of one of our checkpoints is stored under, before its key hash
    (``cpu-small-seed1-epoch-0.5``): every route to a space (the book, ``space``, ``reproduce``)
    names it so, and so finds it stored."""
    return f"{config.preset}-{run_name(config, size)}-{Path(checkpoint).name}"


def load_space(directory: Path, config: Config) -> TaskSpace | None:
    """Rebuild a task space from a committed directory; None (with a warning) if it fails its hashes."""
    directory = Path(directory)
    try:
        manifest, arrays = read_space(directory)
        tables = pd.read_csv(directory / "mask_tables.csv.gz")
    except (OSError, ValueError, KeyError) as exc:
        warnings.warn(f"{directory}: corrupt reference result ({exc}); it will be recomputed",
                      CorruptResultWarning, stacklevel=2)
        return None
    names = [str(p) for p in arrays["paradigms"]]
    margins = PairMargins(arrays["eval1_margin"], arrays["eval2_margin"], arrays["test_paradigm"],
                          arrays["test_pair_id"])
    eval1, transfer = transfers(names, margins)
    steps = arrays["objective"].shape[1]
    logs = pd.DataFrame({"source": np.repeat(names, steps), "step": np.tile(np.arange(1, steps + 1), len(names)),
                         "objective": arrays["objective"].ravel(), "batch_margin": arrays["batch_margin"].ravel()})
    space = TaskSpace(
        paradigms=names, phenomena=[blimp.phenomenon_of(p, config.data.taxonomy) for p in names],
        transfer=transfer, eval1=eval1, margins=margins,
        mask_share=pd.Series(arrays["mask_share"], index=names, name="mask_share"),
        mask_overlap=arrays["mask_overlap"], mask_union_share=float(arrays["mask_union_share"]),
        mask_tables=tables, finetune_log=logs, store_dir=directory, origin=Origin.COMMITTED, masks=None,
        bootstrap=config.space.bootstrap, bootstrap_seed=config.space.seed,
    )
    space.meta = {**manifest["run"], "key": manifest["key"], "key_hash": manifest["key_hash"], "jobs_computed": 0}
    return space


def read_space(directory: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """A committed space's manifest and ``scores.npz`` arrays, after checking every file's hash.

    Raises OSError, ValueError (JSONDecodeError included) or KeyError on anything damaged.
    """
    manifest = json.loads((directory / "manifest.json").read_text())
    _check_manifest(directory, manifest)
    with np.load(directory / "scores.npz", allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    return manifest, arrays


def _check_manifest(directory: Path, manifest: dict) -> None:
    if stable_hash(manifest["key"]) != manifest["key_hash"]:
        raise ValueError("manifest key does not hash to its key_hash")
    if not directory.name.endswith(f"-{manifest['key_hash']}"):
        raise ValueError(f"directory name does not end in its key hash {manifest['key_hash']}")
    for name, digest in manifest["files"].items():
        if sha256_file(directory / name) != digest:
            raise ValueError(f"sha256 of {name} does not match manifest.json")


# --------------------------------------------------------------------------- exporting


def export_space(space: TaskSpace, config: Config, root: Path) -> Path:
    """Write ``space`` (assembled from a run store) into ``root/spaces/<store dir name>/``, atomically,
    and its Mantel tests into ``root/memo.json`` (memo.py), so the book never re-runs them."""
    if space.origin is Origin.COMMITTED:
        raise ValueError(f"{space.store_dir} is already a reference result")
    names = space.paradigms
    log = space.finetune_log
    steps = int(log.step.max())

    def per_source(column: str) -> np.ndarray:  # (sources, steps): one fine-tune curve per row
        return np.stack([log.loc[log.source == p, column].to_numpy() for p in names])

    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        paradigms=np.array(names), test_paradigm=space.margins.test_paradigm.astype(np.int16),
        test_pair_id=space.margins.test_pair_id.astype(np.int32),
        eval1_margin=space.margins.eval1, eval2_margin=space.margins.eval2,
        mask_share=space.mask_share.to_numpy(), mask_overlap=space.mask_overlap,
        mask_union_share=np.array(space.mask_union_share),
        objective=per_source("objective").reshape(len(names), steps),
        batch_margin=per_source("batch_margin").reshape(len(names), steps),
    )
    analysis = analyse(space, config, Memo(writable=Path(root) / MEMO_FILE))
    text = {"mask_tables.csv.gz": space.mask_tables.to_csv(index=False),
            "transfer.csv.gz": space.table().to_csv(index=False, float_format="%.6g"),
            "within.csv": analysis.within_table().to_csv(float_format="%.6g")}
    files = {"scores.npz": buffer.getvalue(),
             **{name: gzip.compress(t.encode(), mtime=0) if name.endswith(".gz") else t.encode()
                for name, t in text.items()}}
    run = {k: space.meta[k] for k in ("wall_time_s", "eval1_time_s", "job_time_s", "finetune_time_s", "git_commits")}
    target = Path(root) / "spaces" / space.store_dir.name
    with atomic_dir(target) as tmp:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        atomic_write_json(tmp / "manifest.json", provenance(
            kind="reference_space", key=space.meta["key"], key_hash=space.meta["key_hash"],
            config=to_dict(config), run=run, headline=asdict(analysis.headline),
            files={name: sha256_bytes(data) for name, data in files.items()}))
    return target


def export_checkpoints(config: Config, root: Path, sizes: list[str] | None = None) -> list[Path]:
    """Copy every finished checkpoint's ``meta.json`` and the training curve of each of ``sizes``
    (None: every size) under ``config`` (its pretraining seed picks the run) into ``root/models``.

    A run retrained on another machine (its run directory lost) keeps the committed records:
    a checkpoint whose weights hash as committed keeps its first record (and its wall time), a
    committed curve is never replaced by a shorter one, and weights that hash otherwise raise,
    since the committed task spaces of that checkpoint were computed from the committed weights.
    """
    written = []
    for size in config.sizes if sizes is None else sizes:
        source, committed = models_dir(config.run_dir(), config, size), models_dir(root, config, size)
        for meta in sorted(source.glob("epoch-*/meta.json")):
            target = committed / f"{meta.parent.name}.json"
            record = json.loads(meta.read_text())
            kept = json.loads(target.read_text()) if target.is_file() else {}
            if kept.get("files") and record.get("files"):  # records written before hashes cannot be compared
                if kept["files"] == record["files"]:
                    continue
                if kept["pretrain_hash"] == record["pretrain_hash"]:
                    differing = [n for n, digest in record["files"].items() if kept["files"].get(n) != digest]
                    raise DataError(meta, f"the retrained weights differ from the committed record {target} "
                                          f"(same pretraining run, another sha256 of {', '.join(differing)}): "
                                          "pretraining did not reproduce bit for bit here, so new task spaces of "
                                          "this run would not belong with the committed ones")
            atomic_write_text(target, meta.read_text())
            written.append(target)
        if (source / "train_log.jsonl").is_file():
            curve = dedupe_curve(pd.read_json(source / "train_log.jsonl", lines=True))
            target = committed / "train_log.csv"
            if target.is_file() and len(pd.read_csv(target)) >= len(curve):
                continue
            atomic_write_text(target, curve.to_csv(index=False))
            written.append(target)
    return written


def write_index(config: Config, root: Path) -> Path:
    """``root/meta.json``: provenance, the data hashes, and the sha256 of every committed file."""
    root = Path(root)
    paradigms, data_hash = probe_selection(config)
    files = {str(p.relative_to(root)): sha256_file(p) for p in sorted(root.rglob("*"))
             if p.is_file() and p.name != INDEX and not p.name.startswith(".")}
    path = root / INDEX
    atomic_write_json(path, provenance(kind="reference_results", preset=config.preset, config=to_dict(config),
                                       blimp_data_hash=data_hash, n_paradigms=len(paradigms), files=files))
    return path


# --------------------------------------------------------------------------- what the chapters call


def analysed_space(config: Config, size: str | None = None, checkpoint: str | float = "final",
                   **changes) -> tuple[TaskSpace, Analysis]:
    """The task space (and its analysis) of one checkpoint: committed results, else the run store.

    ``size`` defaults to the largest. ``changes`` are notebook-style parameters on top of
    ``config`` (e.g. ``ftgd_method="plain"``, see :func:`~taskspace_core.config.parameter_overrides`).
    A space found in the committed results needs no weights; any other is loaded from the run
    store or computed, and its report tables are written next to it. The Mantel tests come from
    :func:`analysis_memo`; within one process a space asked for twice is analysed once.
    """
    if changes:
        config = apply_overrides(config, parameter_overrides(**changes))
    size = size or list(config.sizes)[-1]
    cache_key = (stable_hash(to_dict(config)), size, str(checkpoint))
    if cache_key not in _ANALYSED:
        # what is computed (pretraining, a space's jobs) reports to the terminal: in a notebook
        # kernel sys.__stderr__ is that of `taskspace run/book`, so nothing of it lands on the page
        terminal = sys.__stderr__
        space = load_or_compute_space(config, size, checkpoint, log=lambda message: print(message, file=terminal,
                                                                                         flush=True),
                                      progress_file=terminal)
        analysis = analyse(space, config, analysis_memo(config))
        if space.origin is not Origin.COMMITTED:  # committed results are never written to
            write_report(space, analysis, config)
        _ANALYSED[cache_key] = space, analysis
    return _ANALYSED[cache_key]


_ANALYSED: dict[tuple, tuple[TaskSpace, Analysis]] = {}  # one process's analysed spaces (a chapter asks twice)


def analysis_memo(config: Config, strict: bool = False) -> Memo:
    """The memo of ``config``'s analyses (memo.py): the committed results' (read only) and the run
    store's, which takes new entries."""
    root = config.reference_dir()
    return Memo([root / MEMO_FILE] if root is not None else [], config.run_dir() / MEMO_FILE, strict=strict)
