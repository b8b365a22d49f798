import json

import pytest
import torch
from safetensors.torch import load_file

from taskspace_core.config import apply_overrides
from taskspace_core.errors import ConfigError
from taskspace_core.lm.pretrain import TRAINING_STATE, learning_rate, list_checkpoints, pretrain

QUIET = {"log": lambda *_: None}


def weights(checkpoint):
    return load_file(checkpoint / "model.safetensors")


def test_checkpoints_cover_init_inside_and_end_of_training(ci_config, ci_checkpoints):
    assert [c.name for c in ci_checkpoints] == ["epoch-0", "epoch-0.5", "epoch-1"]
    metas = [json.loads((c / "meta.json").read_text()) for c in ci_checkpoints]
    for key in ("config", "config_hash", "data_hash", "git_commit", "packages", "tokens_seen",
                "val_loss", "wall_time_s", "n_parameters", "pretrain_hash"):
        assert all(key in m for m in metas), key
    assert metas[0]["tokens_seen"] == 0 and metas[0]["step"] == 0
    assert metas[0]["tokens_seen"] < metas[1]["tokens_seen"] < metas[2]["tokens_seen"]
    assert metas[2]["val_loss"] < metas[0]["val_loss"] - 0.5  # it learned something
    assert metas[0]["packages"]["torch"].startswith("2.13.0")
    # only the newest checkpoint keeps optimizer state for resuming
    assert [(c / TRAINING_STATE).exists() for c in ci_checkpoints] == [False, False, True]


def test_interrupted_run_resumes_to_identical_weights(ci_config, ci_checkpoints, tmp_path):
    interrupted = apply_overrides(ci_config, {"pretrain.max_steps": 70})  # stops after epoch-0.5
    done = pretrain(interrupted, "small", tmp_path, **QUIET)
    assert [c.name for c in done] == ["epoch-0", "epoch-0.5"]
    resumed = pretrain(ci_config, "small", tmp_path, **QUIET)
    assert [c.name for c in resumed] == ["epoch-0", "epoch-0.5", "epoch-1"]
    for a, b in zip(resumed, ci_checkpoints):
        wa, wb = weights(a), weights(b)
        assert all(torch.equal(wa[k], wb[k]) for k in wb), f"{a.name} differs after resume"


def test_a_run_cut_off_between_checkpoints_resumes_from_its_snapshot_to_identical_weights(
        ci_config, ci_checkpoints, tmp_path, monkeypatch):
    """A session that ends between two checkpoints loses nothing but the steps since the last
    snapshot: the resumed run starts there and ends bit-identical to one that never stopped."""
    import taskspace_core.lm.pretrain as pretraining
    from taskspace_core.lm.snapshots import SNAPSHOT_FILE

    half = json.loads((ci_checkpoints[1] / "meta.json").read_text())["step"]  # epoch-0.5
    saved = []

    def cut_off_after_a_few(out_dir, model, optimizer, step, *args):
        path = snapshots.save_snapshot(out_dir, model, optimizer, step, *args)
        saved.append(step)
        if step == half + 3:  # the session ends here, three steps past epoch-0.5
            raise KeyboardInterrupt
        return path

    from taskspace_core.lm import snapshots
    monkeypatch.setattr(pretraining, "save_snapshot", cut_off_after_a_few)
    with pytest.raises(KeyboardInterrupt):
        pretrain(ci_config, "small", tmp_path, snapshot_every_s=0, **QUIET)  # a snapshot after every step
    assert [c.name for c in list_checkpoints(tmp_path)] == ["epoch-0", "epoch-0.5"]
    assert saved == [s for s in range(1, half + 4) if s != half] and (tmp_path / SNAPSHOT_FILE).is_file()
    # a snapshot is taken only where it goes beyond the newest checkpoint without passing the call's end
    run_hash = json.loads((tmp_path / "epoch-0.5" / "meta.json").read_text())["pretrain_hash"]
    assert snapshots.load_snapshot(tmp_path, run_hash, half, half + 3)["step"] == half + 3
    assert snapshots.load_snapshot(tmp_path, run_hash, half, half + 2) is None  # a call that stops earlier
    assert snapshots.load_snapshot(tmp_path, run_hash, half + 3, half + 9) is None  # a newer checkpoint
    # a call that stops at epoch-0.5 has nothing to do: the snapshot is beyond it, and stays
    assert [c.name for c in pretrain(ci_config, "small", tmp_path, until_epoch=0.5, **QUIET)] == ["epoch-0", "epoch-0.5"]
    assert (tmp_path / SNAPSHOT_FILE).is_file()
    lines = []
    resumed = pretrain(ci_config, "small", tmp_path, snapshot_every_s=None, log=lines.append)
    assert any(f"from step {saved[-1]}/" in line and "(snapshot)" in line for line in lines), lines
    for a, b in zip(resumed, ci_checkpoints, strict=True):
        assert json.loads((a / "meta.json").read_text())["files"] == json.loads((b / "meta.json").read_text())["files"]
    assert not (tmp_path / SNAPSHOT_FILE).exists()  # the final checkpoint superseded it


def test_a_snapshot_of_another_config_is_refused(ci_config, ci_checkpoints, tmp_path):
    import shutil

    from taskspace_core.lm.snapshots import SNAPSHOT_FILE

    shutil.copytree(ci_checkpoints[-1], tmp_path / ci_checkpoints[-1].name)  # the one with optimizer state
    torch.save({"pretrain_hash": "0123456789ab", "step": 3}, tmp_path / SNAPSHOT_FILE)
    with pytest.raises(ConfigError, match=r"snapshot.pt is a snapshot of another configuration or training code \(run hash 0123456789ab"):
        pretrain(ci_config, "small", tmp_path, **QUIET)
    (tmp_path / SNAPSHOT_FILE).write_bytes(b"not a snapshot")
    with pytest.raises(ConfigError, match="unreadable resume snapshot"):
        pretrain(ci_config, "small", tmp_path, **QUIET)


def test_a_run_stopped_at_a_checkpoint_resumes_to_identical_weights(ci_config, ci_checkpoints, tmp_path):
    """until_epoch stops on a checkpoint (what reproduce does when a space needs no later one);
    the schedule is the full run's, so stopping changes no weight."""
    done = pretrain(ci_config, "small", tmp_path, until_epoch=0.5, **QUIET)
    assert [c.name for c in done] == ["epoch-0", "epoch-0.5"] and (done[-1] / TRAINING_STATE).exists()
    assert pretrain(ci_config, "small", tmp_path, until_epoch=0.5, **QUIET) == done  # nothing left to do
    resumed = pretrain(ci_config, "small", tmp_path, **QUIET)
    for a, b in zip(resumed, ci_checkpoints, strict=True):
        assert json.loads((a / "meta.json").read_text())["files"] == json.loads((b / "meta.json").read_text())["files"]
    with pytest.raises(ConfigError, match=r"until_epoch=0.7 is not in pretrain.checkpoints \(0, 0.5, 1\)"):
        pretrain(ci_config, "small", tmp_path, until_epoch=0.7, **QUIET)


def test_same_seed_same_model_other_seed_other_model(ci_config, ci_checkpoints, tmp_path):
    short = {"pretrain.max_steps": 5, "pretrain.checkpoints": "0,1"}
    other = pretrain(apply_overrides(ci_config, short | {"pretrain.seed": 1}), "small", tmp_path, **QUIET)
    assert not torch.equal(weights(other[0])["model.embed_tokens.weight"],
                           weights(ci_checkpoints[0])["model.embed_tokens.weight"])


def test_a_pretraining_seed_replicate_is_its_own_run_beside_the_first(ci_config, ci_checkpoints, tmp_path):
    import shutil

    from taskspace_core.lm.checkpoints import find_checkpoint_meta
    from taskspace_core.lm.identity import models_dir, run_name
    from taskspace_core.lm.pretrain import ensure_checkpoint

    # a copy of the session's run directory, so the short replicate trained here stays out of it
    shutil.copytree(ci_checkpoints[0].parent, tmp_path / "ci" / "models" / "small")
    first = apply_overrides(ci_config, {"work_dir": str(tmp_path)})
    replicate = apply_overrides(first, {"pretrain.seed": 1, "pretrain.max_steps": 5, "pretrain.checkpoints": "0,1"})
    assert (run_name(first, "small"), run_name(replicate, "small")) == ("small", "small-seed1")
    assert models_dir(ci_config.run_dir(), ci_config, "small") == ci_checkpoints[0].parent  # seed 0 keeps its name
    assert find_checkpoint_meta(replicate, "small", 0) is None  # seed 0's checkpoints are not this run's
    path = ensure_checkpoint(replicate, "small", 0, log=lambda *_: None)  # trains the replicate where it belongs
    assert path == tmp_path / "ci" / "models" / "small-seed1" / "epoch-0"
    assert find_checkpoint_meta(replicate, "small", 0)["pretrain_hash"] != find_checkpoint_meta(first, "small", 0)["pretrain_hash"]


def test_resume_refuses_another_config(ci_config, ci_checkpoints):
    out = ci_checkpoints[0].parent
    with pytest.raises(ConfigError, match="another configuration"):
        pretrain(apply_overrides(ci_config, {"pretrain.lr": 1e-4}), "small", out, **QUIET)
    assert list_checkpoints(out) == ci_checkpoints


def test_learning_rate_schedule(ci_config):
    cfg = ci_config.pretrain
    lrs = [learning_rate(s, 100, cfg) for s in range(100)]
    assert lrs[cfg.warmup_steps - 1] == pytest.approx(cfg.lr)
    assert lrs[0] < lrs[cfg.warmup_steps - 1]
    assert all(a >= b for a, b in zip(lrs[cfg.warmup_steps:], lrs[cfg.warmup_steps + 1:]))
    assert lrs[-1] >= cfg.lr * cfg.min_lr_ratio


def test_checkpoint_beyond_training_is_rejected(ci_config, tmp_path):
    with pytest.raises(ConfigError, match="pretrain.checkpoints"):
        pretrain(apply_overrides(ci_config, {"pretrain.checkpoints": "0,2"}), "small", tmp_path, **QUIET)


def test_training_stops_at_the_last_checkpoint_with_the_full_runs_rates():
    """Nothing past the last checkpoint is kept, so no step is trained there: cpu-next's 0.75 of
    4523 steps per epoch is 3393 steps by the rate schedule, its final checkpoint is at 3392, and a
    finished run called again used to train (and log) step 3393 each time."""
    from types import SimpleNamespace

    from taskspace_core.lm.pretrain import _schedule

    recipe = SimpleNamespace(epochs=0.75, checkpoints=[0, 0.0375, 0.15, 0.75], max_steps=0)
    total, schedule, last = _schedule(recipe, 4523, None)
    assert (total, last, schedule[last]) == (3393, 3392, 0.75)  # the rates still decay over 3393
    assert _schedule(recipe, 4523, 0.15)[2] == round(0.15 * 4523)
    early = SimpleNamespace(epochs=1, checkpoints=[0, 0.5], max_steps=0)  # the run ends where its last checkpoint is
    assert _schedule(early, 100, None) == (100, {0: 0, 50: 0.5}, 50)
    assert _schedule(SimpleNamespace(epochs=1, checkpoints=[0, 1], max_steps=7), 100, None)[2] == 7  # the cap


def test_paper_preset_smoke_on_cpu_with_a_step_cap(tmp_path):
    """The paper preset builds its 27.7M model and trains under a step cap on CPU.

    Batch and corpus are shrunk (the tokenizer keeps the paper preset's 16384 tokens) so
    that this stays a smoke test; the paper's schedule itself is meant for a GPU.
    """
    from taskspace_core.config import load_preset

    config = load_preset("paper", {"work_dir": str(tmp_path), "pretrain.max_steps": 2,
                                   "pretrain.batch_size": 2, "pretrain.seq_len": 32,
                                   "pretrain.val_blocks": 2, "tokenizer.max_train_chars": 2_000_000})
    done = pretrain(config, "small", tmp_path / "small", **QUIET)
    meta = json.loads((done[0] / "meta.json").read_text())
    assert done[0].name == "epoch-0" and 27e6 < meta["n_parameters"] < 28.5e6
    assert json.loads((tmp_path / "small" / "train_log.jsonl").read_text().splitlines()[-1])["step"] == 2


def test_a_retrain_keeps_the_label_its_committed_record_carries(ci_config, ci_checkpoints, tmp_path):
    """A preset renamed after its checkpoints were committed (``cpu`` was ``cpu-next``): a
    bit-identical retrain is recorded under the committed label, so the spaces computed from it
    carry the keys the plan looks up. A record of another run does not lend its label."""
    from taskspace_core.lm.identity import checkpoint_identity, model_identity

    committed = tmp_path / "results" / "ci" / "models" / "small"
    committed.mkdir(parents=True)
    record = json.loads((ci_checkpoints[0] / "meta.json").read_text())
    (committed / "epoch-0.json").write_text(json.dumps(record | {"preset": "ci-old"}))
    (committed / "epoch-0.5.json").write_text(json.dumps(record | {"preset": "ci-old", "pretrain_hash": "other"}))
    config = apply_overrides(ci_config, {"work_dir": str(tmp_path / "runs"), "results_dir": str(tmp_path / "results")})
    done = pretrain(config, "small", until_epoch=0.5, **QUIET)
    assert model_identity(done[0]) == checkpoint_identity(record | {"preset": "ci-old"})
    assert model_identity(done[1])["preset"] == "ci"
    # a checkpoint trained before the fix, labelled with today's name: found under the committed
    # label, and given it when a space is about to be computed from it
    from taskspace_core.lm.checkpoints import find_checkpoint_meta
    from taskspace_core.lm.pretrain import ensure_checkpoint

    meta_file = done[0] / "meta.json"
    meta_file.write_text(json.dumps(json.loads(meta_file.read_text()) | {"preset": "ci"}))
    assert find_checkpoint_meta(config, "small", 0)["preset"] == "ci-old"
    assert model_identity(ensure_checkpoint(config, "small", 0, log=lambda *_: None))["preset"] == "ci-old"


def test_a_bit_identical_retrain_is_read_as_its_committed_record(ci_config, ci_checkpoints, tmp_path):
    """The book's run costs (ladder hours, stages, cost rates) read ``wall_time_s`` through
    find_checkpoint_meta: a retrain on a new machine with the committed bytes but another wall time
    must not change them. A local checkpoint whose files differ is its own record."""
    from taskspace_core.lm.checkpoints import find_checkpoint_meta

    committed = tmp_path / "results" / "ci" / "models" / "small"
    committed.mkdir(parents=True)
    record = json.loads((ci_checkpoints[0] / "meta.json").read_text())
    (committed / "epoch-0.json").write_text(json.dumps(record | {"wall_time_s": 12345.0, "host": {"cpus": 99}}))
    config = apply_overrides(ci_config, {"work_dir": str(tmp_path / "runs"), "results_dir": str(tmp_path / "results")})
    done = pretrain(config, "small", until_epoch=0, **QUIET)
    assert json.loads((done[0] / "meta.json").read_text())["wall_time_s"] != 12345.0
    found = find_checkpoint_meta(config, "small", 0)
    assert (found["wall_time_s"], found["host"]) == (12345.0, {"cpus": 99})
    meta_file = done[0] / "meta.json"  # the same run, epoch and step, other bytes: the local record, committed label
    local = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps(local | {"files": {**local["files"], "model.safetensors": "0" * 64}}))
    found = find_checkpoint_meta(config, "small", 0)
    assert found["wall_time_s"] == local["wall_time_s"] and found["preset"] == record["preset"]


def test_a_retrain_that_does_not_reproduce_its_committed_checkpoint_stops_there(ci_config, ci_checkpoints, tmp_path):
    """Other weights at a committed checkpoint of the same run (another CPU's kernels) stop the
    retrain at that checkpoint, naming both machines, before it trains on or leaves a checkpoint
    that a space could be computed from; the untrained checkpoint, which matches, stays."""
    from taskspace_core.errors import DataError

    committed = tmp_path / "results" / "ci" / "models" / "small"
    committed.mkdir(parents=True)
    first, trained = (json.loads((c / "meta.json").read_text()) for c in ci_checkpoints[:2])
    (committed / "epoch-0.json").write_text(json.dumps(first))
    other = trained | {"files": {**trained["files"], "model.safetensors": "0" * 64},
                       "host": {"cpus": 2, "cpu": "Some CPU", "matmul_flags": ["amx_bf16"]}}
    (committed / f"{ci_checkpoints[1].name}.json").write_text(json.dumps(other))
    config = apply_overrides(ci_config, {"work_dir": str(tmp_path / "runs"), "results_dir": str(tmp_path / "results")})
    with pytest.raises(DataError, match=r"retrained weights differ .* model.safetensors.*committed from Some CPU \(amx_bf16\)"):
        pretrain(config, "small", **QUIET)
    run = tmp_path / "runs" / "ci" / "models" / "small"
    assert [c.name for c in list_checkpoints(run)] == ["epoch-0"]
    assert json.loads((run / "train_log.jsonl").read_text().splitlines()[-1])["step"] <= trained["step"]  # no further
    alone = apply_overrides(config, {"results_dir": ""})  # without the committed results: trains on
    assert [c.name for c in pretrain(alone, "small", **QUIET)] == [c.name for c in ci_checkpoints]


def test_a_checkpoint_needed_early_in_training_is_trained_only_that_far(ci_config, ci_checkpoints, tmp_path):
    """A space of the untrained network (or of any earlier checkpoint) pretrains no further than it."""
    from taskspace_core.lm.pretrain import ensure_checkpoint

    config = apply_overrides(ci_config, {"work_dir": str(tmp_path)})
    path = ensure_checkpoint(config, "small", 0.5, **QUIET)
    assert [c.name for c in list_checkpoints(path.parent)] == ["epoch-0", "epoch-0.5"]
    assert json.loads((path / "meta.json").read_text())["files"] == json.loads(
        (ci_checkpoints[1] / "meta.json").read_text())["files"]
    assert ensure_checkpoint(config, "small", "final", **QUIET).name == "epoch-1"  # resumed from there


def test_a_run_taken_only_to_its_initialisation_has_an_empty_curve_with_its_columns(tmp_path):
    import pandas as pd

    from taskspace_core.lm.checkpoints import CURVE_COLUMNS, dedupe_curve

    (tmp_path / "train_log.jsonl").write_text("")
    curve = dedupe_curve(pd.read_json(tmp_path / "train_log.jsonl", lines=True))
    assert curve.empty and tuple(curve.columns) == CURVE_COLUMNS
    logged = pd.DataFrame({"step": [2, 1, 2], "loss": [3.0, 4.0, 2.5], "lr": 1e-3, "tokens": [64, 32, 64], "wall_s": 1.0})
    assert dedupe_curve(logged).step.tolist() == [1, 2] and dedupe_curve(logged).loss.tolist() == [4.0, 2.5]
