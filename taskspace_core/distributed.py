"""Running a task space's jobs on Dask distributed (the optional ``taskspace[distributed]`` extra).

    space.executor = "dask", space.scheduler = ""        a LocalCluster of space.workers processes
    space.executor = "dask", space.scheduler = ADDRESS   an existing cluster (e.g. dask-jobqueue on SLURM)

Each of the 68 jobs of a space (eval1 and one fine-tune per paradigm) is one Dask task. A task
calls :func:`~taskspace_core.probing.run_job`, which loads the model once per worker process
and writes its result through the :class:`~taskspace_core.store.ResultStore`: the store, not
Dask, is the single source of truth. Its per-job claim keeps two workers (or two whole sweeps
sharing a store) from computing the same job, and a task that Dask retries after a worker died
finds finished jobs already stored. Workers must therefore see the same filesystem as the
client (the run directory, the checkpoint and BLiMP), as on any cluster with a shared home or
scratch.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence

from .config import Config
from .errors import ConfigError


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
    threads per job, see :func:`~taskspace_core.probing.job_threads`) and puts
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


def run_on_dask(jobs: Sequence[str], config: Config, model_path: str, revision: str | None, label: str,
                wait: bool, on_done: Callable[[str, bool | None], None]) -> None:
    """Submit every job, call ``on_done(job, computed)`` as each finishes; a failed job raises."""
    from .probing import job_threads, run_job

    distributed = _import_distributed()
    with dask_client(config) as client:
        n_workers = max(1, len(client.scheduler_info().get("workers", {})) or config.space.workers)
        threads = config.space.threads or (job_threads(config, n_workers) if not config.space.scheduler else 1)
        # pure=False: a job's result lives in the store; Dask must not dedupe or cache it
        futures = [client.submit(run_job, job, config, model_path, revision, label, threads, wait, pure=False,
                                 key=f"taskspace-{label}-{job}-{'wait' if wait else 'try'}") for job in jobs]
        for future in distributed.as_completed(futures):
            on_done(*future.result())
