"""Where a task space's jobs run: in this process, in local worker processes, or on Dask.

    space.executor = "serial"                              in this process, one job after another
    space.executor = "processes"                           space.workers local worker processes
    space.executor = "dask", space.scheduler = ""          a LocalCluster of space.workers processes
    space.executor = "dask", space.scheduler = ADDRESS     an existing cluster (e.g. dask-jobqueue on SLURM)

All three go through :func:`run_jobs`, which takes the job function to call
(``run(job, wait, threads) -> (job, computed)``; a task space's is
:class:`~taskspace_core.engine.probing.SpaceJobs`, which loads the model once per worker process and
writes each result through the :class:`~taskspace_core.engine.store.ResultStore`): the science code
does not care where its jobs run, and the store, not the executor, is the single source of truth. Its per-job claim keeps two workers (or two whole sweeps sharing a store) from computing
the same job, and a job that Dask retries after a worker died finds finished jobs already
stored. Dask workers must therefore see the same filesystem as the client (the run directory,
the checkpoint and BLiMP), as on any cluster with a shared home or scratch. Dask is the optional
``taskspace[distributed]`` extra, imported only when ``space.executor`` is ``dask``.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Protocol

import torch

from ..config import Config
from ..errors import ConfigError


class JobFunction(Protocol):
    """What an executor calls per job: picklable, so that worker processes can call it too."""

    label: str  # names the jobs on a Dask dashboard

    def __call__(self, job: Hashable, wait: bool, threads: int) -> tuple[Hashable, bool | None]: ...

    def release(self) -> None: ...  # free what this process loaded for the jobs


def job_threads(config: Config, workers: int) -> int:
    """Torch threads per job: ``space.threads``, else this machine's cores shared among the workers."""
    return config.space.threads or max(1, (os.cpu_count() or 1) // workers)


def run_jobs(jobs: Sequence[Hashable], run: JobFunction, config: Config,
             on_done: Callable[[Hashable, bool], None] = lambda job, computed: None) -> None:
    """Call ``run`` on every job with the configured executor (``space.executor``).

    - ``serial``: in this process;
    - ``processes``: ``space.workers`` local worker processes;
    - ``dask``: Dask distributed, on a LocalCluster or an existing cluster.

    Every job writes its own result, so the caller only needs the jobs back, with whether this run
    computed each (False: another worker sharing the store did). Jobs that another sweep is
    computing right now are skipped in a first pass and waited for in a second, so two sweeps
    started on one store share the work instead of queueing behind each other.
    """
    deferred = []

    def first_pass(job, computed):
        if computed is None:
            deferred.append(job)
        else:
            on_done(job, computed)

    for pass_jobs, wait, report in ((list(jobs), False, first_pass), (deferred, True, on_done)):
        if pass_jobs:
            _execute(pass_jobs, run, config, wait, report)


def _execute(jobs, run: JobFunction, config: Config, wait: bool, on_done) -> None:
    executor = config.space.executor
    if executor == "dask":
        run_on_dask(jobs, run, config, wait, on_done)
    elif executor == "processes":
        workers = min(config.space.workers, len(jobs))
        threads = job_threads(config, workers)
        context = multiprocessing.get_context("spawn")  # fork + torch threads can deadlock
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = [pool.submit(run, job, wait, threads) for job in jobs]
            for future in as_completed(futures):
                on_done(*future.result())
    else:
        threads = config.space.threads or torch.get_num_threads()
        previous = torch.get_num_threads()
        try:
            for job in jobs:
                on_done(*run(job, wait, threads))
        finally:
            run.release()
            torch.set_num_threads(previous)


# --------------------------------------------------------------------------- Dask


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise ConfigError("space.executor=dask needs Dask distributed: pip install 'taskspace[distributed]'") from None
    return distributed


@contextlib.contextmanager
def dask_client(config: Config) -> Iterator:
    """A ``distributed.Client``: to ``space.scheduler`` if set, else to a fresh LocalCluster.

    The LocalCluster has ``space.workers`` single-threaded worker processes (torch sets its own
    threads per job, see :func:`job_threads`) and puts
    its dashboard on a free port, so it starts offline and never collides with a port in use.
    """
    distributed = _import_distributed()
    if config.space.scheduler:
        try:
            client = distributed.Client(config.space.scheduler, timeout="30s")
        except OSError as exc:
            raise ConfigError(f"space.scheduler: cannot reach the Dask scheduler at "
                              f"'{config.space.scheduler}' ({exc})") from None
        with client:
            yield client
        return
    with distributed.LocalCluster(n_workers=config.space.workers, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", silence_logs=logging.ERROR) as cluster, \
            distributed.Client(cluster) as client:
        yield client


def run_on_dask(jobs: Sequence[Hashable], run: JobFunction, config: Config, wait: bool,
                on_done: Callable[[Hashable, bool | None], None]) -> None:
    """Submit every job, call ``on_done(job, computed)`` as each finishes; a failed job raises."""
    distributed = _import_distributed()
    with dask_client(config) as client:
        n_workers = max(1, len(client.scheduler_info().get("workers", {})) or config.space.workers)
        threads = config.space.threads or (job_threads(config, n_workers) if not config.space.scheduler else 1)
        # pure=False: a job's result lives in the store; Dask must not dedupe or cache it
        futures = [client.submit(run, job, wait, threads, pure=False,
                                 key=f"taskspace-{run.label}-{job}-{'wait' if wait else 'try'}") for job in jobs]
        for future in distributed.as_completed(futures):
            on_done(*future.result())
