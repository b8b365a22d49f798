"""Reading task spaces: from committed results or from a run store, never computing one.

    results/<preset>/spaces/<label>-<key hash>/    committed (export.py writes them; no masks)
    results/<preset>/masks/<label>-<key hash>/     a committed mask set's summaries
    <work_dir>/<preset>/spaces/<label>-<key hash>/ the run store (engine/compute.py fills it, job by job)

A space is found by its key (keys.py), so a committed one needs no weights: the checkpoint's
identity comes from its committed ``meta.json``. :class:`Reader` is what the chapters and the
evidence read through: committed results first, then a complete run-store space; anything else
is :class:`~taskspace_core.errors.MissingResult`, naming what is missing and the command that
computes it (``plan/ensure.py`` is the side that computes).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.masks import MaskSet
from ..analysis.memo import MEMO_FILE, Memo
from ..analysis.report import Analysis, analyse
from ..analysis.similarity import mask_jaccard
from ..analysis.space import Origin, PairMargins, TaskSpace
from ..config import Config, stable_hash, to_dict
from ..corpora.benchmarks import phenomenon_of
from ..errors import CorruptResultWarning, MissingResult
from ..lm.checkpoints import find_checkpoint_meta, load_checkpoint_meta
from ..lm.identity import checkpoint_identity
from ..provenance import sha256_file
from .keys import EVAL1, Job, mask_key, probe_selection, space_key, test_pair_index
from .store import ResultStore

# --------------------------------------------------------------------------- finding a space


def find_space(config: Config, identity: dict) -> Path | None:
    """The committed directory holding the task space of ``identity`` under ``config``, if any."""
    root = config.reference_dir()
    return _keyed_dir(root / "spaces", config, identity) if root is not None else None


def find_stored_space(config: Config, identity: dict) -> Path | None:
    """The run store's directory of the task space of ``identity`` under ``config``, if it was
    computed and analysed there (its ``summary.json`` written: :func:`~taskspace_core.analysis.report.write_report`)."""
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


def load_space(directory: Path, config: Config) -> TaskSpace | None:
    """Rebuild a task space from a committed directory; None (with a warning) if it fails its hashes."""
    directory = Path(directory)
    read = _read_committed(directory, read_space)
    if read is None:
        return None
    (manifest, arrays), tables = read
    names = [str(p) for p in arrays["paradigms"]]
    margins = PairMargins(arrays["eval1_margin"], arrays["eval2_margin"], arrays["test_paradigm"],
                          arrays["test_pair_id"])
    steps = arrays["objective"].shape[1]
    logs = pd.DataFrame({"source": np.repeat(names, steps), "step": np.tile(np.arange(1, steps + 1), len(names)),
                         "objective": arrays["objective"].ravel(), "batch_margin": arrays["batch_margin"].ravel()})
    space = TaskSpace.from_margins(
        names, margins, config.data.taxonomy, mask_share=arrays["mask_share"], mask_overlap=arrays["mask_overlap"],
        mask_union_share=arrays["mask_union_share"], mask_tables=tables, finetune_log=logs, store_dir=directory,
        origin=Origin.COMMITTED, bootstrap=config.space.bootstrap, bootstrap_seed=config.space.seed)
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


def read_stored_space(config: Config, identity: dict) -> TaskSpace | None:
    """The run store's space of ``identity`` under ``config``, assembled from its stored jobs;
    None unless every job is stored (and intact)."""
    paradigms, data_hash = probe_selection(config)
    store = ResultStore(config.run_dir() / "spaces", "", space_key(config, identity, data_hash, paradigms))
    if not store.dir.is_dir():
        return None
    loaded = {job: store.load(job.name) for job in space_jobs(paradigms)}
    return None if any(stored is None for stored in loaded.values()) else space_from_jobs(config, store, loaded)


def find_masks(config: Config, identity: dict) -> Path | None:
    """The committed directory of the mask set of ``identity`` under ``config``, if any."""
    root = config.reference_dir()
    if root is None or not (root / "masks").is_dir():
        return None
    paradigms, data_hash = probe_selection(config)
    found = sorted((root / "masks").glob(f"*-{stable_hash(mask_key(config, identity, data_hash, paradigms))}"))
    return found[0] if found else None


def _read_committed(directory: Path, read_files):
    """``(read_files(directory), the per-tensor mask table)`` of a committed space or mask set; None
    (with a :class:`CorruptResultWarning`) if a file is missing, damaged or fails its hash."""
    try:
        return read_files(directory), pd.read_csv(directory / "mask_tables.csv.gz")
    except (OSError, ValueError, KeyError) as exc:
        warnings.warn(f"{directory}: corrupt reference result ({exc}); it will be recomputed",
                      CorruptResultWarning, stacklevel=3)
        return None


def _read_mask_files(directory: Path) -> tuple[dict, dict]:
    """A committed mask set's manifest (hash-checked) and arrays."""
    manifest = json.loads((directory / "manifest.json").read_text())
    _check_manifest(directory, manifest)
    with np.load(directory / "masks.npz", allow_pickle=False) as f:
        return manifest, {k: f[k] for k in f.files}


def load_masks(directory: Path, config: Config) -> MaskSet | None:
    """A committed mask set (summaries only); None (with a warning) if it fails its hashes."""
    directory = Path(directory)
    read = _read_committed(directory, _read_mask_files)
    if read is None:
        return None
    (manifest, arrays), tables = read
    names = [str(p) for p in arrays["paradigms"]]
    result = MaskSet(names, [phenomenon_of(p, config.data.taxonomy) for p in names],
                     pd.Series(arrays["mask_share"], index=names, name="mask_share"), arrays["mask_overlap"],
                     float(arrays["mask_union_share"]), tables, directory, Origin.COMMITTED)
    result.meta = {**manifest["run"], "key": manifest["key"], "key_hash": manifest["key_hash"], "jobs_computed": 0}
    return result


def read_stored_masks(config: Config, identity: dict) -> MaskSet | None:
    """The run store's mask set of ``identity`` under ``config``; None unless every paradigm's mask is stored."""
    paradigms, data_hash = probe_selection(config)
    store = ResultStore(config.run_dir() / "masks", "", mask_key(config, identity, data_hash, paradigms))
    if not store.dir.is_dir():
        return None
    loaded = {job: store.load(job.name) for job in (Job(p, "mask") for p in paradigms)}
    return None if any(stored is None for stored in loaded.values()) else masks_from_jobs(config, store, loaded)


def masks_from_jobs(config: Config, store: ResultStore, loaded: dict[Job, tuple[dict, dict]]) -> MaskSet:
    """A mask set from every paradigm's stored ``(arrays, meta)``."""
    names = [job.paradigm for job in loaded]
    masks, tables = _masks(names, [arrays for arrays, _ in loaded.values()], [meta for _, meta in loaded.values()])
    result = MaskSet.from_masks(names, masks, config.data.taxonomy, tables, store.dir)
    result.meta = {"key": store.key, "key_hash": store.key_hash, "jobs_computed": 0, "jobs_reused": len(loaded),
                   "jobs_by_others": 0, "wall_time_s": 0.0,
                   "job_time_s": {p: meta["wall_time_s"] for p, (_, meta) in zip(names, loaded.values())},
                   "git_commits": sorted({meta["git_commit"] for _, meta in loaded.values()})}
    return result


def space_jobs(paradigms: list[str]) -> list[Job]:
    """The jobs of a space over ``paradigms``: eval1, then one per paradigm."""
    return [EVAL1] + [Job(p) for p in paradigms]


def space_from_jobs(config: Config, store: ResultStore, loaded: dict[Job, tuple[dict, dict]]) -> TaskSpace:
    """A task space from every job's stored ``(arrays, meta)``, with where it came from in ``meta``."""
    sources = {job.paradigm: stored for job, stored in loaded.items() if job != EVAL1}
    eval1 = loaded[EVAL1]
    space = assemble(eval1[0], {p: arrays for p, (arrays, _) in sources.items()}, config,
                     {p: meta for p, (_, meta) in sources.items()}, store.dir)
    space.meta = {"key": store.key, "key_hash": store.key_hash, "jobs_computed": 0, "jobs_reused": len(loaded),
                  "jobs_by_others": 0, "wall_time_s": 0.0,
                  "finetune_time_s": {p: m["finetune_time_s"] for p, (_, m) in sources.items()},
                  "job_time_s": {p: m["wall_time_s"] for p, (_, m) in sources.items()},
                  "eval1_time_s": eval1[1]["wall_time_s"],
                  "git_commits": sorted({m["git_commit"] for _, m in loaded.values()})}
    return space


def _margin(scores: dict[str, np.ndarray]) -> np.ndarray:
    """A job's per-pair margins: stored as such, or from both sentences' log-probs."""
    return scores["margin"] if "margin" in scores else scores["logp_good"] - scores["logp_bad"]


def _masks(names: list[str], arrays: list[dict], metas: list[dict]) -> tuple[np.ndarray, pd.DataFrame]:
    """The stored masks of ``names`` as (n, n_parameters) bool, and their per-tensor counts."""
    bits = np.stack([np.unpackbits(a["mask_bits"]) for a in arrays]).astype(bool)[:, :metas[0]["n_parameters"]]
    tables = pd.concat([pd.DataFrame(m["mask_table"]).assign(source=p) for p, m in zip(names, metas)], ignore_index=True)
    return bits, tables[["source", "parameter", "layer", "component", "numel", "n_masked"]]


def assemble(eval1: dict, sources: dict[str, dict], config: Config, mask_meta: dict[str, dict],
             store_dir: Path) -> TaskSpace:
    """Turn per-pair eval1/eval2 log-probs and the masks of the run store into a task space."""
    names, test_paradigm, test_pair_id = test_pair_index(config)
    margins = PairMargins(
        eval1=(eval1["logp_good"] - eval1["logp_bad"]).astype(np.float32),
        eval2=np.stack([_margin(sources[p]) for p in names]).astype(np.float32),
        test_paradigm=test_paradigm, test_pair_id=test_pair_id)
    masks, tables = _masks(names, [sources[p] for p in names], [mask_meta[p] for p in names])
    logs = pd.concat([pd.DataFrame({"source": p, "step": np.arange(1, len(sources[p]["objective"]) + 1),
                                    "objective": sources[p]["objective"], "batch_margin": sources[p]["batch_margin"]})
                      for p in names], ignore_index=True)
    return TaskSpace.from_margins(
        names, margins, config.data.taxonomy, mask_share=masks.mean(1), mask_overlap=mask_jaccard(masks),
        mask_union_share=masks.any(0).mean(), mask_tables=tables, finetune_log=logs, store_dir=store_dir, origin=Origin.RUN_STORE, masks=masks,
        bootstrap=config.space.bootstrap, bootstrap_seed=config.space.seed)



# --------------------------------------------------------------------------- what the chapters read


def analysis_memo(config: Config, strict: bool = False) -> Memo:
    """The memo of ``config``'s analyses (memo.py): the committed results' (read only) and the run
    store's, which takes new entries."""
    root = config.reference_dir()
    return Memo([root / MEMO_FILE] if root is not None else [], config.run_dir() / MEMO_FILE, strict=strict)



class Reader:
    """Task spaces of ``config``'s plan, read and analysed: committed results first, else a
    complete run-store space; anything else raises :class:`~taskspace_core.errors.MissingResult`.

    ``reader(request)`` is ``(space, analysis)`` of a :class:`~taskspace_core.plan.requests.SpaceRequest`
    (anything with ``size``, ``checkpoint`` and ``config(base)``). The Mantel tests come from the
    memo (:func:`analysis_memo`); within one process a space asked for twice is analysed once.
    """

    def __init__(self, config: Config):
        self.config = config
        self._analysed: dict[tuple, tuple[TaskSpace, Analysis]] = {}

    def __call__(self, request) -> tuple[TaskSpace, Analysis]:
        config = request.config(self.config)
        key = (stable_hash(to_dict(config)), request.size, str(request.checkpoint))
        if key not in self._analysed:
            space = self.space(request)
            analysis = analyse(space, config, analysis_memo(config))
            self.analysed_first(space, analysis, config)
            self._analysed[key] = space, analysis
        return self._analysed[key]

    def analysed_first(self, space: TaskSpace, analysis: Analysis, config: Config) -> None:
        """Called once per space, after its analysis (a reader writes nothing)."""

    def space(self, request) -> TaskSpace:
        """``request``'s task space, read; :class:`MissingResult` if it is nowhere."""
        config = request.config(self.config)
        meta = load_checkpoint_meta(config, request.size, request.checkpoint)
        space = self.read(config, checkpoint_identity(meta))
        if space is None:
            raise MissingResult(f"no task space for {request.describe()} of preset '{config.preset}' in "
                                f"{config.reference_dir()} or {config.run_dir()}: build the book with that "
                                f"preset, or `taskspace reproduce --preset {config.preset}`")
        return space

    def mask_set(self, request) -> MaskSet:
        """``request``'s mask set (every paradigm's FTGD mask alone), committed, else complete in
        the run store; :class:`MissingResult` if it is nowhere."""
        config = request.config(self.config)
        identity = checkpoint_identity(load_checkpoint_meta(config, request.size, request.checkpoint))
        found = find_masks(config, identity)
        masks = load_masks(found, config) if found is not None else None
        masks = masks if masks is not None else read_stored_masks(config, identity)
        if masks is None:
            raise MissingResult(f"no mask set for {request.describe()} of preset '{config.preset}' in "
                                f"{config.reference_dir()} or {config.run_dir()}: "
                                f"`taskspace reproduce --preset {config.preset} --mask-sets`")
        return masks

    @staticmethod
    def read(config: Config, identity: dict) -> TaskSpace | None:
        """The space of a checkpoint ``identity`` under ``config``: committed, else stored, else None."""
        found = find_space(config, identity)
        space = load_space(found, config) if found is not None else None
        return space if space is not None else read_stored_space(config, identity)

    def locate(self, request) -> tuple[Path, Origin] | None:
        """Where ``request``'s space is: its committed directory, or its analysed run-store one."""
        config = request.config(self.config)
        meta = find_checkpoint_meta(config, request.size, request.checkpoint)
        if meta is None:
            return None
        identity = checkpoint_identity(meta)
        found = find_space(config, identity)
        if found is not None:
            return found, Origin.COMMITTED
        stored = find_stored_space(config, identity)
        return (stored, Origin.RUN_STORE) if stored is not None else None
