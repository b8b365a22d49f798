"""Transfer probing: the jobs a task space is made of, run on a loaded model.

    eval1          score every paradigm's test pairs on the base model
    source/<p>     fine-tune on p's training pairs (FTGD or plain), score every test pair again
                   (eval2), keep p's mask, then put the base weights back in place

Each job is one file pair in a :class:`~taskspace_core.results.store.ResultStore` under
:func:`~taskspace_core.results.keys.space_key`, so a sweep that is killed at any moment resumes without recomputing a
finished paradigm. :class:`ProbeWorker` runs jobs; :mod:`.executors` decides where (serial,
local processes, Dask); :mod:`.compute` turns the stored jobs into a task space.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from ..config import Config, apply_overrides, stable_hash, to_dict
from ..corpora import benchmarks, pairs
from ..errors import ConfigError
from ..lm.identity import model_identity
from ..lm.models import load_model, resolve_devices
from ..lm.precision import autocast
from ..provenance import atomic_dir, atomic_write_json, provenance
from ..results.keys import EVAL1, Job, mask_key, space_key
from ..results.store import ResultStore
from .ftgd import (
    FineTuneResult, PairIds, batch_schedule, differential_gradient, finetune, restore, select_mask, snapshot,
)
from .scoring import (
    PackedPlan, ScoringPlan, encode, pad_id_of, plan_batches, plan_pairs, score_packed, score_plan, shared_prefix,
    supports_packing,
)

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

    @cached_property
    def margin_plan(self) -> ScoringPlan:
        """One sentence per row, the pair's shared prefix not scored (it cancels in the margin)."""
        skip = [max(shared_prefix(g, b) - 1, 0) for g, b in zip(self.test.good, self.test.bad)]
        return plan_batches(self.test.good + self.test.bad, self.batch_tokens, skip + skip)

    @cached_property
    def margin_packed(self) -> PackedPlan:
        """One pair per row, the shared prefix run once and not scored (Llama-family models)."""
        return plan_pairs(self.test.good, self.test.bad, self.batch_tokens, margin_only=True)


def prepare_probe_data(config: Config, tokenizer) -> ProbeData:
    """Load, split and tokenise the configured paradigms (``data.benchmarks``, ``data.paradigms``,
    ``data.phenomena``: BLiMP's 67 by default)."""
    d = config.data
    paradigms = benchmarks.load_pairs(d)
    names = sorted(paradigms)
    good, bad, which, pair_id, train = [], [], [], [], {}
    for i, name in enumerate(names):
        train_pairs, test_pairs = pairs.split_pairs(paradigms[name], d.n_test, d.n_train, d.split_seed)
        good += [p.good for p in test_pairs]
        bad += [p.bad for p in test_pairs]
        which += [i] * len(test_pairs)
        pair_id += [p.pair_id for p in test_pairs]
        train[name] = PairIds(encode(tokenizer, [p.good for p in train_pairs], config.scoring.bos),
                              encode(tokenizer, [p.bad for p in train_pairs], config.scoring.bos))
    test = PairIds(encode(tokenizer, good, config.scoring.bos), encode(tokenizer, bad, config.scoring.bos))
    return ProbeData(names, test, np.array(which), np.array(pair_id), train, pad_id_of(tokenizer),
                     pairs.data_hash(paradigms), config.scoring.batch_tokens)


def evaluate(model, data: ProbeData, config: Config, margins: bool = False) -> dict[str, np.ndarray]:
    """Every test pair scored: ``{"logp_good": (n,), "logp_bad": (n,)}``, the summed log-probs of
    both sentences; with ``margins``, ``{"margin": (n,)}``, log p(good) - log p(bad) scoring
    only what the two sentences do not share (eval2 under ``scoring.eval2 = "margins"``)."""
    n = len(data.test)
    packed = config.scoring.pack_pairs and supports_packing(model)
    with autocast(config.scoring.precision, config.device):
        if packed:
            scores = score_packed(model, data.margin_packed if margins else data.test_packed, config.device)
        else:
            scores = score_plan(model, data.margin_plan if margins else data.test_plan, config.device)
    if margins:
        return {"margin": scores.total[:n] - scores.total[n:]}
    return {"logp_good": scores.total[:n], "logp_bad": scores.total[n:]}


# --------------------------------------------------------------------------- the store


def open_store(config: Config, model_path: str | Path, revision: str | None, data: ProbeData,
               label: str, masks_only: bool = False) -> ResultStore:
    """The run store of a task space (``spaces/``), or of a mask set (``masks/``)."""
    identity = model_identity(model_path, revision)
    if masks_only:
        return ResultStore(config.run_dir() / "masks", label, mask_key(config, identity, data.data_hash, data.paradigms))
    return ResultStore(config.run_dir() / "spaces", label, space_key(config, identity, data.data_hash, data.paradigms))


# --------------------------------------------------------------------------- jobs


class ProbeWorker:
    """A loaded base model plus the tokenised data: runs eval1 and source jobs into a store."""

    # this process's worker: one space's model and data, reused by every job of that space that
    # lands here (loaded once, not once per job); see :meth:`for_space`
    _loaded: ClassVar[tuple[tuple, ProbeWorker] | None] = None

    def __init__(self, config: Config, model_path: str | Path, revision: str | None, label: str,
                 masks_only: bool = False):
        self.config = config = resolve_devices(config)
        self.model, self.tokenizer = load_model(model_path, revision, device=config.device)
        self.data = prepare_probe_data(config, self.tokenizer)
        self.store = open_store(config, model_path, revision, self.data, label, masks_only)
        self.base = snapshot(self.model)
        self.model_path, self.revision = str(model_path), revision

    @classmethod
    def for_space(cls, config: Config, model_path: str, revision: str | None, label: str,
                  threads: int, masks_only: bool = False) -> ProbeWorker:
        """This process's worker for one space (or mask set): the loaded one if it is that
        space's, else a new one (the previous space's model is freed first)."""
        key = (stable_hash(config), str(model_path), revision, label, masks_only)
        if cls._loaded is None or cls._loaded[0] != key:
            cls._loaded = None
            torch.set_num_threads(threads)
            cls._loaded = (key, cls(config, model_path, revision, label, masks_only))
        return cls._loaded[1]

    @classmethod
    def release(cls) -> None:
        """Free this process's loaded worker."""
        cls._loaded = None

    def run(self, job: Job, wait: bool = True) -> tuple[Job, bool | None]:
        """Compute ``job`` unless it is stored: ``(job, computed)``.

        The store's claim makes sure no two workers, in any process or on any host sharing the
        store, compute the same job; a job finished by another worker meanwhile is not redone.
        ``computed`` is None when another worker holds the job and ``wait`` is False.
        """
        with self.store.claim(job.name, wait=wait) as status:
            if status == "compute":
                self.eval1() if job == EVAL1 else {"source": self.source, "mask": self.mask}[job.kind](job.paradigm)
            return job, {"compute": True, "done": False, "busy": None}[status]

    def _meta(self, kind: str, wall: float, **extra) -> dict:
        return provenance(kind=kind, key=self.store.key, key_hash=self.store.key_hash,
                          model=self.model_path, revision=self.revision, wall_time_s=round(wall, 3),
                          computed_by={"host": socket.gethostname(), "pid": os.getpid(),
                                       "torch_threads": torch.get_num_threads(), "device": self.config.device},
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
            arrays = evaluate(self.model, self.data, self.config, margins=self.config.scoring.eval2 == "margins")
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
        self.store.save(Job(paradigm).name, arrays, meta)
        return paradigm

    def mask(self, paradigm: str) -> str:
        """``paradigm``'s FTGD mask alone (no fine-tuning steps, no eval2): the gradient
        differential over its training pairs and the mask rule, stored as bits with per-tensor counts."""
        ftgd = self.config.ftgd
        if ftgd.method != "ftgd" or ftgd.mask_from == "step":
            raise ConfigError("a mask set needs FTGD with a fixed mask (ftgd.method ftgd, ftgd.mask_from "
                              f"train or first_batch), not method {ftgd.method!r}, mask_from {ftgd.mask_from!r}")
        started = time.perf_counter()
        train = self.data.train[paradigm]
        if ftgd.mask_from == "first_batch":
            train = train.subset(batch_schedule(len(train), ftgd.steps, ftgd.batch_size, ftgd.seed)[0])
        named = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        grads = differential_gradient(self.model, [p for _, p in named], train, ftgd, self.data.pad_id)
        result = FineTuneResult([n for n, _ in named], select_mask(grads, ftgd, train), [])
        meta = self._meta("mask", time.perf_counter() - started, source=paradigm, n_parameters=result.n_parameters,
                          n_masked=result.n_masked, mask_share=result.mask_share,
                          mask_table=result.mask_table().to_dict(orient="records"))
        self.store.save(Job(paradigm, "mask").name, {"mask_bits": np.packbits(result.flat_mask())}, meta)
        return paradigm


@dataclass(frozen=True)
class SpaceJobs:
    """The jobs of one task space as a function an executor calls, in this process or in a worker
    process (it pickles): ``jobs(job, wait, threads)`` runs one job with this process's worker."""

    config: Config
    model_path: str
    revision: str | None
    label: str
    masks_only: bool = False

    def __call__(self, job: Job, wait: bool, threads: int) -> tuple[Job, bool | None]:
        worker = ProbeWorker.for_space(self.config, self.model_path, self.revision, self.label, threads,
                                       self.masks_only)
        return worker.run(job, wait)

    def release(self) -> None:
        ProbeWorker.release()


# --------------------------------------------------------------------------- one fine-tune, kept


def finetune_one(config: Config, model_path: str | Path, paradigm: str, out: str | Path,
                 revision: str | None = None, evaluate_all: bool = True) -> tuple[pd.DataFrame, FineTuneResult, float]:
    """Fine-tune a model on one paradigm and keep the tuned model (``taskspace ftgd``).

    ``out`` gets the tuned weights and tokenizer, ``scores.csv`` (every evaluated test pair's
    log-probs before and after), ``mask_stats.csv`` (per parameter tensor: how many entries were
    updated) and ``ftgd.json`` (provenance and the fine-tuning log), written atomically.
    ``evaluate_all`` False evaluates only ``paradigm`` itself. Returns the scores, the fine-tune
    result and its wall time in seconds.
    """
    benchmarks.selected_paradigms(apply_overrides(config, {"data.paradigms": [paradigm]}).data)  # known, or fail now
    names = sorted(benchmarks.every_paradigm(config.data)) if evaluate_all else [paradigm]
    config = resolve_devices(apply_overrides(config, {"data.paradigms": names}))
    model, tokenizer = load_model(model_path, revision=revision, device=config.device)
    data = prepare_probe_data(config, tokenizer)
    before = evaluate(model, data, config)
    started = time.perf_counter()
    result = finetune(model, data.train[paradigm], config.ftgd, data.pad_id)
    wall = time.perf_counter() - started
    after = evaluate(model, data, config)
    scores = pd.DataFrame({
        "paradigm": [data.paradigms[i] for i in data.test_paradigm], "pair_id": data.test_pair_id,
        "logp_good_before": before["logp_good"], "logp_bad_before": before["logp_bad"],
        "logp_good_after": after["logp_good"], "logp_bad_after": after["logp_bad"],
    })
    with atomic_dir(Path(out)) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        scores.to_csv(tmp / "scores.csv", index=False, float_format="%.6f")
        result.mask_table().to_csv(tmp / "mask_stats.csv", index=False)
        atomic_write_json(tmp / "ftgd.json", provenance(
            kind="ftgd", base_model=str(model_path), revision=revision, paradigm=paradigm,
            config=to_dict(config), data_hash=data.data_hash, finetune_time_s=round(wall, 3),
            n_parameters=result.n_parameters, n_masked=result.n_masked, mask_share=result.mask_share,
            log=result.log))
    return scores, result, wall
