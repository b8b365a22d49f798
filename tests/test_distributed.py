"""Jobs on Dask and shared stores: the same numbers as a serial run, and no job computed twice."""

import json
import multiprocessing
import os
import time

import numpy as np
import pytest
from conftest import assert_same_space

from taskspace_core.config import apply_overrides
from taskspace_core.engine.compute import compute_space
from taskspace_core.results.store import ResultStore

QUIET = dict(log=lambda *_: None, progress=False)


def one_thread(config, work_dir, **overrides):
    """``config`` in its own work dir, one torch thread per job (so float reductions match exactly)."""
    return apply_overrides(config, {"work_dir": str(work_dir), "space.threads": 1, **overrides})


def test_a_localcluster_sweep_equals_the_serial_run(ci_space_one_thread, ci_config, ci_checkpoints, tmp_path):
    pytest.importorskip("distributed")
    config = one_thread(ci_config, tmp_path, **{"space.executor": "dask", "space.workers": 2})
    on_dask = compute_space(config, ci_checkpoints[-1], label="ci-small-final", **QUIET)
    assert on_dask.meta["jobs_computed"] == len(on_dask.paradigms) + 1
    assert_same_space(on_dask, ci_space_one_thread)
    hosts = {json.loads(p.read_text())["computed_by"]["pid"] for p in on_dask.store_dir.glob("source/*.json")}
    assert len(hosts) == 2 and os.getpid() not in hosts  # really two worker processes, not this one


def test_the_same_seed_and_config_give_identical_task_spaces(ci_space_one_thread, ci_config, ci_checkpoints, tmp_path):
    again = compute_space(one_thread(ci_config, tmp_path), ci_checkpoints[-1], label="ci-small-final", **QUIET)
    assert again.meta["jobs_computed"] == len(again.paradigms) + 1  # recomputed from scratch, not loaded
    assert_same_space(again, ci_space_one_thread)


def _sweep(config, model, queue):
    space = compute_space(config, model, label="ci-small-final", **QUIET)
    queue.put(space.meta["jobs_computed"])


def test_two_sweeps_sharing_a_store_never_compute_one_job_twice(ci_space_one_thread, ci_config, ci_checkpoints,
                                                                 tmp_path):
    config = one_thread(ci_config, tmp_path)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    sweeps = [context.Process(target=_sweep, args=(config, str(ci_checkpoints[-1]), queue)) for _ in range(2)]
    for sweep in sweeps:
        sweep.start()
    for sweep in sweeps:
        sweep.join(timeout=300)
        assert sweep.exitcode == 0
    computed = [queue.get(timeout=5) for _ in sweeps]
    n_jobs = len(ci_space_one_thread.paradigms) + 1
    assert sum(computed) == n_jobs, computed  # every job computed exactly once between the two
    assert min(computed) > 0, computed  # and the work really was shared
    merged = compute_space(config, ci_checkpoints[-1], label="ci-small-final", **QUIET)
    assert merged.meta["jobs_computed"] == 0
    assert_same_space(merged, ci_space_one_thread)
    assert not list(merged.store_dir.rglob("*.lock*"))  # every claim released


def test_a_stale_claim_of_a_dead_worker_is_taken_over(tmp_path):
    store = ResultStore(tmp_path, "s", {"k": 1})
    store.dir.mkdir(parents=True)
    dead = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(0,))
    dead.start()
    dead.join()
    lock = store.dir / "eval1.lock"
    lock.write_text(json.dumps({"host": os.uname().nodename, "pid": dead.pid, "token": "t", "since": 0}))
    started = time.perf_counter()
    with store.claim("eval1", poll_s=0.05) as status:
        assert status == "compute"
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert time.perf_counter() - started < 5 and not lock.exists()


def test_a_finished_job_drops_the_lock_of_a_worker_killed_before_unlocking(tmp_path):
    store = ResultStore(tmp_path, "s", {"k": 1})
    store.save("eval1", {"x": np.arange(3)}, {"by": "dead"})
    dead = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(0,))
    dead.start()
    dead.join()
    lock = store.dir / "eval1.lock"
    lock.write_text(json.dumps({"host": os.uname().nodename, "pid": dead.pid, "token": "t", "since": 0}))
    with store.claim("eval1") as status:
        assert status == "done"
    assert not lock.exists()
    live = {"host": os.uname().nodename, "pid": os.getpid(), "token": "mine", "since": time.time()}
    lock.write_text(json.dumps(live))  # a live holder's lock stays: it removes its own
    with store.claim("eval1") as status:
        assert status == "done"
    assert json.loads(lock.read_text()) == live


def test_a_live_claim_blocks_until_the_result_appears(tmp_path):
    store = ResultStore(tmp_path, "s", {"k": 1})
    store.dir.mkdir(parents=True)
    (store.dir / "eval1.lock").write_text(json.dumps({"host": os.uname().nodename, "pid": os.getpid(),
                                                      "token": "someone", "since": 0}))

    def finish_elsewhere():
        time.sleep(0.3)
        store.save("eval1", {"x": np.arange(3)}, {"by": "other"})
        (store.dir / "eval1.lock").unlink()

    import threading

    with store.claim("eval1", wait=False) as status:
        assert status == "busy"  # held by a live worker: a first pass skips it
    threading.Thread(target=finish_elsewhere).start()
    with store.claim("eval1", poll_s=0.05) as status:
        assert status == "done"  # the other worker finished it: nothing to compute
    assert store.load("eval1")[1]["by"] == "other"


@pytest.mark.slow
def test_the_command_line_runs_a_sweep_on_a_localcluster(ci_checkpoints, tmp_path):
    import subprocess
    import sys

    pytest.importorskip("distributed")
    proc = subprocess.run([sys.executable, "-m", "taskspace_core.cli", "space", "--preset", "ci", "--no-progress",
                           "--model", str(ci_checkpoints[-1]), "--workers", "2", "--work-dir", str(tmp_path),
                           "--data.paradigms", "", "--data.phenomena", "A-AGR"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "(dask)" in proc.stdout and "2 paradigms; 3 jobs computed, 0 reused" in proc.stdout, proc.stdout
