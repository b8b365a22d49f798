"""Computing a task space: the missing jobs run, then the stored ones are assembled.

:func:`compute_space` runs the jobs a space still lacks (:mod:`.probing`) through the configured
executor (:mod:`.executors`) and assembles the stored per-pair scores and masks into a
:class:`~taskspace_core.analysis.space.TaskSpace`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from ..analysis.space import TaskSpace
from ..config import Config, to_dict
from ..errors import ConfigError, ModelLoadError, forbid_compute
from ..lm.checkpoints import checkpoint_problems
from ..lm.models import check_causal_lm, load_tokenizer, resolve_devices
from ..analysis.masks import MaskSet
from ..results.keys import Job
from ..results.read import masks_from_jobs, space_from_jobs, space_jobs
from .executors import run_jobs
from .probing import SpaceJobs, open_store, prepare_probe_data

LOG_EVERY_S = 300.0  # a background run's log: one progress line per five minutes at most


def compute_space(config: Config, model_path: str | Path, revision: str | None = None, label: str | None = None,
                  log: Callable[[str], None] = print, progress: bool = True, progress_file=None) -> TaskSpace:
    """The task space of one model: loads finished jobs from the store and computes the rest.

    ``label`` names the store directory (e.g. ``tiny-large-epoch-1``); the hash after it is the key.
    ``progress_file``: where the progress bar goes (default: tqdm's choice; a notebook passes the
    terminal, so that the bar is not part of the page); without a bar (``progress=False``) ``log``
    gets a line now and then (:class:`_Progress`).
    """
    forbid_compute(f"the task space of {model_path}")
    store, loaded, report = _run(config, model_path, revision, label, False, log, progress, progress_file)
    space = space_from_jobs(config, store, loaded)
    space.meta |= report.counts(len(loaded))
    return space


def compute_masks(config: Config, model_path: str | Path, revision: str | None = None, label: str | None = None,
                  log: Callable[[str], None] = print, progress: bool = True, progress_file=None) -> MaskSet:
    """Every paradigm's FTGD mask of one model, without fine-tuning steps or eval2 (a
    :class:`~taskspace_core.analysis.masks.MaskSet`), in a store of its own; as :func:`compute_space`."""
    forbid_compute(f"the FTGD masks of {model_path}")
    store, loaded, report = _run(config, model_path, revision, label, True, log, progress, progress_file)
    masks = masks_from_jobs(config, store, loaded)
    masks.meta |= report.counts(len(loaded))
    return masks


def _run(config: Config, model_path, revision, label, masks_only: bool, log, progress, progress_file):
    """Check the model, open its store, compute the jobs not stored yet: ``(store, every job's
    (arrays, meta), progress report)``."""
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
    store = open_store(config, model_path, revision, data, label, masks_only)
    store.write_manifest(model=str(model_path), revision=revision, config=to_dict(config))
    jobs = [Job(p, "mask") for p in data.paradigms] if masks_only else space_jobs(data.paradigms)
    loaded = {job: store.load(job.name) for job in jobs}  # read (and hash-check) each file once
    todo = [job for job in jobs if loaded[job] is None]
    log(f"{'mask set' if masks_only else 'task space'} {store.dir}: {len(jobs) - len(todo)} of {len(jobs)} jobs "
        f"already stored, {len(todo)} to compute ({config.space.executor})")
    report = _Progress(len(todo), progress, progress_file, log)
    try:
        run_jobs(todo, SpaceJobs(config, str(model_path), revision, label, masks_only), config, report.done)
    finally:
        report.close()
    loaded |= {job: store.load(job.name) for job in todo}  # computed just now
    missing = [job.name for job, stored in loaded.items() if stored is None]
    if missing:  # only if a file was corrupted between writing and reading
        raise RuntimeError(f"{store.dir}: results missing after the run: {', '.join(missing[:5])}")
    return store, loaded, report


class _Progress:
    """A space's jobs as they finish: a progress bar, or (without one, as in a background run's
    log) a line with the count and an estimate of the time left at most every ``LOG_EVERY_S``
    seconds, and after the last job."""

    def __init__(self, total: int, bar: bool, file, log: Callable[[str], None]):
        self.total, self.log, self.quiet = total, log, not bar
        self.started = self.last_line = time.perf_counter()
        self.finished, self.computed = [], []
        # a text bar: a notebook passes its terminal (ipywidgets, which tqdm.auto wants there, is not needed)
        self.bar = tqdm(file=file, total=total, desc="task space", unit="job", disable=not bar or total == 0, leave=False)

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

    def counts(self, n_jobs: int) -> dict:
        """What this run did, for a result's ``meta``: jobs computed, reused, computed by others, wall time."""
        return {"jobs_computed": len(self.computed), "jobs_reused": n_jobs - len(self.computed),
                "jobs_by_others": self.total - len(self.computed), "wall_time_s": round(self.elapsed(), 3)}

    def close(self) -> None:
        self.bar.close()
