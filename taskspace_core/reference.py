"""Committed reference results: what the book renders without weights, and how they are checked.

A reproducible paper ships its results. ``taskspace reproduce --preset cpu`` computes every task
space the book's chapters ask for (:func:`book_spaces`) and exports each one, once complete,
into ``results/<preset>/``::

    meta.json                        provenance, and the sha256 of every file below
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
"""

from __future__ import annotations

import gzip
import io
import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from . import blimp
from .config import Config, apply_overrides, stable_hash, to_dict
from .errors import ConfigError
from .models import checkpoint_identity
from .probing import PairMargins, TaskSpace, compute_space, probe_selection, space_key, transfers
from .report import analyse
from .provenance import atomic_dir, atomic_write_json, atomic_write_text, provenance, sha256_bytes, sha256_file
from .store import CorruptResultWarning

INDEX = "meta.json"


# --------------------------------------------------------------------------- what the book needs


@dataclass(frozen=True)
class SpaceRequest:
    """One task space a chapter asks for: a size, a checkpoint and notebook-style changes."""

    size: str
    checkpoint: str | float = "final"
    changes: dict = field(default_factory=dict)  # e.g. {"ftgd_method": "plain"}
    purpose: str = ""

    def config(self, config: Config) -> Config:
        from .notebook import parameter_overrides

        return apply_overrides(config, parameter_overrides(**self.changes)) if self.changes else config

    def describe(self) -> str:
        changes = ", ".join(f"{k}={v}" for k, v in self.changes.items())
        where = self.checkpoint if str(self.checkpoint) == "final" else f"epoch {float(self.checkpoint):g}"
        return f"{self.size} @ {where}" + (f" ({changes})" if changes else "")


def book_spaces(config: Config) -> list[SpaceRequest]:
    """Every task space the book's chapters compute under ``config``, cheapest-to-most-used first.

    The chapters' choices come from the preset (``book.*_size``) and from the notebooks' own
    default parameters (the critique's thresholds, share and seeds), so this list and the book
    cannot drift apart. Duplicates (e.g. threshold 1e-3 is the default space) appear once.
    """
    from .book import notebook_parameters
    from .pretrain import checkpoint_epoch

    critique = notebook_parameters("critique_generality_scale")
    sweep = config.chapter_size("sweep")
    requests = [SpaceRequest(s, "final", {}, "RQ1/RQ2: final checkpoint of every size") for s in config.sizes]
    requests.append(SpaceRequest(config.chapter_size("baseline"), "final", {"ftgd_method": "plain"},
                                 "RQ1: plain fine-tuning baseline"))
    dynamics = config.chapter_size("dynamics")
    requests += [SpaceRequest(dynamics, e, {}, "RQ3: learning dynamics")
                 for e in sorted(config.pretrain.checkpoints) if e != checkpoint_epoch(config, "final")]
    requests += [SpaceRequest(sweep, "final", {"ftgd_mask_rule": "threshold", "ftgd_threshold": t},
                              "critique: threshold sweep") for t in critique["thresholds"]]
    requests.append(SpaceRequest(sweep, "final", {"ftgd_mask_rule": "top_fraction",
                                                  "ftgd_top_fraction": critique["top_fraction"]},
                                 "critique: fixed share instead of a threshold"))
    requests += [SpaceRequest(sweep, "final", {"ftgd_seed": s}, "critique: FTGD seeds") for s in critique["seeds"]]
    unique, seen = [], set()
    for r in requests:
        identity = (r.size, checkpoint_epoch(config, r.checkpoint), stable_hash(r.config(config)))
        if identity not in seen:
            seen.add(identity)
            unique.append(r)
    return unique


# --------------------------------------------------------------------------- checkpoints


def _reference_models(config: Config) -> Path | None:
    root = config.reference_dir()
    return root / "models" if root else None


def find_checkpoint_meta(config: Config, size: str, checkpoint: str | float = "final") -> dict | None:
    """A checkpoint's ``meta.json`` from the run directory, else the committed copy; None if neither.

    A committed copy counts only if it was trained under this config and this training code
    (same pretraining hash and ``PRETRAIN_VERSION``).
    """
    from .pretrain import checkpoint_epoch, checkpoint_name

    config.size(size)
    name = checkpoint_name(checkpoint_epoch(config, checkpoint))
    local = config.run_dir() / "models" / size / name / "meta.json"
    if local.is_file():
        return json.loads(local.read_text())
    models = _reference_models(config)
    committed = models / size / f"{name}.json" if models else None
    if committed is not None and committed.is_file():
        meta = json.loads(committed.read_text())
        if _trained_here(meta, config, size):
            return meta
    return None


def _trained_here(meta: dict, config: Config, size: str) -> bool:
    from .pretrain import PRETRAIN_VERSION

    return (meta.get("pretrain_hash") == expected_pretrain_hash(config, size)
            and checkpoint_identity(meta)["pretrain_version"] == PRETRAIN_VERSION)


def checkpoint_meta(config: Config, size: str, checkpoint: str | float = "final", log=print) -> dict:
    """:func:`find_checkpoint_meta`, pretraining the checkpoint first if it exists nowhere."""
    from .pretrain import checkpoint_dir

    meta = find_checkpoint_meta(config, size, checkpoint)
    if meta is None:
        meta = json.loads((checkpoint_dir(config, size, checkpoint, log=log) / "meta.json").read_text())
    return meta


def expected_pretrain_hash(config: Config, size: str) -> str:
    """The pretraining hash a checkpoint of ``size`` trained under ``config`` carries (no training)."""
    from .corpus import corpus_dir
    from .pretrain import pretrain_hash

    return pretrain_hash(config, size, _corpus_hash(str(corpus_dir(config))))


@lru_cache(maxsize=8)  # reading and hashing the books once per process is enough for a whole book build
def _corpus_hash(directory: str) -> str:
    from .corpus import load_books

    return load_books(Path(directory))[1]


def training_curve(config: Config, size: str) -> pd.DataFrame:
    """The training loss curve of ``size`` (step, loss, lr, tokens): run directory, else committed copy."""
    local = config.run_dir() / "models" / size / "train_log.jsonl"
    if local.is_file():
        return _dedupe_curve(pd.read_json(local, lines=True))
    models = _reference_models(config)
    if models and (models / size / "train_log.csv").is_file():
        return pd.read_csv(models / size / "train_log.csv")
    raise ConfigError(f"no training log for size '{size}' of preset '{config.preset}' "
                      f"(looked in {local} and {models})")


def _dedupe_curve(curve: pd.DataFrame) -> pd.DataFrame:
    # a resumed run logs the step it resumed from again: keep the last record of each step
    return curve.drop_duplicates("step", keep="last").sort_values("step").reset_index(drop=True)


# --------------------------------------------------------------------------- finding and loading spaces


def find_space(config: Config, identity: dict) -> Path | None:
    """The committed directory holding the task space of ``identity`` under ``config``, if any."""
    root = config.reference_dir()
    if root is None or not (root / "spaces").is_dir():
        return None
    paradigms, data_hash = probe_selection(config)
    key_hash = stable_hash(space_key(config, identity, data_hash, paradigms))
    found = sorted((root / "spaces").glob(f"*-{key_hash}"))
    return found[0] if found else None


def load_or_compute_space(config: Config, size: str, checkpoint: str | float = "final", log=print) -> TaskSpace:
    """The task space of one checkpoint: committed results when they hold it, else the run store.

    The run store computes what is missing (pretraining the checkpoint first if needed). Both
    routes give the same numbers: the committed files are the store's per-pair margins.
    """
    from .pretrain import checkpoint_dir

    identity = checkpoint_identity(checkpoint_meta(config, size, checkpoint, log=log))
    found = find_space(config, identity)
    if found is not None:
        space = load_space(found, config)
        if space is not None:
            return space
    path = checkpoint_dir(config, size, checkpoint, log=log)
    return compute_space(config, path, label=f"{config.preset}-{size}-{path.name}", log=log, progress=False)


def load_space(directory: Path, config: Config) -> TaskSpace | None:
    """Rebuild a task space from a committed directory; None (with a warning) if it fails its hashes."""
    directory = Path(directory)
    try:
        manifest, arrays = _read_space(directory)
        tables = pd.read_csv(directory / "mask_tables.csv.gz")
    except (OSError, ValueError, KeyError) as exc:
        warnings.warn(f"{directory}: corrupt reference result ({exc}); it will be recomputed",
                      CorruptResultWarning, stacklevel=2)
        return None
    names = [str(p) for p in arrays["paradigms"]]
    margins = PairMargins(arrays["eval1_margin"], arrays["eval2_margin"], arrays["test_paradigm"],
                          arrays["test_pair_id"])
    eval1, transfer, low, high = transfers(names, margins, config)
    steps = arrays["objective"].shape[1]
    logs = pd.DataFrame({"source": np.repeat(names, steps), "step": np.tile(np.arange(1, steps + 1), len(names)),
                         "objective": arrays["objective"].ravel(), "batch_margin": arrays["batch_margin"].ravel()})
    space = TaskSpace(
        paradigms=names, phenomena=[blimp.phenomenon_of(p, config.data.taxonomy) for p in names],
        transfer=transfer, ci_low=low, ci_high=high, eval1=eval1, margins=margins,
        mask_share=pd.Series(arrays["mask_share"], index=names, name="mask_share"),
        mask_overlap=arrays["mask_overlap"], mask_union_share=float(arrays["mask_union_share"]),
        mask_tables=tables, finetune_log=logs, store_dir=directory, masks=None,
    )
    space.meta = {**manifest["run"], "key": manifest["key"], "key_hash": manifest["key_hash"], "jobs_computed": 0,
                  "source": "reference"}
    return space


def _read_space(directory: Path) -> tuple[dict, dict[str, np.ndarray]]:
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
    """Write ``space`` (assembled from a run store) into ``root/spaces/<store dir name>/``, atomically."""
    if space.meta.get("source") == "reference":
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
    analysis = analyse(space, config)
    text = {"mask_tables.csv.gz": space.mask_tables.to_csv(index=False),
            "transfer.csv.gz": space.table().to_csv(index=False, float_format="%.6g"),
            "within.csv": analysis.within.to_csv(float_format="%.6g")}
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
            config=to_dict(config), run=run, headline=analysis.headline,
            files={name: sha256_bytes(data) for name, data in files.items()}))
    return target


def export_checkpoints(config: Config, root: Path) -> list[Path]:
    """Copy every finished checkpoint's ``meta.json`` and each size's training curve into ``root/models``."""
    written = []
    for size in config.sizes:
        source = config.run_dir() / "models" / size
        for meta in sorted(source.glob("epoch-*/meta.json")):
            target = Path(root) / "models" / size / f"{meta.parent.name}.json"
            atomic_write_text(target, meta.read_text())
            written.append(target)
        if (source / "train_log.jsonl").is_file():
            curve = _dedupe_curve(pd.read_json(source / "train_log.jsonl", lines=True))
            target = Path(root) / "models" / size / "train_log.csv"
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


# --------------------------------------------------------------------------- checking


def check_results(config: Config) -> list[str]:
    """Every problem with ``config``'s committed results: missing pieces and broken hashes.

    Complete means: every size's every checkpoint (``meta.json``) and training curve, and every
    :func:`book_spaces` space with all of this config's paradigms. Consistent means: every file
    matches the sha256 in ``meta.json`` (and nothing unlisted is there), every space's manifest
    hashes its key to its directory name and its files to their digests, and every checkpoint
    was trained under this config.
    """
    from .pretrain import checkpoint_epoch, checkpoint_name

    root = config.reference_dir()
    if root is None or not (root / INDEX).is_file():
        return [f"{root}: no {INDEX}; run `taskspace reproduce --preset {config.preset}`"]
    problems = []
    index = json.loads((root / INDEX).read_text())
    present = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name != INDEX}
    for name in sorted(present - set(index["files"])):
        problems.append(f"{root / name}: not listed in {INDEX}")
    for name, digest in index["files"].items():
        if name not in present:
            problems.append(f"{root / name}: listed in {INDEX} but missing")
        elif sha256_file(root / name) != digest:
            problems.append(f"{root / name}: sha256 does not match {INDEX}")
    paradigms, data_hash = probe_selection(config)
    if index.get("blimp_data_hash") != data_hash:
        problems.append(f"{root / INDEX}: BLiMP data hash {index.get('blimp_data_hash')} is not the shipped "
                        f"data's {data_hash}")
    for size in config.sizes:
        for epoch in config.pretrain.checkpoints:
            path = root / "models" / size / f"{checkpoint_name(epoch)}.json"
            if not path.is_file():
                problems.append(f"{path}: missing")
            elif not _trained_here(json.loads(path.read_text()), config, size):
                problems.append(f"{path}: trained under another config or training code version "
                                f"(pretrain hash is not {expected_pretrain_hash(config, size)})")
        if not (root / "models" / size / "train_log.csv").is_file():
            problems.append(f"{root / 'models' / size / 'train_log.csv'}: missing")
    for request in book_spaces(config):
        sub = request.config(config)
        meta_path = root / "models" / request.size / f"{checkpoint_name(checkpoint_epoch(config, request.checkpoint))}.json"
        if not meta_path.is_file():
            continue  # reported above
        found = find_space(sub, checkpoint_identity(json.loads(meta_path.read_text())))
        if found is None:
            problems.append(f"{root / 'spaces'}: no task space for {request.describe()} [{request.purpose}]")
            continue
        try:
            manifest, arrays = _read_space(found)
            names, n_pairs = [str(p) for p in arrays["paradigms"]], arrays["eval2_margin"].shape
        except (OSError, ValueError, KeyError) as exc:
            problems.append(f"{found}: {exc}")
            continue
        if names != paradigms or manifest["key"]["paradigms"] != paradigms:
            problems.append(f"{found}: holds {len(names)} paradigms, expected all {len(paradigms)}")
        elif n_pairs != (len(paradigms), config.data.n_test * len(paradigms)):
            problems.append(f"{found}: eval2 has shape {n_pairs}, expected "
                            f"({len(paradigms)}, {config.data.n_test * len(paradigms)})")
    return problems


# --------------------------------------------------------------------------- the whole run


def reproduce(config: Config, log: Callable[[str], None] = print) -> list[str]:
    """Pretrain every size, compute every :func:`book_spaces` space, and export each as it completes.

    Everything resumes: finished checkpoints and store jobs are reused, and a space already in
    the committed results is not recomputed. Returns :func:`check_results`' problems (empty when
    the committed results are complete).
    """
    from .pretrain import checkpoint_dir, pretrain

    root = config.reference_dir()
    if root is None:
        raise ConfigError("results_dir is empty: there is nowhere to export the reference results")
    started = time.perf_counter()
    for size in config.sizes:
        t = time.perf_counter()
        pretrain(config, size, log=log)
        log(f"[{_clock(started)}] pretrained {size} ({time.perf_counter() - t:.0f}s this run)")
    export_checkpoints(config, root)
    write_index(config, root)
    requests = book_spaces(config)
    for i, request in enumerate(requests, 1):
        sub = request.config(config)
        identity = checkpoint_identity(checkpoint_meta(sub, request.size, request.checkpoint, log=log))
        if find_space(sub, identity) is not None:
            log(f"[{_clock(started)}] {i}/{len(requests)} {request.describe()}: already in {root}")
            continue
        t = time.perf_counter()
        log(f"[{_clock(started)}] {i}/{len(requests)} {request.describe()} [{request.purpose}]: computing")
        path = checkpoint_dir(sub, request.size, request.checkpoint, log=log)
        space = compute_space(sub, path, label=f"{config.preset}-{request.size}-{path.name}", log=log, progress=False)
        target = export_space(space, sub, root)
        write_index(config, root)
        log(f"[{_clock(started)}] {i}/{len(requests)} done in {time.perf_counter() - t:.0f}s -> {target}")
    return check_results(config)


def _clock(started: float) -> str:
    seconds = int(time.perf_counter() - started)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def space_costs(config: Config) -> pd.DataFrame:
    """Wall time of every stored task space of ``config.preset``: committed results and the run store.

    One row per space: where it is, its paradigms and method, fine-tune and eval2 seconds per
    paradigm, and the job time summed over all jobs (with ``space.workers`` worker processes
    running jobs side by side, the elapsed time is about that sum divided by the workers).
    """
    manifests = []
    root = config.reference_dir()
    if root is not None:
        manifests += [("committed", p) for p in sorted((root / "spaces").glob("*/manifest.json"))]
    manifests += [("run store", p) for p in sorted((config.run_dir() / "spaces").glob("*/summary.json"))]
    rows, seen = [], set()
    for where, path in manifests:
        record = json.loads(path.read_text())
        if path.parent.name in seen:  # the same key in both places: the committed copy is listed
            continue
        seen.add(path.parent.name)
        run = record.get("run", {})
        jobs, fine = run.get("job_time_s", {}), run.get("finetune_time_s", {})
        rows.append({
            "store": path.parent.name, "where": where, "paradigms": len(record["key"]["paradigms"]),
            "method": record["config"]["ftgd"]["method"],
            "fine-tune s/paradigm": sum(fine.values()) / max(len(fine), 1),
            "eval2 s/paradigm": (sum(jobs.values()) - sum(fine.values())) / max(len(jobs), 1),
            "summed job time (min)": (sum(jobs.values()) + run.get("eval1_time_s", 0)) / 60,
            "workers": record["config"]["space"]["workers"] if record["config"]["space"]["executor"] == "processes" else 1,
        })
    return pd.DataFrame(rows)
