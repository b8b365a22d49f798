"""Faults: a sweep SIGKILLed at random moments resumes without redoing finished work; damaged
checkpoints are detected by their hashes and retrained, never used."""

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from safetensors.torch import load_file

from taskspace_core.analysis.space import METRICS
from taskspace_core.config import apply_overrides
from taskspace_core.engine.compute import compute_space
from taskspace_core.errors import CorruptResultWarning, ModelLoadError
from taskspace_core.lm.checkpoints import checkpoint_problems
from taskspace_core.lm.pretrain import ensure_checkpoint

QUIET = dict(log=lambda *_: None, progress=False)


def finished_jobs(store_dir):
    """name -> bytes of its commit file (.json), for every job whose commit file exists."""
    if not store_dir.is_dir():
        return {}
    return {str(p.relative_to(store_dir)): p.read_bytes() for p in store_dir.rglob("*.json")
            if p.name != "manifest.json"}


def sweep_command(model, work_dir):
    # one torch thread per job, as in ci_space_one_thread, so the numbers can be compared bit for bit
    return [sys.executable, "-m", "taskspace_core.cli", "space", "--preset", "ci", "--model", str(model),
            "--work-dir", str(work_dir), "--no-progress", "--space.threads", "1"]


def start_sweep(model, work_dir):
    # its own session, so that SIGKILL reaches the whole process group at once
    return subprocess.Popen(sweep_command(model, work_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def kill_sweep_when(proc, store_dir, n_finished, extra_delay_s, timeout_s=120):
    """SIGKILL ``proc`` ``extra_delay_s`` after ``n_finished`` jobs are stored (or it exits by itself)."""
    deadline = time.monotonic() + timeout_s
    while len(finished_jobs(store_dir)) < n_finished and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(extra_delay_s)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    return proc.returncode


def test_a_sweep_killed_at_random_moments_resumes_recomputing_nothing(ci_space_one_thread, ci_config, ci_checkpoints,
                                                                     tmp_path):
    ci_space = ci_space_one_thread
    rng = random.Random(20261127)
    n_jobs = len(ci_space.paradigms) + 1
    store_dir = tmp_path / "ci" / "spaces" / f"ci-{ci_checkpoints[-1].name}-{ci_space.meta['key_hash']}"
    # kill points: before any job (start-up), then after 1..n-1 jobs, each plus a random delay that
    # can land mid-job or mid-write
    targets = [0] + sorted(rng.sample(range(1, n_jobs - 1), 3))
    seen = {}  # job -> its commit file the first time it was seen finished
    kills = []
    for target in targets:
        code = kill_sweep_when(start_sweep(ci_checkpoints[-1], tmp_path), store_dir, target, rng.uniform(0, 0.6))
        now = finished_jobs(store_dir)
        for name, data in seen.items():  # a finished job is never rewritten (recomputed)
            assert now[name] == data, f"{name} was recomputed after kill {len(kills)}"
        seen.update({name: data for name, data in now.items() if name not in seen})
        kills.append((target, code, len(now)))
    assert any(code == -signal.SIGKILL and 0 < n < n_jobs for _, code, n in kills), kills  # a real mid-sweep kill

    proc = subprocess.run(sweep_command(ci_checkpoints[-1], tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    computed, reused = map(int, re.search(r"(\d+) jobs computed, (\d+) reused", proc.stdout).groups())
    assert reused == len(seen) and computed == n_jobs - len(seen), (kills, proc.stdout)
    final = finished_jobs(store_dir)
    assert all(final[name] == data for name, data in seen.items())  # the resumed run rewrote nothing
    assert not list(store_dir.rglob("*.lock"))

    resumed = compute_space(apply_overrides(ci_config, {"work_dir": str(tmp_path), "space.threads": 1}),
                            ci_checkpoints[-1], label=f"ci-{ci_checkpoints[-1].name}", **QUIET)
    assert resumed.meta["jobs_computed"] == 0
    for metric in METRICS:  # equal to the uninterrupted run, bit for bit
        assert np.array_equal(resumed.transfer[metric], ci_space.transfer[metric])
    assert np.array_equal(resumed.masks, ci_space.masks)
    print(f"\nkills (after n jobs, exit code, jobs stored): {kills}; final run: {computed} computed, {reused} reused")


@pytest.mark.slow
def test_a_damaged_checkpoint_is_reported_and_retrained(ci_config, ci_checkpoints, tmp_path):
    config = apply_overrides(ci_config, {"work_dir": str(tmp_path)})
    run = tmp_path / "ci" / "models" / "small"
    shutil.copytree(ci_checkpoints[-1].parent, run)
    weights = run / ci_checkpoints[-1].name / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit in the middle of a tensor
    weights.write_bytes(bytes(data))
    assert checkpoint_problems(weights.parent) == [f"{weights}: sha256 does not match meta.json"]

    with pytest.raises(ModelLoadError, match="damaged checkpoint.*model.safetensors"):
        compute_space(config, weights.parent, label="x", **QUIET)  # an explicit model is refused, not used
    with pytest.warns(CorruptResultWarning, match="damaged checkpoint"):
        repaired = ensure_checkpoint(config, "small", "final", log=lambda *_: None)
    assert checkpoint_problems(repaired) == []
    original, retrained = load_file(ci_checkpoints[-1] / "model.safetensors"), load_file(repaired / "model.safetensors")
    assert all(np.array_equal(original[k].numpy(), retrained[k].numpy()) for k in original)
    assert (run.parent / "small.damaged-1" / ci_checkpoints[-1].name / "model.safetensors").read_bytes() == bytes(data)
    meta = json.loads((repaired / "meta.json").read_text())
    assert set(meta["files"]) >= {"model.safetensors", "config.json", "tokenizer.json"}
