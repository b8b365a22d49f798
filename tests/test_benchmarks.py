"""The benchmark command runs end to end on the `ci` models (its numbers are not checked: speed is
measured by benchmarks/, never in a timed test)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from taskspace_core.paths import REPO_ROOT


@pytest.mark.slow
def test_speed_benchmark_runs_and_checks_scores_against_the_reference(ci_config, ci_checkpoints, tmp_path):
    out = tmp_path / "speed.json"
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "speed.py"), "--preset", "ci", "--sizes", "small",
         "--work-dir", ci_config.work_dir, "--finetunes", "1", "--minicons-pairs", "20", "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    (row,) = result["sizes"]
    scoring = row["scoring"]
    assert scoring["model"].endswith("small/epoch-1") and scoring["pairs"] == 8 * ci_config.data.n_test
    assert scoring["reference_max_abs_diff"] < 1e-5  # the batched scorer agrees with one-at-a-time scoring
    assert 0 < scoring["gflops"] and row["finetune"]["paradigms"] == 1 and row["projected_space_s"] > 0
    assert scoring["peak_rss_mb"] > 50 and result["matmul"]["ceiling_gflops"] > 0
    if "skipped" not in row["minicons"]:  # minicons lives in the benchmark environment only
        assert row["minicons"]["agrees_within_1e-4"]
    assert result["git_commit"] and "torch" in result["packages"]


def test_the_guides_exercise_timings_were_measured_on_todays_preset():
    """The seminar guides and the chapters quote the exercises' run times: they must be the current preset's."""
    from taskspace_core.book.exercises import PRESET, TIMINGS
    from taskspace_core.config import preset_hash

    current = preset_hash(PRESET)
    end_to_end = json.loads((REPO_ROOT / "benchmarks" / "results" / f"speed_{PRESET}_end_to_end.json").read_text())
    assert end_to_end["end_to_end"]["preset_hash"] == current, f"re-run benchmarks/speed.py --end-to-end {PRESET}"
    timings = json.loads(TIMINGS.read_text())
    stale = [r["id"] for r in timings["exercises"] if r.get("preset_hash") != current]
    assert not stale, f"re-run benchmarks/exercises.py for {stale}"


def test_the_readmes_render_time_is_the_measured_one():
    """The README's "the build takes about N minutes" for the default book is the last measurement
    of it (benchmarks/speed.py --sizes= --end-to-end cpu), on today's cpu preset."""
    import re

    from taskspace_core.config import preset_hash

    measured = json.loads((REPO_ROOT / "benchmarks" / "results" / "speed_cpu_end_to_end.json").read_text())["end_to_end"]
    assert measured["returncode"] == 0 and measured["preset_hash"] == preset_hash("cpu"), \
        "re-run benchmarks/speed.py --sizes= --end-to-end cpu --out benchmarks/results/speed_cpu_end_to_end.json"
    stated = re.search(r"build\s+takes about (\d+) minutes", (REPO_ROOT / "README.md").read_text())
    assert stated and int(stated.group(1)) == round(measured["seconds"] / 60)


def test_the_readmes_tiny_minutes_and_reproduce_hours_are_the_measured_ones():
    """The README's time for `PRESET=tiny bash scripts/main.sh` is the stored end-to-end run of
    tiny, and its hours for `taskspace reproduce --preset cpu` are the stage times recorded in the
    committed cpu results (the reproducing chapter's total); the `cpu-v1` row's, those of results/cpu-v1."""
    import re

    from taskspace_core.book.measurements import end_to_end_minutes
    from taskspace_core.config import load_preset
    from taskspace_core.plan.stages import run_stages

    readme = " ".join((REPO_ROOT / "README.md").read_text().split())
    tiny = re.search(r"about (\d+) minutes, measured by `benchmarks/speed.py --end-to-end tiny`", readme)
    assert tiny and int(tiny.group(1)) == round(end_to_end_minutes("tiny"))
    hours = re.search(r"reproduce --preset cpu` regenerates the reference results themselves \(about ([\d.]+) hours", readme)
    assert hours and float(hours.group(1)) == round(run_stages(load_preset("cpu")).minutes.sum() / 60, 1)
    # the presets table says the same
    assert f"about {tiny.group(1)} min for the whole book" in readme
    assert f"`taskspace reproduce`: about {hours.group(1)} h" in readme
    replaced = re.search(r"\| `cpu-v1` \|[^\n]*`taskspace reproduce`: about ([\d.]+) h \|", (REPO_ROOT / "README.md").read_text())
    assert replaced and float(replaced.group(1)) == round(run_stages(load_preset("cpu-v1")).minutes.sum() / 60, 1)


def test_the_book_reads_the_space_cost_and_the_bf16_judgement_as_stored(tmp_path):
    from taskspace_core.book.measurements import precision_space, space_cost

    run, cost = space_cost("cpu")
    assert list(cost["size"]) == ["small", "medium", "large"]  # smallest first: the last row is the largest
    stored = json.loads((REPO_ROOT / "benchmarks" / "results" / "space_cost_cpu.json").read_text())["sizes"]
    for row in cost.to_dict("records"):
        assert row["before (min)"] == stored[row["size"]]["before_s"] / 60
        assert row["speed-up"] == stored[row["size"]]["before_s"] / stored[row["size"]]["after_s"]
    judged = precision_space("cpu", "medium")
    assert judged["bf16_accepted"] is (judged["largest_share_of_band"] < judged["rule"]["max_share_of_band"]
                                       and judged["similarity_pearson_r"] >= judged["rule"]["min_similarity_r"])
    assert precision_space("cpu", "medium", tmp_path) is None and space_cost("cpu", tmp_path)[1].empty


def load_benchmark(name: str):
    """The module of ``benchmarks/<name>.py`` (its siblings importable while it loads)."""
    import importlib.util

    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))  # scaling_fit imports its sibling recipe_sweep
    try:
        spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(REPO_ROOT / "benchmarks"))
    return module


def load_scaling_fit():
    return load_benchmark("scaling_fit")


def test_a_full_length_sweep_keeps_its_runs_and_the_presets_recipe_is_the_presets_own_run(
        ci_config, ci_checkpoints, tmp_path, capsys):
    """``recipe_sweep.py --keep-runs``: the variant with the preset's own recipe trains the very run
    the preset trains (same run hash, same weights), kept where the sweep says, so the chosen
    variant need not be trained again."""
    recipe_sweep = load_benchmark("recipe_sweep")
    out = tmp_path / "sweep.json"
    argv = ["--preset", "ci", "--size", "small", "--name", "full", "--variant", "pretrain.lr=3e-3", "--keep-runs",
            "--work-dir", ci_config.work_dir, "--out", str(out)]
    recipe_sweep.main(argv)
    printed = capsys.readouterr().out
    kept = Path(printed.split("its run: ")[1].split()[0])
    assert "the preset's own run: move it to" in printed
    assert [c.name for c in sorted(kept.glob("epoch-*"))] == [c.name for c in ci_checkpoints]  # the preset's schedule
    for a, b in zip(sorted(kept.glob("epoch-*")), ci_checkpoints, strict=True):
        meta_a, meta_b = (json.loads((c / "meta.json").read_text()) for c in (a, b))
        assert (meta_a["pretrain_hash"], meta_a["files"]) == (meta_b["pretrain_hash"], meta_b["files"])
    row = json.loads(out.read_text())["results"][0]
    assert row["val_loss"] == json.loads((ci_checkpoints[-1] / "meta.json").read_text())["val_loss"]
    recipe_sweep.main(argv)  # recorded: nothing is trained again
    assert "done before, kept" in capsys.readouterr().out
    assert recipe_sweep.own_run("ci", "small", "0123456789ab").startswith("not the preset's own run")
    with pytest.raises(SystemExit):
        recipe_sweep.main([*argv, "--resume-every", "0.5"])


def test_the_scaling_fit_recovers_a_known_law_and_resumes_on_even_points():
    """The fit behind the ladder's sizes: on losses drawn from a known L(N, D) (a grid like the
    real one), it returns that law's predictions; a point's resume checkpoints split its run evenly."""
    import numpy as np

    scaling_fit = load_scaling_fit()

    truth = {"E": 3.2, "A": 40.0, "alpha": 0.35, "B": 300.0, "beta": 0.4}
    n, d = np.meshgrid([0.4e6, 1.2e6, 2.5e6, 7e6], [2.3e6, 4.6e6, 9.2e6])
    n, d = n.ravel(), d.ravel()
    loss = np.array([scaling_fit.predict(truth, a, b) for a, b in zip(n, d)])
    law = scaling_fit.fit_loss(n, d, loss)
    assert law["rmse"] < 2e-3
    for size, tokens in [(7e6, 9.2e6), (20e6, 18.4e6)]:  # a grid point, and the ladder's extrapolation
        assert scaling_fit.predict(law, size, tokens) == pytest.approx(scaling_fit.predict(truth, size, tokens), abs=0.02)
    every = scaling_fit.RESUME_EVERY
    assert scaling_fit.resume_points(0.125, every) == "0,0.0625,0.125"
    assert scaling_fit.resume_points(0.5, every).split(",")[-1] == "0.5" and len(scaling_fit.resume_points(0.5, every).split(",")) == 9
    assert scaling_fit.resume_points(0.3, 0) == "0,0.3"  # no resuming: the start and the end, as a short sweep has
    assert scaling_fit.width_lr(384) == pytest.approx(1e-3)
    assert scaling_fit.width_lr(768, exponent=0.5) == pytest.approx(1e-3)  # 2e-3 * (192/768)^0.5
    # one grid per recipe: today's keeps its file, another init or rate rule gets its own
    assert scaling_fit.results_path("cpu").name == "scaling_fit_cpu.json"
    assert scaling_fit.results_path("cpu", "scaled", 0.5).name == "scaling_fit_cpu_scaled-k0.5.json"
    assert scaling_fit.parse_points("d192@0.25,d512@1") == [("d192", 0.25), ("d512", 1.0)]
    with pytest.raises(SystemExit, match="'d999@1' is not SHAPE@EPOCHS"):
        scaling_fit.parse_points("d192@0.25,d999@1")


def test_the_ladder_rule_takes_the_lowest_largest_loss_among_ladders_that_clear_its_bars(monkeypatch):
    """NOTES' rule, as code: within the budget, every step above 0.04 nats and the largest size
    still gaining more than 0.02 from 50% more tokens; then the lowest predicted loss of the
    largest size, with three seeds of every size only where that fits too."""
    scaling_fit = load_scaling_fit()
    config = scaling_fit.load_preset("cpu")
    monkeypatch.setattr(scaling_fit, "steps_per_epoch", lambda _: 4000)  # 16.4M tokens an epoch
    law = {"E": 3.5, "A": 60.0, "alpha": 0.3, "B": 400.0, "beta": 0.4}
    rates = [(3.3e6, 8000.0), (26e6, 1400.0)]
    ladders = scaling_fit.price_ladders(law, config, rates)
    assert {x["epochs"] for x in ladders} == set(scaling_fit.LADDER_EPOCHS)
    for ladder in ladders:
        params = ladder["parameters_m"]
        assert all(b / a >= 2.5 for a, b in zip(params, params[1:]))
        assert ladder["predicted_val_loss"] == sorted(ladder["predicted_val_loss"], reverse=True)  # A > 0: size helps
    chosen = scaling_fit.choose_ladder(ladders, budget_hours=12)
    within = [x for x in ladders if x["hours_three_seeds_one_largest"] <= 12]
    assert chosen is not None and chosen["hours_three_seeds_one_largest"] <= 12
    assert min(chosen["steps"]) > 0.04 and chosen["largest_gain_from_50pct_more_tokens"] > 0.02
    assert chosen["predicted_val_loss"][-1] == min(x["predicted_val_loss"][-1] for x in within
                                                   if min(x["steps"]) > 0.04 and x["largest_gain_from_50pct_more_tokens"] > 0.02)
    assert chosen["seeds"] == [3, 3, 3 if chosen["hours_three_seeds"] <= 12 else 1]
    # a ladder below a bar is never chosen, however low its largest loss
    best_overall = min(within, key=lambda x: x["predicted_val_loss"][-1])
    flat = {**best_overall, "predicted_val_loss": [*best_overall["predicted_val_loss"][:-1], 0.0], "steps": [0.5, 0.03]}
    assert scaling_fit.choose_ladder([flat, *ladders], budget_hours=12)["steps"] != [0.5, 0.03]
    assert scaling_fit.choose_ladder(ladders, budget_hours=0.01) is None
    # a cap on one run (a machine is not promised to outlive a session) rules out the ladders with a longer run
    cap = sorted(max(x["hours_one_seed"]) for x in ladders)[len(ladders) // 2]
    capped = scaling_fit.choose_ladder(ladders, budget_hours=12, max_run_hours=cap)
    assert capped is not None and max(capped["hours_one_seed"]) <= cap
    assert capped["predicted_val_loss"][-1] >= chosen["predicted_val_loss"][-1]


def test_a_scaling_grid_point_trains_the_shape_under_the_grids_recipe(ci_config):
    scaling_fit = load_scaling_fit()
    # (the session's ci work dir: its tokenizer, trained once, counts the steps of an epoch)
    config, size = scaling_fit.point_config("ci", "d384", 0.25, Path(ci_config.work_dir), init="scaled", exponent=0.5)
    assert config.size(size).d_model == 384 and config.size(size).n_layers == 6
    assert config.pretrain.init == "scaled" and config.pretrain.lr == pytest.approx(2e-3 * 0.5 ** 0.5)
    assert config.pretrain.epochs == 0.25 and config.pretrain.checkpoints[-1] == 0.25


def full_length_rows(size: str) -> list[dict]:
    """`cpu-next`'s full-length runs of ``size`` (`recipe_sweep.py --name lr_large_full --keep-runs`)."""
    path = REPO_ROOT / "benchmarks" / "results" / "recipe_sweep_cpu-next_lr_large_full.json"
    return [r for r in json.loads(path.read_text())["results"] if r["size"] == size and r.get("keep_runs")]


def full_length_rate(size: str) -> float | None:
    """The peak rate with the lowest validation loss among :func:`full_length_rows`, or None if none."""
    rows = full_length_rows(size)
    if not rows:
        return None
    best = min(rows, key=lambda r: r["val_loss"])
    return float(best["variant"][f"pretrain.lr_by_size.{size}"])


def test_the_staging_ladder_is_the_one_the_scaling_fit_chose():
    """`cpu-next`'s sizes, token count and peak rates are the committed fit's choice under its
    grid's recipe (scaled init, rate 2e-3 · (192 / d)^0.5), not numbers typed by hand; the
    largest size's rate is the one with the lower validation loss in its full-length check."""
    scaling_fit = load_scaling_fit()
    record = json.loads(scaling_fit.results_path("cpu", "scaled", 0.5).read_text())
    chosen = record["fit"]["chosen"]
    config = scaling_fit.load_preset("cpu-next")
    assert config.pretrain.init == record["init"] == "scaled"
    assert config.pretrain.epochs == chosen["epochs"] and config.pretrain.checkpoints[-1] == chosen["epochs"]
    for size, shape in zip(config.sizes, chosen["shapes"]):
        d, layers, heads, mlp = scaling_fit.SHAPES[shape]
        spec = config.size(size)
        assert (spec.d_model, spec.n_layers, spec.n_heads, spec.d_mlp) == (d, layers, heads, mlp)
        checked = full_length_rate(size)
        expected = scaling_fit.width_lr(d, 0.5) if checked is None else checked
        assert config.pretrain.lr_by_size[size] == pytest.approx(expected, rel=1e-3)
    assert 1 + len(config.book.pretrain_seeds) == chosen["seeds"][0]  # `--seeds all`: the smaller sizes' three


def test_the_methods_chapter_states_every_full_length_rate_check():
    """Each full-length run of the largest size's rate appears in the methods chapter with its
    rate and final validation loss as the committed sweep file has them, so the chapter's account
    of how the rate was chosen cannot drift from the runs (or leave one out)."""
    loss_by_rate = {r["variant"]["pretrain.lr_by_size.large"]: r["val_loss"] for r in full_length_rows("large")}
    methods = " ".join((REPO_ROOT / "book" / "methods.md").read_text().split())
    assert len(loss_by_rate) >= 3
    for rate, loss in loss_by_rate.items():
        assert f"{loss:.3f} at" in methods and rate in methods, (rate, loss)
    assert f"the large size trains at {min(loss_by_rate, key=loss_by_rate.get)}" in methods
