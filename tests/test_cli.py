"""The command line as a new user runs it: real subprocesses, real exit codes, no tracebacks."""

import gzip
import json
import re
import subprocess
import sys

import pandas as pd
import pytest

from taskspace_core.corpora import blimp


def run(*args, cwd=None):
    proc = subprocess.run([sys.executable, "-m", "taskspace_core.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=600)
    return proc.returncode, proc.stdout, proc.stderr


def assert_one_line_error(code, stderr, *needles):
    assert code == 2
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("taskspace: error:")]
    assert len(lines) == 1, stderr
    for needle in needles:
        assert needle in lines[0]


def test_data_validates_the_three_benchmarks_and_counts_their_pairs():
    code, out, _ = run("data")
    assert code == 0
    totals = re.findall(r"^total\s+(\d+) phenomena\s+(\d+)\s+(\d+)$", out, flags=re.M)
    assert totals == [("12", "67", "67000"), ("13", "23", "46000"), ("3", "22", "156608")]  # BLiMP, Zorro, CLAMS
    code, out, _ = run("data", "--taxonomy", "13", "--benchmarks", "blimp")
    assert code == 0 and "S-SEL" in out and "13 phenomena" in out and "Zorro" not in out
    code, _, err = run("data", "--benchmarks", "blimp,zoro")
    assert_one_line_error(code, err, "'zoro' is neither", "did you mean 'zorro'")


def test_data_exits_nonzero_on_malformed_file(tmp_path):
    for uid in blimp.PARADIGM_TERMS:
        src = blimp.paradigm_file(blimp.DEFAULT_BLIMP_DIR, uid)
        (tmp_path / src.name).write_bytes(src.read_bytes())
    lines = gzip.decompress((tmp_path / "wh_island.jsonl.gz").read_bytes()).decode().splitlines()
    record = json.loads(lines[41])
    del record["pairID"]
    lines[41] = json.dumps(record)
    (tmp_path / "wh_island.jsonl.gz").unlink()
    (tmp_path / "wh_island.jsonl").write_text("\n".join(lines) + "\n")
    code, _, err = run("data", "--data-dir", str(tmp_path))
    assert_one_line_error(code, err, "wh_island.jsonl", "line 42", "pairID")


@pytest.mark.parametrize("args, needles", [
    (["pretrain", "--preset", "huge"], ["unknown preset 'huge'"]),
    (["pretrain", "--preset", "ci", "--size", "xl"], ["unknown size 'xl'"]),
    (["pretrain", "--preset", "ci", "--pretrain.lrr", "1"], ["pretrain.lrr"]),
    (["pretrain", "--preset", "ci", "--pretrain.lr", "fast"], ["pretrain.lr"]),
    (["score", "--model", "no/such/dir", "--out", "x.csv"], ["no/such/dir"]),
])
@pytest.mark.slow
def test_bad_input_is_one_line(args, needles, tmp_path):
    code, _, err = run(*args, cwd=tmp_path)
    assert_one_line_error(code, err, *needles)


@pytest.mark.slow
def test_pretrain_then_score_as_a_new_user(tmp_path, ci_checkpoints):
    code, out, err = run("pretrain", "--preset", "ci", "--size", "small", "--out", "ckpt",
                         "--pretrain.max_steps", "20", "--pretrain.checkpoints", "0,0.5,1", cwd=tmp_path)
    assert code == 0, err
    assert "epoch-0" in out and (tmp_path / "ckpt" / "epoch-0" / "meta.json").is_file()
    model = str(ci_checkpoints[-1])
    code, out, err = run("score", "--model", model, "--out", "scores.csv", "--paradigms",
                         "passive_1,wh_island", "--max-pairs", "7", cwd=tmp_path)
    assert code == 0, err
    df = pd.read_csv(tmp_path / "scores.csv")
    assert {"paradigm", "pair_id", "logp_good", "logp_bad"} <= set(df.columns)
    assert len(df) == 14 and set(df.paradigm) == {"passive_1", "wh_island"}
    assert set(df.bos) == {"prepend"}
    meta = json.loads((tmp_path / "scores.meta.json").read_text())
    assert meta["scoring"]["bos"] == "prepend" and meta["data_hash"] and meta["git_commit"]
    assert meta["split"]["n_test"] == 20  # the checkpoint's own preset (ci) chose the split
    assert "ARG-S" in out and "ISL-E" in out  # a summary per phenomenon is printed

    code, _, err = run("score", "--model", model, "--out", "x.csv", "--paradigms", "passive_one", cwd=tmp_path)
    assert_one_line_error(code, err, "passive_one")
    (tmp_path / "empty").mkdir()
    code, _, err = run("score", "--model", str(tmp_path / "empty"), "--out", "x.csv", cwd=tmp_path)
    assert_one_line_error(code, err, "empty", "config.json")


@pytest.mark.slow
def test_space_computes_then_reuses_a_task_space(tmp_path):
    args = ("space", "--preset", "ci", "--size", "small", "--work-dir", str(tmp_path), "--no-progress",
            "--data.paradigms", "anaphor_gender_agreement,anaphor_number_agreement,npi_present_1")
    code, out, err = run(*args)
    assert code == 0, err
    assert "3 paradigms; 4 jobs computed, 0 reused" in out
    assert "vs hypothesis space: pearson" in out and "within-phenomenon similarity" in out
    assert "A-AGR" in out and "summary.json" in out
    code, out, err = run(*args)
    assert code == 0 and "0 jobs computed, 4 reused" in out



@pytest.mark.slow
def test_masks_computes_every_paradigms_mask_without_eval2(tmp_path):
    args = ("masks", "--preset", "ci", "--size", "small", "--work-dir", str(tmp_path), "--no-progress",
            "--data.paradigms", "anaphor_gender_agreement,anaphor_number_agreement,npi_present_1")
    code, out, err = run(*args)
    assert code == 0, err
    assert "3 paradigms: mask share" in out and "Jaccard overlap within phenomena" in out
    store = tmp_path / "ci" / "masks"
    assert len(list(store.glob("*/mask/*.npz"))) == 3 and not list(store.glob("*/source*"))
    code, out, err = run(*args)
    assert code == 0 and "3 of 3 jobs already stored" in out

@pytest.mark.slow
def test_ftgd_writes_a_tuned_model_with_its_mask_and_scores(ci_checkpoints, tmp_path):
    out_dir = tmp_path / "tuned"
    code, out, err = run("ftgd", "--model", str(ci_checkpoints[-1]), "--paradigm", "anaphor_number_agreement",
                         "--out", str(out_dir), "--threshold", "1e-3", "--steps", "5")
    assert code == 0, err
    assert "parameters updated" in out and "anaphor_number_agreement" in out
    meta = json.loads((out_dir / "ftgd.json").read_text())
    assert meta["config"]["ftgd"]["steps"] == 5 and 0 < meta["mask_share"] < 1 and len(meta["log"]) == 5
    assert (out_dir / "config.json").is_file() and (out_dir / "mask_stats.csv").is_file()
    scores = pd.read_csv(out_dir / "scores.csv")
    assert set(scores.paradigm) == {"anaphor_number_agreement"} and len(scores) == 20  # ci: n_test 20
    from taskspace_core.lm.models import load_model

    load_model(out_dir)  # any HF tool can load it


@pytest.mark.parametrize("args,needles", [
    (("space", "--preset", "ci", "--ftgd.method", "magic"), ("ftgd.method", "magic")),
    (("space", "--preset", "ci", "--ftgd.lr", "fast"), ("ftgd.lr",)),
    (("space", "--preset", "ci", "--ftgd.treshold", "1e-3"), ("ftgd.treshold",)),
    (("space", "--preset", "ci", "--data.paradigms", "anaphor_gender_agreement,no_such_paradigm"),
     ("no_such_paradigm",)),
    (("space", "--preset", "ci", "--size", "huge"), ("huge",)),
    (("space", "--preset", "ci", "--checkpoint", "7"), ("checkpoint", "7")),
    (("ftgd", "--model", "/nonexistent/model", "--paradigm", "wh_island", "--out", "x"), ("/nonexistent/model",)),
])
@pytest.mark.slow
def test_space_and_ftgd_bad_input_is_one_line(tmp_path, args, needles):
    code, _, err = run(*args, "--work-dir", str(tmp_path)) if args[0] == "space" else run(*args)
    assert_one_line_error(code, err, *needles)


def test_version_and_resolved_config():
    import yaml

    from taskspace_core import __version__

    code, out, _ = run("--version")
    assert code == 0 and out.strip() == f"taskspace {__version__}"
    code, out, err = run("config", "--preset", "tiny", "--ftgd.threshold", "1e-2", "--book.sweep_seeds", "[0, 4]")
    assert code == 0, err
    config = yaml.safe_load(out)  # the printed YAML reads back
    assert config["preset"] == "tiny" and config["ftgd"]["threshold"] == 0.01 and config["book"]["sweep_seeds"] == [0, 4]
    code, _, err = run("config", "--preset", "tiny", "--ftgd.threshold", "lots")
    assert_one_line_error(code, err, "ftgd.threshold")


@pytest.mark.parametrize("unbuffered", ["1", ""])
def test_output_into_a_closed_pipe_ends_quietly(unbuffered):
    """`taskspace ... | head -1`: once the reader has gone, the command ends as SIGPIPE ends Unix
    tools (status 141), without a traceback, whether stdout is buffered or not."""
    import os

    env = {**os.environ, "PYTHONUNBUFFERED": unbuffered}
    proc = subprocess.Popen([sys.executable, "-m", "taskspace_core.cli", "sizes", "--preset", "paper"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # the reader is gone before the first line is written
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
