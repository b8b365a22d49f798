"""Bad input: one clear line naming the culprit, a non-zero exit, and a store left exactly as it was.

Every case runs the real command line against a work dir that already holds a finished task
space, and compares every file in it (bytes) before and after.
"""

import errno
import gzip
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from taskspace_core import cli, provenance
from taskspace_core.corpora import blimp

CI_PARADIGM = "anaphor_gender_agreement"  # one of the ci preset's paradigms


def run(*args, cwd=None):
    proc = subprocess.run([sys.executable, "-m", "taskspace_core.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600)
    return proc.returncode, proc.stdout, proc.stderr


def the_error_line(code, stderr):
    assert code == 2, stderr
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("taskspace: error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def snapshot(directory):
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture
def work_dir(ci_space, tmp_path):
    """A work dir holding the finished ci task space, as a user's would."""
    work = tmp_path / "runs"
    shutil.copytree(ci_space.store_dir, work / "ci" / "spaces" / ci_space.store_dir.name)
    return work


def blimp_copy(tmp_path, edit_line=None):
    """A copy of the shipped BLiMP with ``edit_line(lines)`` applied to CI_PARADIGM's file."""
    data = tmp_path / "blimp"
    data.mkdir()
    for uid in blimp.PARADIGM_TERMS:
        source = blimp.paradigm_file(blimp.DEFAULT_BLIMP_DIR, uid)
        shutil.copy(source, data / source.name)
    packed = data / f"{CI_PARADIGM}.jsonl.gz"
    lines = gzip.decompress(packed.read_bytes()).decode().splitlines()
    edit_line(lines)
    packed.unlink()
    (data / f"{CI_PARADIGM}.jsonl").write_text("\n".join(lines) + "\n")
    return data


def _malformed(lines):
    lines[6] = lines[6][: len(lines[6]) // 2]  # line 7 cut in half


def _missing_field(lines):
    record = json.loads(lines[11])
    del record["sentence_bad"]
    lines[11] = json.dumps(record)


SPACE = ("space", "--preset", "ci", "--no-progress")


@pytest.mark.parametrize("args, needles", [
    # invalid preset or override values: unknown preset or field, wrong type, out of range
    (("space", "--preset", "paperr"), ["unknown preset 'paperr'"]),
    ((*SPACE, "--space.executer", "dask"), ["space.executer"]),
    ((*SPACE, "--ftgd.steps", "two"), ["ftgd.steps", "'two'"]),
    ((*SPACE, "--ftgd.top_fraction", "1.5"), ["ftgd.top_fraction", "1.5"]),
    ((*SPACE, "--ftgd.lr", "-0.1"), ["ftgd.lr", "> 0"]),
    ((*SPACE, "--pretrain.lr", "nan"), ["pretrain.lr", "finite"]),
    ((*SPACE, "--pretrain.max_steps", "1e400"), ["pretrain.max_steps"]),
    ((*SPACE, "--space.executor", "threads"), ["space.executor", "threads"]),
    ((*SPACE, "--workers", "0"), ["space.workers", "> 0"]),
    ((*SPACE, "--device", "tpu"), ["device", "tpu"]),
    ((*SPACE, "--size", "huge"), ["unknown size 'huge'"]),
    (("pretrain", "--preset", "ci", "--snapshot-minutes", "-5"), ["--snapshot-minutes -5", "0 (none) or more"]),
    # unknown paradigm or phenomenon
    ((*SPACE, "--data.paradigms", "anaphor_gender_agreemnt"), ["anaphor_gender_agreemnt", "did you mean"]),
    ((*SPACE, "--data.phenomena", "DN-AGRR"), ["unknown phenomenon 'DN-AGRR'"]),
])
def test_bad_config_values(work_dir, args, needles):
    before = snapshot(work_dir)
    line = the_error_line(*run(*args, "--work-dir", str(work_dir))[::2])
    assert all(needle in line for needle in needles), line
    assert snapshot(work_dir) == before


@pytest.mark.parametrize("edit, needles", [
    (_malformed, [f"{CI_PARADIGM}.jsonl", "line 7"]),
    (_missing_field, [f"{CI_PARADIGM}.jsonl", "line 12", "sentence_bad"]),
])
@pytest.mark.slow
def test_bad_data_files(work_dir, ci_checkpoints, tmp_path, edit, needles):
    data = blimp_copy(tmp_path, edit)
    before = snapshot(work_dir)
    code, _, err = run(*SPACE, "--model", str(ci_checkpoints[-1]), "--data-dir", str(data), "--work-dir", str(work_dir))
    line = the_error_line(code, err)
    assert all(needle in line for needle in needles), line
    assert snapshot(work_dir) == before


@pytest.mark.slow
def test_device_that_is_not_there(work_dir, ci_checkpoints):
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    before = snapshot(work_dir)
    code, _, err = run(*SPACE, "--model", str(ci_checkpoints[-1]), "--device", "cuda", "--work-dir", str(work_dir))
    line = the_error_line(code, err)
    assert "'cuda'" in line and "no CUDA GPU" in line
    assert snapshot(work_dir) == before


def _vit_config(directory):
    (directory / "config.json").write_text(json.dumps({"model_type": "vit", "hidden_size": 32}))


@pytest.mark.parametrize("make, needles", [
    (lambda d: None, ["config.json"]),  # an empty directory
    (lambda d: (d / "config.json").write_text("{ not json"), ["config.json"]),  # an unreadable config
    (_vit_config, ["not a causal language model", "'vit'"]),  # a model, but not a causal LM
])
@pytest.mark.slow
def test_model_directories_that_are_not_causal_lms(work_dir, ci_checkpoints, tmp_path, make, needles):
    model = tmp_path / "model"
    model.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json"):  # so that only the model part is wrong
        shutil.copy(ci_checkpoints[-1] / name, model / name)
    make(model)
    before = snapshot(work_dir)
    line = the_error_line(*run(*SPACE, "--model", str(model), "--work-dir", str(work_dir))[::2])
    assert str(model) in line and all(needle in line for needle in needles), line
    assert snapshot(work_dir) == before


@pytest.mark.parametrize("parameter, needles", [
    (("ftgd_threshold", "high"), ["parameter ftgd_threshold", "'high'", "float"]),
    (("pattern_high", "[1, 2]"), ["pattern_high"]),
    (("size", "huge"), ["size", "huge"]),
    (("checkpoint", "7"), ["checkpoint", "'7' is not in pretrain.checkpoints"]),
    (("preset", "paperr"), ["paperr"]),
    (("ftgd_mask_rule", "biggest"), ["ftgd_mask_rule", "biggest"]),
    (("no_such", "1"), ["no_such"]),
    (("data_phenomena", '["S-V-AGR"]'), ["unknown phenomenon 'S-V-AGR'", "SV-AGR"]),
])
@pytest.mark.slow
def test_notebook_parameters_of_the_wrong_type_or_value(tmp_path, parameter, needles):
    line = the_error_line(*run("run", "rq1", "-p", *parameter, "--out", str(tmp_path / "x.ipynb"))[::2])
    assert all(needle in line for needle in needles), line
    assert not (tmp_path / "x.ipynb").exists()


# --------------------------------------------------------------------------- full and read-only disks


@pytest.fixture
def small_filesystem(tmp_path):
    """A fresh 1 MiB tmpfs: a real disk that can fill up or go read-only (needs mount rights)."""
    mount_point = tmp_path / "fs"
    mount_point.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def half_finished_store(ci_space, work):
    """``work`` holding ci's store with eval1 and every other source finished, as a killed run leaves it."""
    store = work / "ci" / "spaces" / f"ci-epoch-1-{ci_space.meta['key_hash']}"
    shutil.copytree(ci_space.store_dir, store)
    for p in ci_space.paradigms[::2]:
        (store / "source" / f"{p}.json").unlink()
        (store / "source" / f"{p}.npz").unlink()
    return store


@pytest.mark.slow
def test_a_full_disk_stops_cleanly_and_keeps_every_finished_job(ci_space, ci_checkpoints, small_filesystem):
    import os

    store = half_finished_store(ci_space, small_filesystem)
    (store / "summary.json").unlink(missing_ok=True)
    stat = os.statvfs(small_filesystem)
    (small_filesystem / "filler").write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - 16 * 1024))
    before = snapshot(store)
    code, _, err = run(*SPACE, "--model", str(ci_checkpoints[-1]), "--work-dir", str(small_filesystem))
    line = the_error_line(code, err)
    assert "No space left on device" in line and str(store) in line, line
    after = snapshot(store)
    assert all(after[name] == digest for name, digest in before.items())  # nothing finished was lost
    assert not [name for name in after if name.endswith((".tmp", ".lock"))]  # nothing half-written left

    (small_filesystem / "filler").unlink()  # free the space: the same command resumes
    code, out, err = run(*SPACE, "--model", str(ci_checkpoints[-1]), "--work-dir", str(small_filesystem))
    assert code == 0, err
    finished = sum(1 for name in after if name.endswith(".json") and name != "manifest.json")
    assert f"{len(ci_space.paradigms) + 1 - finished} jobs computed, {finished} reused" in out


@pytest.mark.slow
def test_a_disk_that_fills_mid_run_stops_cleanly_without_root(ci_space, ci_checkpoints, tmp_path, monkeypatch, capsys):
    """The full-disk path of the test above, by injecting ENOSPC where the bytes are written: it
    runs anywhere (no mount rights needed), in-process with the serial executor."""
    work = tmp_path / "runs"
    store = half_finished_store(ci_space, work)
    (store / "summary.json").unlink(missing_ok=True)
    before = snapshot(store)
    write_all = provenance._write_all

    def full_disk(fd, tmp, data):
        if Path(tmp).is_relative_to(store) and ".npz." in Path(tmp).name:  # the first job's arrays
            write_all(fd, tmp, data[: len(data) // 2])  # part of the bytes land, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        write_all(fd, tmp, data)

    monkeypatch.setattr(provenance, "_write_all", full_disk)
    args = [*SPACE, "--model", str(ci_checkpoints[-1]), "--work-dir", str(work)]
    line = the_error_line(cli.main(args), capsys.readouterr().err)
    assert "No space left on device" in line and str(store) in line, line
    after = snapshot(store)
    assert all(after[name] == digest for name, digest in before.items())  # nothing finished was lost
    assert not [name for name in after if name.endswith((".tmp", ".lock"))]  # nothing half-written left

    monkeypatch.setattr(provenance, "_write_all", write_all)  # space freed: the same command resumes
    assert cli.main(args) == 0
    finished = sum(1 for name in after if name.endswith(".json") and name != "manifest.json")
    assert f"{len(ci_space.paradigms) + 1 - finished} jobs computed, {finished} reused" in capsys.readouterr().out


@pytest.mark.slow
def test_a_read_only_store_is_reported_and_left_alone(ci_space, ci_checkpoints, tmp_path):
    import os

    if os.geteuid() == 0:  # root writes through permission bits: make a real read-only filesystem
        work = tmp_path / "fs"
        work.mkdir()
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(work)],
                          capture_output=True).returncode != 0:
            pytest.skip("cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)")
        store = half_finished_store(ci_space, work)
        subprocess.run(["mount", "-o", "remount,ro", str(work)], check=True)
    else:
        work = tmp_path / "runs"
        store = half_finished_store(ci_space, work)
        for path in [work, *work.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
    try:
        before = snapshot(store)
        code, _, err = run(*SPACE, "--model", str(ci_checkpoints[-1]), "--work-dir", str(work))
        line = the_error_line(code, err)
        assert ("Read-only file system" in line or "Permission denied" in line) and str(store) in line, line
        assert snapshot(store) == before
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", "-l", str(work)], capture_output=True)
        else:
            for path in [work, *work.rglob("*")]:
                path.chmod(path.stat().st_mode | 0o200)


@pytest.mark.slow
def test_book_and_run_reject_a_bad_device_before_any_kernel(tmp_path):
    line = the_error_line(*run("run", "rq1", "--device", "tpu", "--out", str(tmp_path / "x.ipynb"))[::2])
    assert "--device" in line and "'tpu'" in line
    assert not (tmp_path / "x.ipynb").exists()
