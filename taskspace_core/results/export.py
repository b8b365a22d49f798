"""Exporting results: a run store's spaces and checkpoint records into committed results.

A reproducible paper ships its results. ``taskspace reproduce --preset cpu`` computes every task
space the book's plan asks for and exports each one, once complete, into ``results/<preset>/``::

    meta.json                        provenance, and the sha256 of every file below
    memo.json                        every space's Mantel tests, keyed by their inputs (analysis/memo.py)
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

No weights. A space's directory has the same key hash as in the run store (read.py finds it by
its key without the model). The full masks (a bit per parameter and source) stay in the run
store; the book needs only their summaries.
"""

from __future__ import annotations

import gzip
import io
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.masks import MaskSet, overlap_within_between
from ..analysis.memo import MEMO_FILE, Memo
from ..analysis.report import analyse
from ..analysis.space import Origin, TaskSpace
from ..config import Config, to_dict
from ..errors import DataError
from ..lm.checkpoints import dedupe_curve, differing_files
from ..lm.identity import models_dir
from ..provenance import (
    atomic_dir, atomic_write_json, atomic_write_text, provenance, sha256_bytes, sha256_file,
)
from .keys import probe_selection

INDEX = "meta.json"


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


def export_masks(masks: MaskSet, config: Config, root: Path) -> Path:
    """Write a mask set's summaries (not the masks themselves) into ``root/masks/<store dir name>/``:
    ``masks.npz`` (paradigms, each mask's share, their Jaccard overlaps, the union's share),
    ``mask_tables.csv.gz`` (per paradigm and tensor) and ``manifest.json``."""
    if masks.origin is Origin.COMMITTED:
        raise ValueError(f"{masks.store_dir} is already a reference result")
    buffer = io.BytesIO()
    np.savez_compressed(buffer, paradigms=np.array(masks.paradigms), mask_share=masks.mask_share.to_numpy(),
                        mask_overlap=masks.mask_overlap, mask_union_share=np.array(masks.mask_union_share))
    files = {"masks.npz": buffer.getvalue(),
             "mask_tables.csv.gz": gzip.compress(masks.mask_tables.to_csv(index=False).encode(), mtime=0)}
    within, between = overlap_within_between(masks.mask_overlap, masks.phenomena)
    headline = {"mask_share_mean": float(masks.mask_share.mean()), "mask_union_share": masks.mask_union_share,
                "mask_overlap_within": within, "mask_overlap_between": between}
    run = {k: masks.meta[k] for k in ("wall_time_s", "job_time_s", "git_commits")}
    target = Path(root) / "masks" / masks.store_dir.name
    with atomic_dir(target) as tmp:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        atomic_write_json(tmp / "manifest.json", provenance(
            kind="reference_masks", key=masks.meta["key"], key_hash=masks.meta["key_hash"], config=to_dict(config),
            run=run, headline=headline, files={name: sha256_bytes(data) for name, data in files.items()}))
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
            if kept.get("files") and record.get("files"):  # a record without file hashes cannot be compared
                differing = differing_files(record, kept)
                if not differing:
                    continue
                if kept["pretrain_hash"] == record["pretrain_hash"]:
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
    recorded = to_dict(config) | {"work_dir": "runs"}  # where it ran is this machine's business, not the results'
    atomic_write_json(path, provenance(kind="reference_results", preset=config.preset, config=recorded,
                                       blimp_data_hash=data_hash, n_paradigms=len(paradigms), files=files))
    return path


