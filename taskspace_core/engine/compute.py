"""Computing a task space: the missing jobs run, then the stored ones are assembled.

:func:`compute_space` runs the jobs a space still lacks (:mod:`.probing`) through the configured
executor (:mod:`.executors`) and assembles the stored per-pair scores and masks into a
:class:`~taskspace_core.analysis.space.TaskSpace`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm as text_tqdm
from tqdm.auto import tqdm

from ..analysis.similarity import mask_jaccard
from ..analysis.space import PairMargins, TaskSpace, transfers
from ..config import Config, to_dict
from ..corpora import blimp
from ..errors import ConfigError, ModelLoadError
from ..lm.checkpoints import checkpoint_problems
from ..lm.models import check_causal_lm, load_tokenizer, resolve_devices
from .executors import run_jobs
from .probing import EVAL1, Job, ProbeData, SpaceJobs, open_store, prepare_probe_data


def assemble(eval1: dict, sources: dict[str, dict], data: ProbeData, config: Config,
             mask_meta: dict[str, dict], store_dir: Path) -> TaskSpace:
    """Turn per-pair eval1/eval2 log-probs and the masks of the run store into a task space."""
    names = data.paradigms
    margins = PairMargins(
        eval1=(eval1["logp_good"] - eval1["logp_bad"]).astype(np.float32),
        eval2=np.stack([sources[p]["logp_good"] - sources[p]["logp_bad"] for p in names]).astype(np.float32),
        test_paradigm=data.test_paradigm, test_pair_id=data.test_pair_id)
    eval1_table, transfer = transfers(names, margins)

    bits = np.stack([np.unpackbits(sources[p]["mask_bits"]) for p in names]).astype(bool)
    masks = bits[:, :mask_meta[names[0]]["n_parameters"]]
    tables = pd.concat([pd.DataFrame(mask_meta[p]["mask_table"]).assign(source=p) for p in names], ignore_index=True)
    logs = pd.concat([pd.DataFrame({"source": p, "step": np.arange(1, len(sources[p]["objective"]) + 1),
                                    "objective": sources[p]["objective"], "batch_margin": sources[p]["batch_margin"]})
                      for p in names], ignore_index=True)
    return TaskSpace(
        paradigms=names,
        phenomena=[blimp.phenomenon_of(p, config.data.taxonomy) for p in names],
        transfer=transfer, eval1=eval1_table, margins=margins,
        mask_share=pd.Series(masks.mean(1), index=names, name="mask_share"),
        mask_overlap=mask_jaccard(masks),
        mask_union_share=float(masks.any(0).mean()),
        mask_tables=tables[["source", "parameter", "layer", "component", "numel", "n_masked"]],
        finetune_log=logs,
        store_dir=store_dir,
        masks=masks,
        bootstrap=config.space.bootstrap,
        bootstrap_seed=config.space.seed,
    )


LOG_EVERY_S = 300.0  # a background run's log: one progress line per five minutes at most


def compute_space(config: Config, model_path: str | Path, revision: str | None = None, label: str | None = None,
                  log: Callable[[str], None] = print, progress: bool = True, progress_file=None) -> TaskSpace:
    """The task space of one model: loads finished jobs from the store and computes the rest.

    ``label`` names the store directory (e.g. ``tiny-large-epoch-1``); the hash after it is the key.
    ``progress_file``: where the progress bar goes (default: tqdm's choice; a notebook passes the
    terminal, so that the bar is not part of the page); without a bar (``progress=False``) ``log``
    gets a line now and then (:class:`_Progress`).
    """
    label = label or Path(str(model_path)).name
    if not config.space.scheduler:  # a device that is not here fails now, before the store is touched
        resolve_devices(config)  # (on a cluster, workers resolve their own: the client may have no GPU)
    if (Path(str(model_path)) / "meta.json").is_file():  # one of our checkpoints: its files must be intact
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

    jobs = [EVAL1] + [Job(p) for p in data.paradigms]
    loaded = {job: store.load(job.name) for job in jobs}  # read (and hash-check) each file once
    todo = [job for job in jobs if loaded[job] is None]
    log(f"task space {store.dir}: {len(jobs) - len(todo)} of {len(jobs)} jobs already stored, "
        f"{len(todo)} to compute ({config.space.executor})")
    report = _Progress(len(todo), progress, progress_file, log)
    try:
        run_jobs(todo, SpaceJobs(config, str(model_path), revision, label), config, report.done)
    finally:
        report.close()
    for job in todo:  # computed just now
        loaded[job] = store.load(job.name)
    missing = [job.name for job, stored in loaded.items() if stored is None]
    if missing:  # only if a file was corrupted between writing and reading
        raise RuntimeError(f"{store.dir}: results missing after the run: {', '.join(missing[:5])}")
    sources = {p: loaded[Job(p)][0] for p in data.paradigms}
    mask_meta = {p: loaded[Job(p)][1] for p in data.paradigms}
    space = assemble(loaded[EVAL1][0], sources, data, config, mask_meta, store.dir)
    space.meta = {
        "key": store.key, "key_hash": store.key_hash, "jobs_computed": len(report.computed),
        "jobs_reused": len(jobs) - len(report.computed), "jobs_by_others": len(todo) - len(report.computed),
        "wall_time_s": round(report.elapsed(), 3),
        "finetune_time_s": {p: m["finetune_time_s"] for p, m in mask_meta.items()},
        "job_time_s": {p: m["wall_time_s"] for p, m in mask_meta.items()},
        "eval1_time_s": loaded[EVAL1][1]["wall_time_s"],
        "git_commits": sorted({m["git_commit"] for _, m in loaded.values()}),
    }
    return space


class _Progress:
    """A space's jobs as they finish: a progress bar, or (without one, as in a background run's
    log) a line with the count and an estimate of the time left at most every ``LOG_EVERY_S``
    seconds, and after the last job."""

    def __init__(self, total: int, bar: bool, file, log: Callable[[str], None]):
        self.total, self.log, self.quiet = total, log, not bar
        self.started = self.last_line = time.perf_counter()
        self.finished, self.computed = [], []
        make = tqdm if file is None else functools.partial(text_tqdm, file=file)
        self.bar = make(total=total, desc="task space", unit="job", disable=not bar or total == 0, leave=False)

    def done(self, job: Job, computed_here: bool) -> None:
        self.bar.update(1)
        self.bar.set_postfix_str(str(job)[:32])
        self.finished.append(job)
        if computed_here:
            self.computed.append(job)
        now = time.perf_counter()
        if self.quiet and (now - self.last_line >= LOG_EVERY_S or len(self.finished) == self.total):
            left = (now - self.started) / len(self.finished) * (self.total - len(self.finished))
            self.log(f"  {len(self.finished)}/{self.total} jobs done ({job}); {(now - self.started) / 60:.0f} min "
                     f"so far, about {left / 60:.0f} min left")
            self.last_line = now

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def close(self) -> None:
        self.bar.close()
