"""BLiMP accuracy of checkpoints: per-pair scores written once, read back, and set beside BLiMP's baselines."""

import json

import numpy as np
import pandas as pd
import pytest

from taskspace_core.analysis import accuracy
from taskspace_core.analysis.accuracy import paradigm_summary
from taskspace_core.cli import main
from taskspace_core.engine import blimp_scores


def test_baselines_reproduce_blimps_overall_means():
    table = accuracy.baselines()
    # BLiMP's own summary row (data/blimp_baselines/README.md): 5-gram 0.612, LSTM 0.698, TXL 0.696, GPT-2 0.830
    np.testing.assert_allclose(table.loc["overall"].to_numpy(), [0.612, 0.698, 0.696, 0.830], atol=6e-4)
    assert len(table) == 13 and table.loc["ARG-S"].notna().all()  # 12 phenomena + overall
    assert set(accuracy.baselines("13").index) >= {"S-SEL", "overall"}


@pytest.mark.slow
def test_checkpoint_scores_are_exported_once_and_give_the_accuracy(ci_config, ci_checkpoints, tmp_path):
    final = ci_checkpoints[-1]
    target = blimp_scores.export_checkpoint_scores(ci_config, final, tmp_path)
    scores = accuracy.load_checkpoint_scores(tmp_path, "small", final.name)
    assert target.is_file() and len(scores) == ci_config.data.n_test * len(ci_config.data.paradigms)
    info = json.loads(target.with_name(f"{final.name}.blimp.json").read_text())
    per_paradigm = paradigm_summary(scores)
    assert info["mean_accuracy"] == pytest.approx(per_paradigm.accuracy.mean())
    assert info["scoring"]["precision"] == "fp32" and info["pretrain_hash"]
    # the scores are the exact scorer's (6 decimals in the file)
    direct = blimp_scores.score_checkpoint(ci_config, final)
    np.testing.assert_allclose(scores.logp_good, direct.logp_good, atol=1e-6)
    before = target.stat().st_mtime_ns
    blimp_scores.export_checkpoint_scores(ci_config, final, tmp_path)  # the same checkpoint: not rescored
    assert target.stat().st_mtime_ns == before
    table = accuracy.accuracy_table({"small": scores})
    assert table.loc["overall", "small"] == pytest.approx(per_paradigm.accuracy.mean())
    assert table.loc["overall", "ngram"] == pytest.approx(0.612, abs=6e-4)


def test_accuracy_command_writes_results_and_prints_the_table(ci_config, ci_checkpoints, tmp_path, capsys):
    code = main(["accuracy", "--preset", "ci", "--size", "small", "--work_dir", ci_config.work_dir,
                 "--results_dir", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "overall" in out and "ngram" in out
    written = sorted(p.name for p in (tmp_path / "ci" / "models" / "small").iterdir())
    assert "epoch-1.blimp.csv.gz" in written and "epoch-1.json" in written and "train_log.csv" in written
    assert (tmp_path / "ci" / "meta.json").is_file()


def test_score_model_called_as_a_library_function_with_its_defaults(ci_config, ci_checkpoints, tmp_path):
    scores, meta = blimp_scores.score_model(ci_config, ci_checkpoints[-1], tmp_path / "s.csv",
                                        paradigms=["anaphor_gender_agreement"])
    assert len(scores) == ci_config.data.n_test == meta["n_pairs"]
    assert set(scores.phenomenon) == {"A-AGR"} and meta["scoring"]["precision"] == "fp32"
    assert (tmp_path / "s.meta.json").is_file() and (tmp_path / "s.csv").is_file()


def test_the_ladder_check_reads_every_seed_and_finds_cpus_large_step_missing_both_targets():
    """cpu's committed records: three seeds of small and medium, one of large. The loss step from
    medium to large rises (the large model is the worse language model), so it misses its target,
    and so does BLiMP's paired step; each step's numbers are the records' and the per-pair files'."""
    from taskspace_core.analysis.ladder import is_ladder, ladder_table
    from taskspace_core.config import load_preset
    from taskspace_core.paths import REPO_ROOT

    table = ladder_table(load_preset("cpu"))
    assert list(table.index) == ["small", "medium", "large"] and list(table.seeds) == [3, 3, 1]
    models = REPO_ROOT / "results" / "cpu" / "models"
    medium = [json.loads((models / run / "epoch-0.5.json").read_text())["val_loss"]
              for run in ("medium", "medium-seed1", "medium-seed2")]
    assert table.loc["medium", "val loss"] == pytest.approx(np.mean(medium))
    assert table.loc["medium", "val loss band"] == pytest.approx(max(medium) - min(medium))
    assert table.loc["large", "loss step"] > 0 and table.loc["large", "loss target"] == "missed"
    # large has one seed: its step borrows the widest band measured (small's or medium's)
    assert table.loc["large", "loss step band"] == pytest.approx(table["val loss band"].max())
    correct = {size: accuracy.load_checkpoint_scores(REPO_ROOT / "results" / "cpu", size, "epoch-0.5")
               .set_index(["paradigm", "pair_id"]).eval("logp_good > logp_bad").astype(float)
               for size in ("medium", "large")}
    difference = correct["large"] - correct["medium"]
    assert len(difference) == 6700 and table.loc["large", "BLiMP step"] == pytest.approx(difference.mean())
    assert table.loc["large", "BLiMP step se"] == pytest.approx(difference.std() / np.sqrt(6700))
    assert table.loc["large", "BLiMP target"] == "missed" and not is_ladder(table)
    assert table.loc["medium", "BLiMP"] == pytest.approx(correct["medium"].mean())


def test_the_methods_chapter_states_the_staging_ladder_its_records_measure():
    """The methods chapter's account of `cpu-next` as trained (losses, BLiMP, steps, their standard
    errors and which targets they meet, the BLiMP-per-nat line) is what `ladder_table` and
    `blimp_per_nat` read from the committed records."""
    from taskspace_core.analysis.ladder import _runs, blimp_per_nat, ladder_table
    from taskspace_core.config import load_preset
    from taskspace_core.paths import REPO_ROOT

    config = load_preset("cpu-next")
    table = ladder_table(config)
    methods = " ".join((REPO_ROOT / "book" / "methods.md").read_text().split())
    loss, blimp = table["val loss"], table["BLiMP"]
    steps, accuracy_steps = table["loss step"].iloc[1:], table["BLiMP step"].iloc[1:]
    z = accuracy_steps / table["BLiMP step se"].iloc[1:]
    assert list(table["loss target"].iloc[1:]) == ["met", "met"]
    assert "the larger model is the better language model at both steps" in methods
    assert list(table["BLiMP target"].iloc[1:]) == ["met", "missed"]
    assert "so the second step misses its BLiMP target" in methods
    assert (f"Validation loss at 0.75 epoch is {loss['small']:.3f} (small, three seeds, band "
            f"{table.loc['small', 'val loss band']:.3f}), {loss['medium']:.3f} (medium") in methods
    assert (f"and {loss['large']:.3f} (large, three seeds, band "
            f"{table.loc['large', 'val loss band']:.3f})") in methods
    assert list(table["seeds"]) == list(table["BLiMP seeds"]) == [3, 3, 3]
    assert f"({-steps.iloc[0]:.3f} and {-steps.iloc[1]:.3f} nats)" in methods
    assert f"{blimp['small']:.3f}, {blimp['medium']:.3f} and {blimp['large']:.3f}" in methods

    def signed(value: float, digits: int) -> str:  # the chapter's typography: a true minus sign
        return f"{value:+.{digits}f}".replace("-", "\u2212")

    assert (f"{signed(accuracy_steps.iloc[0], 3)} and {signed(accuracy_steps.iloc[1], 3)} at "
            f"{z.iloc[0]:.2f} and {signed(z.iloc[1], 2).lstrip('+')} standard errors") in methods
    bands = table["BLiMP band"]
    assert (f"spread {bands['small']:.3f} (small), {bands['medium']:.3f} (medium) and "
            f"{bands['large']:.3f} (large) on BLiMP") in methods
    hours = table["hours per run"]
    assert (f"{hours['small']:.2f} h (small), {hours['medium']:.2f} h (medium) and "
            f"{hours['large']:.2f} h (large") in methods
    fit = json.loads((REPO_ROOT / "benchmarks" / "results" / "scaling_fit_cpu_scaled-k0.5.json").read_text())["fit"]
    priced = pd.Series(fit["chosen"]["hours_one_seed"], index=table.index)
    assert "against the {:.2f}, {:.2f} and {:.2f} h the rule priced".format(*priced) in methods
    assert (f"small took {hours['small'] / priced['small']:.2f} times as long as priced, medium and large "
            f"{priced['medium'] / hours['medium']:.2f} and {priced['large'] / hours['large']:.2f} times less") in methods
    assert f"take about {3 * hours.sum():.1f} hours against the {fit['chosen']['hours_three_seeds']:.1f} priced" in methods
    assert "against the fit's {:.3f}, {:.3f} and {:.3f}".format(*fit["chosen"]["predicted_val_loss"]) in methods
    by_seed = [meta["wall_time_s"] / 3600 for meta, _ in _runs(config, "large", "final")]
    assert f"{by_seed[0]:.2f}, {by_seed[1]:.2f} and {by_seed[2]:.2f} h by seed" in methods
    slope, intercept, runs = blimp_per_nat(config)
    assert runs == 9 and "Over the nine final runs" in methods
    assert (f"BLiMP rises only about {-slope:.2f} per nat of validation loss, so the {-steps.iloc[1]:.3f}-nat "
            f"step to large predicts about {slope * steps.iloc[1]:.3f} on BLiMP") in methods
    assert f"0.64 needs a loss near {(0.64 - intercept) / slope:.2f}" in methods


def test_the_ladders_blimp_step_splits_by_phenomenon():
    """`phenomenon_steps`' overall row is the ladder's BLiMP and its paired steps, and each
    phenomenon's row is the same reading of its own test pairs (IRR-F recomputed here)."""
    from taskspace_core.analysis.ladder import _runs, ladder_table, phenomenon_steps
    from taskspace_core.config import load_preset

    config = load_preset("cpu-next")
    table, ladder = phenomenon_steps(config), ladder_table(config)
    assert list(table.columns) == ["small", "medium", "large", "small → medium", "small → medium se",
                                   "medium → large", "medium → large se"]
    assert len(table) == 13 and table.index[-1] == "overall"
    for size in ("small", "medium", "large"):
        assert table.loc["overall", size] == pytest.approx(ladder.loc[size, "BLiMP"])
    assert table.loc["overall", "medium → large"] == pytest.approx(ladder.loc["large", "BLiMP step"])
    assert table.loc["overall", "medium → large se"] == pytest.approx(ladder.loc["large", "BLiMP step se"])

    def irr_f(size):  # each IRR-F test pair's accuracy, averaged over the size's seeds
        scores = [s.set_index(["paradigm", "pair_id"]) for _, s in _runs(config, size, "final")]
        correct = pd.concat([s[s.index.get_level_values(0).str.startswith("irregular_past_participle")]
                             .eval("logp_good > logp_bad").astype(float) for s in scores], axis=1)
        return correct.mean(axis=1)

    difference = irr_f("large") - irr_f("medium")
    assert table.loc["IRR-F", "large"] == pytest.approx(irr_f("large").mean())
    assert table.loc["IRR-F", "medium → large"] == pytest.approx(difference.mean())
    assert table.loc["IRR-F", "medium → large se"] == pytest.approx(difference.std() / np.sqrt(len(difference)))


def test_the_accuracy_command_prints_the_ladder_check_of_all_sizes(monkeypatch, capsys):
    """With every size, `taskspace accuracy` ends with the ladder table and its one-line reading
    (scoring is skipped here: cpu's checkpoints are committed as records, not weights)."""
    monkeypatch.setattr(blimp_scores, "export_accuracy", lambda *args, **kwargs: None)
    assert main(["accuracy", "--preset", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "The size ladder at the final checkpoint" in out and "2 seed bands" in out
    assert out.rstrip().endswith("not a ladder: a step misses a target") and "missed" in out


def test_pretrain_and_accuracy_take_every_seed_of_a_ladder(tmp_path, capsys):
    """`--seeds 0,1` trains and scores one run per seed (seed 0 keeps the size's name, seed 1 is
    `<size>-seed1`); a bad seed list or `--out` with several seeds is refused before any training."""
    short = ["--preset", "ci", "--size", "small", "--work_dir", str(tmp_path / "runs"),
             "--pretrain.epochs", "0.01", "--pretrain.checkpoints", "0,0.01"]
    assert main(["pretrain", *short, "--seeds", "0,1"]) == 0
    out = capsys.readouterr().out
    assert "small seed 0: 2 checkpoints" in out and "small seed 1: 2 checkpoints" in out
    runs = tmp_path / "runs" / "ci" / "models"
    assert sorted(p.name for p in runs.iterdir()) == ["small", "small-seed1"]
    assert main(["accuracy", *short, "--seeds", "0,1", "--checkpoint", "final",
                 "--results_dir", str(tmp_path / "results")]) == 0
    out = capsys.readouterr().out
    assert "of seed 0 beside" in out and "of seed 1 beside" in out
    scored = tmp_path / "results" / "ci" / "models"
    assert all((scored / run / "epoch-0.01.blimp.csv.gz").is_file() for run in ("small", "small-seed1"))
    assert main(["pretrain", *short, "--seeds", "0,one"]) == 2 and main(["pretrain", *short, "--seeds", ","]) == 2
    assert main(["pretrain", *short, "--seeds", "0,1", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "--seeds: '0,one'" in err and "--out holds one seed's models" in err and not (tmp_path / "x").exists()
