"""Transfer probing: the task space of one checkpoint, computed job by job through the store.

    eval1          score every paradigm's test pairs on the base model
    source/<p>     fine-tune on p's training pairs (FTGD or plain), score every test pair again
                   (eval2), keep p's mask, then put the base weights back in place
    TaskSpace      T[p, q] = eval2_p[q] - eval1[q]   (accuracy, margin and effect size)

Each job is one file pair in a :class:`~taskspace_core.store.ResultStore`, so a sweep that is
killed at any moment resumes without recomputing a finished paradigm. How jobs run is one seam,
:func:`run_jobs` (serial, or local worker processes); the science code does not care.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import blimp
from .config import Config, stable_hash, to_dict
from .errors import ConfigError, ModelLoadError
from .ftgd import PairIds, finetune, restore, snapshot
from .models import check_causal_lm, load_model, load_tokenizer, model_identity, resolve_devices
from .precision import autocast, key_precision
from .provenance import provenance
from .similarity import mask_jaccard
from .scoring import (
    PackedPlan, ScoringPlan, encode, pad_id_of, plan_batches, plan_pairs, score_packed, score_plan, supports_packing,
)
from .store import ResultStore

# Bump when a change to scoring, FTGD or probing changes stored results: it is part of every key.
PROBE_VERSION = 2  # 2: unpadded evaluation batches, log-softmax on scored positions only (scores equal to 1e-5)
METRICS = ("accuracy", "margin", "effect")


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class ProbeData:
    """Every tokenised pair a task space needs, encoded once and reused by all jobs."""

    paradigms: list[str]  # sorted; the rows and columns of the task space
    test: PairIds  # all test pairs, grouped by paradigm in ``paradigms`` order
    test_paradigm: np.ndarray  # (n_test_pairs,) int: index into ``paradigms``
    test_pair_id: np.ndarray  # (n_test_pairs,) int: BLiMP pairID
    train: dict[str, PairIds]  # per paradigm, its training pairs
    pad_id: int
    data_hash: str
    batch_tokens: int

    # Evaluation batches, built on first use (a model needs only one of the two) and then reused
    # by all 68 passes of a task space.
    @cached_property
    def test_plan(self) -> ScoringPlan:
        """One sentence per row, test.good + test.bad."""
        return plan_batches(self.test.good + self.test.bad, self.batch_tokens)

    @cached_property
    def test_packed(self) -> PackedPlan:
        """One pair per row, its shared prefix run once (Llama-family models)."""
        return plan_pairs(self.test.good, self.test.bad, self.batch_tokens)


def prepare_probe_data(config: Config, tokenizer) -> ProbeData:
    """Load, split and tokenise the configured paradigms (all 67 unless ``data.paradigms``)."""
    d = config.data
    paradigms = blimp.load_blimp(d.blimp_dir or None, blimp.selected_paradigms(d.paradigms, d.phenomena, d.taxonomy))
    names = sorted(paradigms)
    good, bad, which, pair_id, train = [], [], [], [], {}
    for i, name in enumerate(names):
        train_pairs, test_pairs = blimp.split_pairs(paradigms[name], d.n_test, d.n_train, d.split_seed)
        good += [p.good for p in test_pairs]
        bad += [p.bad for p in test_pairs]
        which += [i] * len(test_pairs)
        pair_id += [p.pair_id for p in test_pairs]
        train[name] = PairIds(encode(tokenizer, [p.good for p in train_pairs], config.scoring.bos),
                              encode(tokenizer, [p.bad for p in train_pairs], config.scoring.bos))
    test = PairIds(encode(tokenizer, good, config.scoring.bos), encode(tokenizer, bad, config.scoring.bos))
    return ProbeData(names, test, np.array(which), np.array(pair_id), train, pad_id_of(tokenizer),
                     blimp.data_hash(paradigms), config.scoring.batch_tokens)


def evaluate(model, data: ProbeData, config: Config) -> dict[str, np.ndarray]:
    """Summed log-probs of every test pair: ``{"logp_good": (n,), "logp_bad": (n,)}``."""
    n = len(data.test)
    with autocast(config.scoring.precision, config.scoring.device):
        if config.scoring.pack_pairs and supports_packing(model):
            scores = score_packed(model, data.test_packed, config.scoring.device)
        else:
            scores = score_plan(model, data.test_plan, config.scoring.device)
    return {"logp_good": scores.total[:n], "logp_bad": scores.total[n:]}


# --------------------------------------------------------------------------- store key


def space_key(config: Config, identity: dict, data_hash: str, paradigms: list[str]) -> dict:
    """Everything a stored eval1/eval2/mask depends on (and nothing it does not).

    It needs no weights and no tokenizer: a checkpoint's identity comes from its ``meta.json``
    and the data's from the BLiMP files, so committed results are found by this key alone.
    """
    d = config.data
    ftgd = asdict(config.ftgd)
    for field_name in ("device", "precision"):
        ftgd.pop(field_name)
    ftgd.update(key_precision(config.ftgd))
    return {
        "probe_version": PROBE_VERSION,
        "model": identity,
        "data_hash": data_hash,
        "paradigms": paradigms,
        "split": {"n_test": d.n_test, "n_train": d.n_train, "seed": d.split_seed},
        "bos": config.scoring.bos,
        **({"scoring": key_precision(config.scoring)} if key_precision(config.scoring) else {}),
        "ftgd": ftgd,
    }


def probe_selection(config: Config) -> tuple[list[str], str]:
    """The sorted paradigms a task space covers and the hash of their BLiMP data."""
    d = config.data
    names, data_hash = _selection(d.blimp_dir, tuple(blimp.selected_paradigms(d.paradigms, d.phenomena, d.taxonomy)))
    return list(names), data_hash


@lru_cache(maxsize=16)  # a book looks up dozens of spaces over the same files; read and hash them once
def _selection(blimp_dir: str, paradigms: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
    loaded = blimp.load_blimp(blimp_dir or None, list(paradigms) or None)
    return tuple(sorted(loaded)), blimp.data_hash(loaded)


def open_store(config: Config, model_path: str | Path, revision: str | None, data: ProbeData,
               label: str) -> ResultStore:
    key = space_key(config, model_identity(model_path, revision), data.data_hash, data.paradigms)
    return ResultStore(config.run_dir() / "spaces", label, key)


# --------------------------------------------------------------------------- jobs


class ProbeWorker:
    """A loaded base model plus the tokenised data: runs eval1 and source jobs into a store."""

    def __init__(self, config: Config, model_path: str | Path, revision: str | None, label: str):
        self.config = config = resolve_devices(config)
        self.model, self.tokenizer = load_model(model_path, revision, device=config.ftgd.device)
        self.data = prepare_probe_data(config, self.tokenizer)
        self.store = open_store(config, model_path, revision, self.data, label)
        self.base = snapshot(self.model)
        self.model_path, self.revision = str(model_path), revision

    def run(self, job: str, wait: bool = True) -> tuple[str, bool | None]:
        """Compute ``job`` (``"eval1"`` or a paradigm) unless it is stored: ``(job, computed)``.

        The store's claim makes sure no two workers, in any process or on any host sharing the
        store, compute the same job; a job finished by another worker meanwhile is not redone.
        ``computed`` is None when another worker holds the job and ``wait`` is False.
        """
        name = "eval1" if job == "eval1" else f"source/{job}"
        with self.store.claim(name, wait=wait) as status:
            if status == "compute":
                self.eval1() if job == "eval1" else self.source(job)
            return job, {"compute": True, "done": False, "busy": None}[status]

    def _meta(self, kind: str, wall: float, **extra) -> dict:
        return provenance(kind=kind, key=self.store.key, key_hash=self.store.key_hash,
                          model=self.model_path, revision=self.revision, wall_time_s=round(wall, 3),
                          computed_by={"host": socket.gethostname(), "pid": os.getpid(),
                                       "torch_threads": torch.get_num_threads(), "device": self.config.ftgd.device},
                          **extra)

    def eval1(self) -> str:
        started = time.perf_counter()
        arrays = evaluate(self.model, self.data, self.config)
        self.store.save("eval1", arrays, self._meta("eval1", time.perf_counter() - started))
        return "eval1"

    def source(self, paradigm: str) -> str:
        """Fine-tune on ``paradigm``, score everything (eval2), store, and restore the base weights."""
        started = time.perf_counter()
        try:
            result = finetune(self.model, self.data.train[paradigm], self.config.ftgd, self.data.pad_id)
            tuned = time.perf_counter()
            arrays = evaluate(self.model, self.data, self.config)
        finally:
            restore(self.model, self.base)
        arrays["mask_bits"] = np.packbits(result.flat_mask())
        arrays["objective"] = np.array([r["objective"] for r in result.log])
        arrays["batch_margin"] = np.array([r["batch_margin"] for r in result.log])
        table = result.mask_table()
        meta = self._meta(
            "source", time.perf_counter() - started, source=paradigm,
            finetune_time_s=round(tuned - started, 3), n_parameters=result.n_parameters,
            n_masked=result.n_masked, mask_share=result.mask_share,
            mask_table=table.to_dict(orient="records"),
        )
        self.store.save(f"source/{paradigm}", arrays, meta)
        return paradigm


# One loaded worker per process, reused by every job of the same space that lands there (the
# model and the tokenised data are loaded once, not once per job). Worker processes of the
# "processes" and "dask" executors call run_job; the serial executor calls it in-process.
_WORKER: tuple[tuple, ProbeWorker] | None = None


def run_job(job: str, config: Config, model_path: str, revision: str | None, label: str,
            threads: int, wait: bool = True) -> tuple[str, bool | None]:
    """Run one job in this process, loading (or reusing) the worker for its space."""
    global _WORKER
    key = (stable_hash(config), str(model_path), revision, label)
    if _WORKER is None or _WORKER[0] != key:
        _WORKER = None  # free the previous space's model before loading the next
        torch.set_num_threads(threads)
        _WORKER = (key, ProbeWorker(config, model_path, revision, label))
    return _WORKER[1].run(job, wait)


def _reset_worker() -> None:
    global _WORKER
    _WORKER = None


def job_threads(config: Config, workers: int) -> int:
    """Torch threads per job: ``space.threads``, else this machine's cores shared among the workers."""
    return config.space.threads or max(1, (os.cpu_count() or 1) // workers)


def run_jobs(jobs: Sequence[str], config: Config, model_path, revision, label: str,
             on_done: Callable[[str, bool], None] = lambda job, computed: None) -> None:
    """Run ``eval1`` / source jobs with the configured executor (``space.executor``).

    - ``serial``: in this process;
    - ``processes``: ``space.workers`` local worker processes;
    - ``dask``: Dask distributed, on a LocalCluster or an existing cluster (:mod:`.distributed`).

    Every job writes its own result through the store, so the caller only needs the names back,
    with whether this run computed the job (False: another worker sharing the store did). Jobs
    that another sweep is computing right now are skipped in a first pass and waited for in a
    second, so two sweeps started on one store share the work instead of queueing behind each
    other.
    """
    model_path = str(model_path)
    deferred = []

    def first_pass(job, computed):
        if computed is None:
            deferred.append(job)
        else:
            on_done(job, computed)

    for pass_jobs, wait, report in ((list(jobs), False, first_pass), (deferred, True, on_done)):
        if pass_jobs:
            _execute(pass_jobs, config, model_path, revision, label, wait, report)


def _execute(jobs, config, model_path, revision, label, wait, on_done) -> None:
    executor = config.space.executor
    if executor == "dask":
        from .distributed import run_on_dask

        run_on_dask(jobs, config, model_path, revision, label, wait, on_done)
    elif executor == "processes":
        from concurrent.futures import ProcessPoolExecutor, as_completed
        import multiprocessing

        workers = min(config.space.workers, len(jobs))
        threads = job_threads(config, workers)
        context = multiprocessing.get_context("spawn")  # fork + torch threads can deadlock
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = [pool.submit(run_job, job, config, model_path, revision, label, threads, wait) for job in jobs]
            for future in as_completed(futures):
                on_done(*future.result())
    else:
        threads = config.space.threads or torch.get_num_threads()
        previous = torch.get_num_threads()
        try:
            for job in jobs:
                on_done(*run_job(job, config, model_path, revision, label, threads, wait))
        finally:
            _reset_worker()
            torch.set_num_threads(previous)


# --------------------------------------------------------------------------- the task space


@dataclass(frozen=True)
class PairMargins:
    """Per test pair, log p(good) - log p(bad): before fine-tuning and after each source's fine-tune.

    Kept in float32 (the precision of the model that produced them), so a space rebuilt from
    committed results is bit-identical to one assembled from the run store.
    """

    eval1: np.ndarray  # (n_pairs,) float32
    eval2: np.ndarray  # (n_sources, n_pairs) float32, rows in paradigm order
    test_paradigm: np.ndarray  # (n_pairs,) int: index of the pair's paradigm
    test_pair_id: np.ndarray  # (n_pairs,) int: BLiMP pairID


@dataclass
class TaskSpace:
    """Transfers between all paradigms of one checkpoint, with mask summaries and uncertainty.

    Everything the analysis needs is here without the full masks: ``masks`` is the
    ``(n, n_parameters)`` boolean array when the space was assembled from a run store, and
    ``None`` when it was loaded from committed reference results (see :mod:`reference`),
    which keep only the summaries (shares, overlaps, union, per-tensor counts).
    """

    paradigms: list[str]
    phenomena: list[str]  # per paradigm, under config.data.taxonomy
    transfer: dict[str, np.ndarray]  # metric -> (n, n): row = fine-tuned source, column = target
    ci_low: dict[str, np.ndarray]
    ci_high: dict[str, np.ndarray]
    eval1: pd.DataFrame  # per paradigm: accuracy, margin, margin_sd, n_test
    margins: PairMargins  # the per-pair scores every number above is computed from
    mask_share: pd.Series  # per source: share of parameters in its FTGD mask
    mask_overlap: np.ndarray  # (n, n) Jaccard |m_p & m_q| / |m_p | m_q| of the masks
    mask_union_share: float  # share of parameters in at least one mask
    mask_tables: pd.DataFrame  # per source and parameter tensor: layer, component, numel, n_masked
    finetune_log: pd.DataFrame  # per source and step: objective, batch_margin
    store_dir: Path
    masks: np.ndarray | None = None  # (n, n_parameters) bool, when assembled from a run store
    meta: dict = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """Long form: ``source, target, metric, value, ci_low, ci_high``."""
        n = len(self.paradigms)
        src, tgt = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        frames = [pd.DataFrame({
            "source": np.array(self.paradigms)[src.ravel()],
            "target": np.array(self.paradigms)[tgt.ravel()],
            "metric": metric,
            "value": self.transfer[metric].ravel(),
            "ci_low": self.ci_low[metric].ravel(),
            "ci_high": self.ci_high[metric].ravel(),
        }) for metric in METRICS]
        return pd.concat(frames, ignore_index=True)


def transfers(names: list[str], margins: PairMargins, config: Config):
    """eval1 per paradigm, and the transfer matrices with bootstrap CIs, from per-pair margins.

    Returns ``(eval1_table, transfer, ci_low, ci_high)``; the last three map metric -> (n, n).
    """
    n = len(names)
    margin1, margin2 = margins.eval1.astype(np.float64), margins.eval2.astype(np.float64)
    correct1, correct2 = (margin1 > 0).astype(float), (margin2 > 0).astype(float)
    d_margin, d_correct = margin2 - margin1, correct2 - correct1  # (n_src, n_pairs): paired differences

    rng = np.random.default_rng(config.space.seed)
    transfer = {m: np.zeros((n, n)) for m in METRICS}
    low = {m: np.full((n, n), np.nan) for m in METRICS}
    high = {m: np.full((n, n), np.nan) for m in METRICS}
    rows = []
    for q in range(n):
        cols = np.flatnonzero(margins.test_paradigm == q)
        sd = margin1[cols].std(ddof=1) if len(cols) > 1 else 0.0
        sd = max(sd, 1e-8)  # a paradigm whose margins are all equal: effect = margin change / tiny
        rows.append({"paradigm": names[q], "accuracy": correct1[cols].mean(), "margin": margin1[cols].mean(),
                     "margin_sd": sd, "n_test": len(cols)})
        per_metric = {"accuracy": d_correct[:, cols], "margin": d_margin[:, cols], "effect": d_margin[:, cols] / sd}
        boot = rng.integers(0, len(cols), size=(config.space.bootstrap, len(cols))) if config.space.bootstrap else None
        for metric, diffs in per_metric.items():  # diffs: (n_src, n_q)
            transfer[metric][:, q] = diffs.mean(1)
            if boot is not None:
                means = diffs[:, boot].mean(-1)  # (n_src, B): bootstrap means over resampled pairs
                low[metric][:, q], high[metric][:, q] = np.percentile(means, [2.5, 97.5], axis=1)
    return pd.DataFrame(rows).set_index("paradigm"), transfer, low, high


def assemble(eval1: dict, sources: dict[str, dict], data: ProbeData, config: Config,
             mask_meta: dict[str, dict], store_dir: Path) -> TaskSpace:
    """Turn per-pair eval1/eval2 log-probs and the masks of the run store into a task space."""
    names = data.paradigms
    margins = PairMargins(
        eval1=(eval1["logp_good"] - eval1["logp_bad"]).astype(np.float32),
        eval2=np.stack([sources[p]["logp_good"] - sources[p]["logp_bad"] for p in names]).astype(np.float32),
        test_paradigm=data.test_paradigm, test_pair_id=data.test_pair_id)
    eval1_table, transfer, low, high = transfers(names, margins, config)

    bits = np.stack([np.unpackbits(sources[p]["mask_bits"]) for p in names]).astype(bool)
    masks = bits[:, :mask_meta[names[0]]["n_parameters"]]
    tables = pd.concat([pd.DataFrame(mask_meta[p]["mask_table"]).assign(source=p) for p in names], ignore_index=True)
    logs = pd.concat([pd.DataFrame({"source": p, "step": np.arange(1, len(sources[p]["objective"]) + 1),
                                    "objective": sources[p]["objective"], "batch_margin": sources[p]["batch_margin"]})
                      for p in names], ignore_index=True)
    return TaskSpace(
        paradigms=names,
        phenomena=[blimp.phenomenon_of(p, config.data.taxonomy) for p in names],
        transfer=transfer, ci_low=low, ci_high=high, eval1=eval1_table, margins=margins,
        mask_share=pd.Series(masks.mean(1), index=names, name="mask_share"),
        mask_overlap=mask_jaccard(masks),
        mask_union_share=float(masks.any(0).mean()),
        mask_tables=tables[["source", "parameter", "layer", "component", "numel", "n_masked"]],
        finetune_log=logs,
        store_dir=store_dir,
        masks=masks,
    )


def compute_space(config: Config, model_path: str | Path, revision: str | None = None, label: str | None = None,
                  log: Callable[[str], None] = print, progress: bool = True) -> TaskSpace:
    """The task space of one model: loads finished jobs from the store and computes the rest.

    ``label`` names the store directory (e.g. ``tiny-large-epoch-1``); the hash after it is the key.
    """
    label = label or Path(str(model_path)).name
    if not config.space.scheduler:  # a device that is not here fails now, before the store is touched
        resolve_devices(config)  # (on a cluster, workers resolve their own: the client may have no GPU)
    if (Path(str(model_path)) / "meta.json").is_file():  # one of our checkpoints: its files must be intact
        from .pretrain import checkpoint_problems

        problems = checkpoint_problems(model_path)
        if problems:
            raise ModelLoadError(f"damaged checkpoint: {'; '.join(problems)} (retrain it with `taskspace pretrain`)")
    check_causal_lm(model_path, revision)  # fail before the store is touched, not in the workers
    tokenizer = load_tokenizer(model_path, revision)  # enough to build the key; workers load the model
    data = prepare_probe_data(config, tokenizer)
    if not data.paradigms:
        raise ConfigError("data.paradigms selects no paradigm")
    store = open_store(config, model_path, revision, data, label)
    store.write_manifest(model=str(model_path), revision=revision, config=to_dict(config))

    names = ["eval1"] + [f"source/{p}" for p in data.paradigms]
    loaded = {name: store.load(name) for name in names}  # read (and hash-check) each file once
    jobs = [name.removeprefix("source/") for name in names if loaded[name] is None]
    done_before = len(data.paradigms) + 1 - len(jobs)
    log(f"task space {store.dir}: {done_before} of {len(data.paradigms) + 1} jobs already stored, "
        f"{len(jobs)} to compute ({config.space.executor})")
    started = time.perf_counter()
    bar = _progress(len(jobs), progress)

    computed = []

    def on_done(job, computed_here):
        bar.update(1)
        bar.set_postfix_str(job[:32])
        if computed_here:
            computed.append(job)

    try:
        run_jobs(jobs, config, model_path, revision, label, on_done)
    finally:
        bar.close()
    wall = time.perf_counter() - started

    for name in names:
        if loaded[name] is None:  # computed just now
            loaded[name] = store.load(name)
    missing = [k for k, v in loaded.items() if v is None]
    if missing:  # only if a file was corrupted between writing and reading
        raise RuntimeError(f"{store.dir}: results missing after the run: {', '.join(missing[:5])}")
    sources = {p: loaded[f"source/{p}"][0] for p in data.paradigms}
    mask_meta = {p: loaded[f"source/{p}"][1] for p in data.paradigms}
    space = assemble(loaded["eval1"][0], sources, data, config, mask_meta, store.dir)
    space.meta = {
        "key": store.key, "key_hash": store.key_hash, "jobs_computed": len(computed),
        "jobs_reused": len(names) - len(computed), "jobs_by_others": len(jobs) - len(computed),
        "wall_time_s": round(wall, 3),
        "finetune_time_s": {p: m["finetune_time_s"] for p, m in mask_meta.items()},
        "job_time_s": {p: m["wall_time_s"] for p, m in mask_meta.items()},
        "eval1_time_s": loaded["eval1"][1]["wall_time_s"],
        "git_commits": sorted({m["git_commit"] for _, m in loaded.values()}),
    }
    return space


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="task space", unit="job", disable=not enabled or total == 0, leave=False)
