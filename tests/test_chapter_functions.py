"""The computations the chapters show, each on inputs whose answer is known.

The notebooks only load, call and plot; every number they show comes from one of these
functions (a notebook cell defines nothing).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from taskspace_core.corpora.benchmarks import selected_paradigms
from taskspace_core.analysis.accuracy import final_scores, learning_curves, paradigm_summary
from taskspace_core.analysis.statistics import seed_spread
from taskspace_core.analysis.paper import agreement_table, agreement_with_paper, paper_within_table
from taskspace_core.analysis.report import (
    accuracy_by_phenomenon, component_density, depth_profile, dynamics_table, headline_row, scale_trend,
    setting_table, size_table, trend,
)
from taskspace_core.book.measurements import (
    RESULTS_DIR, end_to_end_minutes, end_to_end_runs, matmul_ceilings, packing_saves, recipe_sweeps,
    speed_rows, throughput, throughput_change,
)
from taskspace_core.config import load_preset
from taskspace_core.corpora import blimp, pairs
from taskspace_core.plan.cost import (
    Workload, achieved_rates, budget_in_time, measured_workload, preset_budget,
)
from taskspace_core.plan.stages import preset_overview, run_stages

# --------------------------------------------------------------------------- BLiMP pairs


@pytest.mark.parametrize("good, bad, kind", [
    ("The cat sleeps.", "The cat sleep.", "substitution of 1 word(s)"),
    ("Who did you see?", "Who you did see?", "reordering"),
    ("She saw him.", "She saw.", "insertion/deletion"),
    ("A dog ate the bone.", "A cats eats the bone.", "substitution of 2 word(s)"),
    ("one two three four", "uno dos tres four", "substitution of 3 word(s)"),
])
def test_difference_kind_reads_a_pair_word_by_word(good, bad, kind):
    assert pairs.difference_kind(good, bad) == kind


def test_difference_kinds_cover_every_pair_and_pool_long_substitutions():
    paradigms = blimp.load_blimp(None, ["anaphor_gender_agreement", "wh_questions_object_gap"])
    kinds = blimp.difference_kinds(paradigms)
    assert len(kinds) == sum(len(p.pairs) for p in paradigms.values())
    assert set(kinds.phenomenon) == {"A-AGR", "FG-DEP"}
    counts = kinds.kind.str.extract(r"substitution of (\d+) word", expand=False).dropna().astype(int)
    assert counts.max() <= 2 and (kinds.kind == "substitution of 3+ words").any()  # 3 or more are pooled


# --------------------------------------------------------------------------- masks


def _space_with_masks():
    # two sources; embeddings (layer -1), two blocks (0, 1) and the final norm (layer 2)
    rows = []
    for source in ("p", "q"):
        rows += [{"source": source, "parameter": "embed", "layer": -1, "component": "embedding", "numel": 100, "n_masked": 10},
                 {"source": source, "parameter": "l0.attn", "layer": 0, "component": "attention", "numel": 50, "n_masked": 25},
                 {"source": source, "parameter": "l1.mlp", "layer": 1, "component": "mlp", "numel": 50, "n_masked": 5},
                 {"source": source, "parameter": "norm", "layer": 2, "component": "norm", "numel": 10, "n_masked": 10}]
    return SimpleNamespace(mask_tables=pd.DataFrame(rows))


def test_depth_profile_puts_blocks_between_embeddings_and_the_final_norm():
    profile = depth_profile(_space_with_masks(), n_layers=2).set_index("layer")
    assert profile.depth.to_dict() == {-1: -0.1, 0: 0.25, 1: 0.75, 2: 1.1}
    assert profile.density.to_dict() == {-1: 0.1, 0: 0.5, 1: 0.1, 2: 1.0}  # summed over both sources


def test_component_density_is_the_masked_share_per_component():
    density = component_density(_space_with_masks()).set_index("component").density
    assert density.to_dict() == {"attention": 0.5, "embedding": 0.1, "mlp": 0.1, "norm": 1.0}


# --------------------------------------------------------------------------- headlines over checkpoints


def _analysis(similarity, r=0.2, share=0.3, union=0.5):
    headline = SimpleNamespace(hypothesis_pearson=r, hypothesis_spearman=r, partial_mantel_r=r, mantel_p=0.01,
                               mask_share_mean=share, mask_union_share=union,
                               diagonal_transfer={"accuracy": 0.25}, off_diagonal_transfer={"margin": -0.01},
                               within_mean=0.3, between_mean=0.1)
    mask_within_summary = pd.DataFrame({"mean": {"within": 0.4, "between": 0.2}})
    return SimpleNamespace(similarity=similarity, headline=headline, mask_within_summary=mask_within_summary)


def test_dynamics_table_compares_each_checkpoint_with_the_previous_and_the_final_one():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(6, 6))
    base = base + base.T
    spaces = {0.0: (None, _analysis(base, union=0.2)), 0.5: (None, _analysis(-base, union=0.3)),
              1.0: (None, _analysis(-base, union=0.4))}
    meta = {e: {"tokens_seen": int(e * 1000)} for e in spaces}
    table = dynamics_table(spaces, meta)
    assert list(table.index) == [0.0, 0.5, 1.0]
    assert np.isnan(table.loc[0.0, "vs previous checkpoint"])
    assert table.loc[0.5, "vs previous checkpoint"] == pytest.approx(-1.0)
    assert table.loc[1.0, "vs previous checkpoint"] == pytest.approx(1.0)
    assert table["vs final checkpoint"].tolist() == pytest.approx([-1.0, 1.0, 1.0])
    assert table["union of masks"].tolist() == [0.2, 0.3, 0.4]
    assert table["mask overlap within"].tolist() == [0.4] * 3


def _with_within(analysis, means):
    """``analysis`` with a per-phenomenon within table whose means are ``means`` ({phenomenon: mean})."""
    analysis.within = pd.DataFrame({"mean": means})
    analysis.within_table = lambda: analysis.within
    return analysis


def test_setting_table_measures_each_setting_against_the_default():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(5, 5))
    base = base + base.T
    table = setting_table(_analysis(base), {"same": _analysis(base, share=0.05), "flipped": _analysis(-base, r=-0.3)})
    assert list(table.index) == ["same", "flipped"]
    assert table["agreement with default"].tolist() == pytest.approx([1.0, -1.0])
    assert table.loc["same", "parameters updated"] == 0.05 and table.loc["flipped", "r with hypothesis"] == -0.3


def test_seed_spread_is_the_noise_floor_of_one_checkpoint():
    rng = np.random.default_rng(2)
    base = rng.normal(size=(5, 5))
    base = base + base.T
    noisy = base + rng.normal(scale=0.5, size=(5, 5))
    by_seed = {0: _with_within(_analysis(base, r=0.1), {"A": 0.2, "B": 0.4}),
               1: _with_within(_analysis(base, r=0.3), {"A": 0.4, "B": 0.4}),
               2: _with_within(_analysis(noisy + noisy.T, r=0.2), {"A": 0.3, "B": 0.1})}
    spread = seed_spread(by_seed)
    assert 0 < spread.agreement < 1 and spread.change == pytest.approx(1 - spread.agreement)
    assert spread.hypothesis_r_mean == pytest.approx(0.2) and spread.hypothesis_r_std == pytest.approx(np.std([0.1, 0.3, 0.2]))
    assert spread.within_mean_sd == pytest.approx(np.std([0.3, 0.4, 0.2], ddof=1))  # means over phenomena per seed
    assert list(spread.within.columns) == ["seed 0", "seed 1", "seed 2", "std over seeds"]
    assert spread.within.loc["B", "std over seeds"] == pytest.approx(np.std([0.4, 0.4, 0.1]))
    one = seed_spread({0: by_seed[0]})
    assert np.isnan(one.agreement) and np.isnan(one.within_mean_sd) and one.hypothesis_r_std == 0


def test_scale_trend_follows_size_order():
    final = {"s": _with_within(_analysis(np.eye(3), r=0.1), {"A": 0.1}),
             "m": _with_within(_analysis(np.eye(3), r=0.2), {"A": 0.5}),
             "l": _with_within(_analysis(np.eye(3), r=0.3), {"A": 0.3})}
    trend = scale_trend(final, {"s": 1.0, "m": 2.0, "l": 4.0})
    assert list(trend.index) == ["s", "m", "l"] and trend["parameters (M)"].tolist() == [1.0, 2.0, 4.0]
    assert trend["within - between"].tolist() == pytest.approx([0.2] * 3)


def test_accuracy_by_phenomenon_averages_each_spaces_base_accuracy():
    space = SimpleNamespace(eval1=pd.DataFrame({"accuracy": [1.0, 0.0, 0.5, 1.0]}), phenomena=["A", "A", "B", "B"])
    worse = SimpleNamespace(eval1=pd.DataFrame({"accuracy": [0.0, 0.0, 0.5, 0.5]}), phenomena=["A", "A", "B", "B"])
    table = accuracy_by_phenomenon({0.5: space, 1.0: worse}, "epoch")
    assert table.to_dict("records") == [{"phenomenon": "A", "accuracy": 0.5, "epoch": 0.5},
                                        {"phenomenon": "B", "accuracy": 0.75, "epoch": 0.5},
                                        {"phenomenon": "A", "accuracy": 0.0, "epoch": 1.0},
                                        {"phenomenon": "B", "accuracy": 0.5, "epoch": 1.0}]


def test_size_table_and_trend():
    analyses = {"s": _analysis(np.eye(3), r=0.1), "m": _analysis(np.eye(3), r=0.3)}
    for an in analyses.values():
        an.headline.hypothesis_spearman, an.headline.partial_mantel_r = 0.0, 0.0
    table = size_table(analyses, {"s": 1.5, "m": 3.0})
    assert list(table.index) == ["s", "m"] and table["r (Pearson)"].tolist() == [0.1, 0.3]
    assert table.loc["m", "parameters (M)"] == 3.0 and table.loc["s", "self-transfer (acc)"] == 0.25
    assert trend(table["r (Pearson)"]) == "rises"
    assert trend(pd.Series([0.3, 0.2, 0.2])) == "falls" and trend(pd.Series([0.1, 0.3, 0.2])) == "is not monotonic"


def test_headline_row_formats_one_space_for_reading():
    row = headline_row("FTGD (small)", _analysis(np.eye(3), r=0.1234, share=0.05))
    assert row["method"] == "FTGD (small)" and row["parameters updated"] == "5.0%"
    assert row["r with hypothesis"] == "+0.123" and row["Mantel p"] == "0.0100"


# --------------------------------------------------------------------------- the paper's table


def test_agreement_with_paper_is_pearson_over_shared_phenomena():
    paper = paper_within_table()
    theirs = paper[paper.model == "LM203"].set_index("phenomenon")["mean"]
    ours = pd.DataFrame({"mean": 2 * theirs + 1})  # a linear function of theirs: r = 1
    ours.loc["NOT-IN-PAPER"] = 9.0
    r, table = agreement_with_paper(ours, "LM203", paper)
    assert r == pytest.approx(1.0)
    assert set(table.phenomenon) == set(theirs.index)
    r_neg, _ = agreement_with_paper(pd.DataFrame({"mean": -theirs}), "LM203", paper)
    assert r_neg == pytest.approx(-1.0)
    r_few, _ = agreement_with_paper(pd.DataFrame({"mean": theirs.iloc[:2]}), "LM203", paper)
    assert np.isnan(r_few)


def test_agreement_table_with_and_without_the_two_paradigm_phenomena():
    paper = paper_within_table()
    theirs = paper[paper.model == "LM203"].set_index("phenomenon")["mean"]
    sizes = {"A-AGR": 2, "ELLIP": 2, "IRR-F": 2}  # BLiMP's two-paradigm phenomena (12-phenomenon taxonomy)
    n_paradigms = [sizes.get(p, 5) for p in theirs.index]
    # agrees with LM203 except on the two-paradigm phenomena, where it is far off
    ours = pd.DataFrame({"mean": theirs.where([n >= 3 for n in n_paradigms], -5.0), "n_paradigms": n_paradigms})
    table = agreement_table({"ours": ours, "same": pd.DataFrame({"mean": theirs, "n_paradigms": n_paradigms})}, paper)
    assert list(table.columns) == [c for m in dict.fromkeys(paper.model) for c in (m, f"{m} (3+ paradigms)")]
    assert table.loc["ours", "LM203 (3+ paradigms)"] == pytest.approx(1.0) and table.loc["ours", "LM203"] < 0.9
    assert table.loc["same", "LM203"] == pytest.approx(1.0)


# --------------------------------------------------------------------------- BLiMP accuracy of committed models


def test_final_scores_and_learning_curves_read_the_committed_tiny_models():
    tiny = load_preset("tiny")
    scored = final_scores(tiny)
    assert set(scored) == set(tiny.sizes)
    for size, scores in scored.items():
        meta = json.loads((tiny.reference_dir() / "models" / size / "epoch-1.blimp.json").read_text())
        assert paradigm_summary(scores).accuracy.mean() == pytest.approx(meta["mean_accuracy"])
    curves = learning_curves(tiny)
    assert len(curves) == len(tiny.sizes) * len(tiny.pretrain.checkpoints)
    assert curves.groupby("size")["tokens (M)"].apply(lambda t: t.is_monotonic_increasing).all()
    assert curves.accuracy.between(0.4, 0.7).all()


# --------------------------------------------------------------------------- benchmark files


def test_benchmark_readers_on_the_committed_results():
    bench, peaks, table = throughput("cpu")
    assert peaks["bf16"] > peaks["fp32"] > 0
    assert set(table.precision) == {"fp32", "bf16"} and (table["tokens/s"] > 0).all()
    change = throughput_change(throughput("cpu-v1_before")[2], table)
    assert len(change) == len(table)
    assert change["speed-up"].tolist() == pytest.approx((change["tokens/s"] / change["before tokens/s"]).tolist())
    rows = speed_rows(RESULTS_DIR / "speed_cpu-v1.json", "after")
    assert rows and all(r["engine"] == "after" and 0 < r["useful share of ceiling"] < 1 for r in rows)
    assert speed_rows(RESULTS_DIR / "no_such_run.json", "x") == []
    assert 0 < packing_saves(RESULTS_DIR / "speed_cpu-v1.json") < 1
    assert np.isnan(packing_saves(RESULTS_DIR / "no_such_run.json"))
    assert min(matmul_ceilings()) > 0
    runs = end_to_end_runs()
    assert "tiny" in set(runs.preset) and (runs["exit code"] == 0).all()
    assert end_to_end_minutes("tiny") == pytest.approx(
        runs.loc[runs.file == "speed_tiny_end_to_end.json", "wall time (min)"].iloc[0])
    for _name, _commit, table in recipe_sweeps():
        assert (table.best == "◀").sum() >= 1
        assert table.loc[table.best == "◀", "val bits/byte"].iloc[0] == table["val bits/byte"].min()


def test_recipe_sweep_reader_marks_the_lowest_validation_loss(tmp_path):
    runs = [{"size": "s", "base": {"lr": 1e-3}, "variant": {"lr": lr}, "n_parameters": 1e6, "tokens_seen": 1e6,
             "val_loss": loss, "val_bits_per_byte": loss / 3, "tokens_per_s": 100.0}
            for lr, loss in ((1e-3, 5.0), (2e-3, 4.5), (4e-3, 4.8))]
    (tmp_path / "recipe_sweep_demo.json").write_text(json.dumps({"git_commit": "abcdef123", "results": runs}))
    [(name, commit, table)] = recipe_sweeps(tmp_path)
    assert (name, commit) == ("demo", "abcdef1")
    assert table.best.tolist() == ["", "◀", ""]
    assert table["runs with"].iloc[1] == "lr = 0.002"


# --------------------------------------------------------------------------- cost accounting


def test_cost_accounting_against_the_committed_cpu_run():
    cpu = load_preset("cpu")
    workload = measured_workload(cpu, RESULTS_DIR / "speed_cpu-v1.json")
    assert workload.tokens_per_epoch > 1e6 and 10 < workload.tokens_per_pair < 100
    rates = achieved_rates(cpu, workload)
    assert {f"cpu: pretrain {s}" for s in cpu.sizes} <= set(rates.index)
    assert (rates["achieved GFLOP/s"] > 0).all()
    # achieved = predicted work / measured time, so it can never exceed this machine's bf16 ceiling
    assert (rates["achieved GFLOP/s"] < max(matmul_ceilings()) * 1.5).all()


def test_run_stages_list_pretraining_and_every_stored_space_of_the_committed_cpu_run(tmp_path):
    cpu = load_preset("cpu", {"work_dir": str(tmp_path)})  # no run store: only what is committed
    stages = run_stages(cpu)
    assert [f"pretrain {s}" for s in cpu.sizes] == stages.stage.iloc[:len(cpu.sizes)].tolist()
    pretraining = stages.stage.str.startswith("pretrain ")  # each size's run, then any replicate runs
    assert pretraining.iloc[:pretraining.sum()].all()
    assert len(stages) == pretraining.sum() + len(list((cpu.reference_dir() / "spaces").glob("*/manifest.json")))
    assert (stages.minutes > 0).all()
    # committed spaces of the plan carry the plan's names, in the plan's order
    spaces = stages.stage[~pretraining].tolist()
    assert spaces[:len(cpu.sizes)] == [f"{s} @ final" for s in cpu.sizes]
    assert "small @ final (ftgd_method=plain)" in spaces
    assert run_stages(load_preset("cpu", {"work_dir": str(tmp_path), "results_dir": ""})).empty


def test_preset_overview_has_one_row_per_preset():
    table = preset_overview(("ci", "paper"))
    assert list(table.index) == ["ci", "paper"]
    assert table.loc["paper", "paradigms"] == 67 and table.loc["paper", "sizes (M parameters)"].count(",") == 2


def test_budget_in_time_converts_flop_at_the_given_rates():
    paper = load_preset("paper")
    workload = Workload(tokens_per_epoch=1e7, tokens_per_pair=30)
    budget = budget_in_time(paper, workload, gpu_tflops=10.0, cpu_gflops=100.0)
    flop = preset_budget(paper, workload)["total PFLOP"] * 1e15
    assert budget["GPU hours at assumed rate"].tolist() == pytest.approx((flop / 10e12 / 3600).tolist())
    assert budget["CPU days at measured rate"].tolist() == pytest.approx((flop / 100e9 / 86400).tolist())


def test_budget_on_card_reads_the_measured_rates_and_space_time():
    from taskspace_core.plan.cost import budget_on_card

    paper = load_preset("paper")
    workload = Workload(tokens_per_epoch=1e7, tokens_per_pair=30)
    rows = [{"size": s, "precision": p, "tokens_per_s": rate * (2 if p == "bf16" else 1)}
            for s, rate in zip(paper.sizes, (3e5, 1e5, 5e4)) for p in ("fp32", "bf16")]
    card = {"parts": {"pretrain_rates": {"pretrain": {"tokens_per_epoch": 2e6, "rows": rows}},
                      "paper_jobs": {"by_size": {"small": {"projected_space_s": 180.0},
                                                 "large": {"projected_space_s": 360.0}}}}}
    budget = budget_on_card(paper, workload, card)
    small, medium, large = paper.sizes
    runs, spaces = budget.loc[large, "pretraining runs"], budget.loc[large, "task spaces"]
    assert budget.loc[large, "card hours: pretraining fp32"] == pytest.approx(runs * 2e6 * paper.pretrain.epochs / 5e4 / 3600)
    assert budget.loc[large, "card hours: pretraining bf16"] == pytest.approx(budget.loc[large, "card hours: pretraining fp32"] / 2)
    assert budget.loc[large, "card hours: task spaces"] == pytest.approx(spaces * 0.1)
    assert budget.loc[small, "card hours: task spaces"] == pytest.approx(budget.loc[small, "task spaces"] * 0.05)
    assert budget.loc[medium, "card hours: task spaces"] == pytest.approx(budget.loc[medium, "task spaces"] * 0.1)  # untimed: the largest timed
    assert (budget["card hours: total (fp32)"] > budget["card hours: task spaces"]).all()


def test_the_committed_gpu_check_reproduces_the_cpu_space_to_float32_rounding():
    """The measurement the reproducing chapter reports (benchmarks/gpu_check.py on an H200)."""
    repo = Path(__file__).resolve().parents[1]
    card = json.loads((repo / "benchmarks" / "results" / "gpu_check_h200.json").read_text())
    assert all(part["ok"] for part in card["parts"].values())
    against = card["parts"]["space"]["against_cpu"]
    committed = {json.loads(m.read_text())["key_hash"] for m in repo.glob("results/*/spaces/*/manifest.json")}
    assert card["parts"]["space"]["key_hash"] in committed  # the CPU space it was held against is committed
    assert against["eval1_margin_max_abs"] < 1e-3 and against["eval1_correct_flips"] == 0
    assert against["eval2_margin_mean_abs"] < 1e-4 * against["eval2_margin_sd"]
    headline = against["headline"]
    assert headline["gpu"]["hypothesis_pearson"] == pytest.approx(headline["cpu"]["hypothesis_pearson"], abs=1e-4)


def test_run_plan_pretrains_each_run_before_its_first_space_with_a_running_total():
    from taskspace_core.config import apply_overrides
    from taskspace_core.plan.cost import pretrain_flops, pretrain_rates, run_plan, space_flops
    from taskspace_core.plan.requests import plan_of

    nxt = load_preset("cpu")
    workload = Workload(tokens_per_epoch=1.8e7, tokens_per_pair=26)
    rates = pretrain_rates(nxt, workload)  # from the committed cpu checkpoints' wall times
    assert set(rates) == set(nxt.sizes) and all(50 < r < 500 for r in rates.values())
    plan = apply_overrides(nxt, {"book.replicate_sizes": ["small"], "book.pretrain_seeds": [1]})
    table = run_plan(plan, workload, space_gflops=100.0, pretrain_gflops=rates)
    requests = plan_of(plan).unique()
    stages = table.stage.tolist()
    assert [s for s in stages if not s.startswith("pretrain ")] == [r.describe() for r in requests]
    assert len(table) == 4 + len(requests)
    # each run right before the first space that needs it, in the order reproduce trains them
    assert stages[:4] == ["pretrain small", "small @ final", "pretrain medium", "medium @ final"]
    first_replicate = next(i for i, r in enumerate(requests) if r.pretrain_seed == 1)
    replicate_row = stages.index("pretrain small-seed1")
    assert stages[replicate_row + 1] == requests[first_replicate].describe()
    assert table.hours.iloc[replicate_row] == pytest.approx(
        pretrain_flops(plan, "small", workload) / (rates["small"] * 1e9) / 3600)
    row = max(i for i, r in enumerate(requests) if r.benchmarks)  # generality runs before the sweeps
    last = requests[row]  # BLiMP→CLAMS on another split: 33 paradigms, priced as such
    assert last.benchmarks == ("blimp", "clams") and len(selected_paradigms(last.config(plan).data)) == 33
    assert table.hours.iloc[stages.index(last.describe())] == pytest.approx(
        space_flops(last.config(plan), last.size, workload, 33)["total"] / 100e9 / 3600)
    assert all(r.purpose.startswith("critique") for r in requests[row + 1:])
    assert table["cumulative hours"].iloc[-1] == pytest.approx(table.hours.sum())
    # one space rate per size
    per_size = run_plan(plan, workload, space_gflops={"small": 50.0, "medium": 100.0, "large": 200.0},
                        pretrain_gflops=rates)
    small_final = stages.index("small @ final")
    assert per_size.hours.iloc[small_final] == pytest.approx(2 * table.hours.iloc[small_final])


def test_flop_counts_scale_with_the_work_they_count():
    from taskspace_core.config import apply_overrides
    from taskspace_core.lm.models import spec_parameters
    from taskspace_core.plan.cost import pretrain_flops, space_flops

    cpu = load_preset("cpu")
    workload = Workload(tokens_per_epoch=1e6, tokens_per_pair=30)
    base = space_flops(cpu, "small", workload)
    assert base["total"] == pytest.approx(sum(v for k, v in base.items() if k != "total"))
    doubled = space_flops(apply_overrides(cpu, {"data.n_test": 2 * cpu.data.n_test}), "small", workload)
    assert doubled["eval (eval1 + eval2)"] == pytest.approx(2 * base["eval (eval1 + eval2)"])
    assert doubled["FTGD mask"] == pytest.approx(base["FTGD mask"])  # the mask comes from the training split
    plain = space_flops(apply_overrides(cpu, {"ftgd.method": "plain"}), "small", workload)
    assert plain["FTGD mask"] == 0 and plain["fine-tuning steps"] == pytest.approx(base["fine-tuning steps"] / 2)
    # pretraining: about 6 N per token (forward 2N, backward 4N) plus attention, for every epoch
    n = spec_parameters(cpu.size("small"), cpu.tokenizer.vocab_size)
    per_token = pretrain_flops(cpu, "small", workload) / (workload.tokens_per_epoch * cpu.pretrain.epochs)
    assert 6 * n < per_token < 6.5 * n
    assert pretrain_flops(cpu, "large", workload) > pretrain_flops(cpu, "small", workload)


def test_download_link_embeds_exactly_the_table_shown():
    import base64
    import io
    import re

    from taskspace_core.book.notebook import download_link, long_matrix

    frame = long_matrix(np.array([[1.0, 0.25], [-0.5, 1.0]]), ["p", "q"], "similarity")
    assert frame.to_dict("list") == {"row": ["p", "p", "q", "q"], "column": ["p", "q", "p", "q"],
                                     "similarity": [1.0, 0.25, -0.5, 1.0]}
    page = download_link(frame, "space.csv", "the similarity matrix").data
    assert 'download="space.csv"' in page and "Download the similarity matrix (CSV, 4 rows)" in page
    payload = re.search(r"base64,([^\"]+)", page).group(1)
    assert pd.read_csv(io.StringIO(base64.b64decode(payload).decode())).equals(frame)


def test_a_wide_table_of_measures_turns_into_one_row_per_measure_formatted_by_its_measure():
    from taskspace_core.book.notebook import measures_as_rows

    frame = pd.DataFrame({"size": ["small", "large"], "pairs/s": [1234.5, float("nan")], "share": [0.25, 0.5],
                          "engine": ["before", "after"]}).set_index("size")
    turned = measures_as_rows(frame, {"pairs/s": "{:,.0f}", "share": "{:.0%}"})
    assert list(turned.columns) == ["small", "large"] and list(turned.index) == ["pairs/s", "share", "engine"]
    assert turned.loc["pairs/s"].tolist() == ["1,234", "n/a"] and turned.loc["share"].tolist() == ["25%", "50%"]
    assert turned.loc["engine"].tolist() == ["before", "after"]


def test_the_book_build_moves_embedded_tables_into_files_beside_the_page(tmp_path):
    from taskspace_core.book.notebook import download_link
    from taskspace_core.book.sphinx_ext import unembed_downloads

    frame = pd.DataFrame({"paradigm": ["p", "q"], "accuracy": [0.5, 0.75]})
    body = "<div>" + download_link(frame, "accuracy.csv").data + "</div>"
    page = unembed_downloads(body, "notebooks/rq1", tmp_path)
    assert "data:text/csv" not in page
    assert 'href="../downloads/notebooks/rq1/accuracy.csv"' in page and "(CSV, 2 rows)" in page
    assert pd.read_csv(tmp_path / "downloads" / "notebooks" / "rq1" / "accuracy.csv").equals(frame)
    assert unembed_downloads("<p>no tables</p>", "index", tmp_path) == "<p>no tables</p>"


def test_notebooks_offered_for_download_are_shipped_without_their_outputs(tmp_path):
    from taskspace_core.book.sphinx_ext import strip_shipped_notebooks

    notebook = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# RQ1"},
                          {"cell_type": "code", "metadata": {"tags": ["injected-parameters"]}, "execution_count": 3,
                           "source": 'preset = "cpu"', "outputs": [{"output_type": "stream", "text": "x" * 1000}]}],
                "metadata": {"papermill": {"parameters": {"preset": "cpu"}}}, "nbformat": 4, "nbformat_minor": 5}
    shipped = tmp_path / "_sources" / "notebooks" / "rq1.ipynb"
    shipped.parent.mkdir(parents=True)
    shipped.write_text(json.dumps(notebook))
    assert strip_shipped_notebooks(tmp_path) == 1
    kept = json.loads(shipped.read_text())
    assert kept["cells"][1]["outputs"] == [] and kept["cells"][1]["execution_count"] is None
    assert kept["cells"][1]["source"] == 'preset = "cpu"' and kept["metadata"] == notebook["metadata"]
    assert kept["cells"][0] == notebook["cells"][0]


def test_the_book_build_moves_the_explorer_data_into_a_script_file(tmp_path):
    from taskspace_core.book.sphinx_ext import unembed_explorer_data

    data = {"spaces": [{"name": "a</script>b", "transfer": [0.5, -0.25]}]}
    inline = json.dumps(data).replace("</", "<\\/")
    body = f'<div></div><script type="application/json" id="taskspace-explorer-data">{inline}</script><script>x</script>'
    page = unembed_explorer_data(body, "book/explorer", tmp_path)
    assert page == ('<div></div><script id="taskspace-explorer-data" '
                    'src="../downloads/book/explorer/explorer-data.js"></script><script>x</script>')
    script = (tmp_path / "downloads" / "book" / "explorer" / "explorer-data.js").read_text()
    assert script.startswith("window.taskspaceExplorerData = ") and script.endswith(";\n")
    assert json.loads(script.removeprefix("window.taskspaceExplorerData = ").rstrip(";\n")) == data
    assert unembed_explorer_data("<p>no explorer</p>", "book/explorer", tmp_path) == "<p>no explorer</p>"


def test_the_plan_is_priced_at_the_measured_rates_of_each_size_and_each_kind_of_work():
    from taskspace_core.plan.cost import priced_plan
    from taskspace_core.plan.requests import plan_of

    config = load_preset("cpu-next")
    phases = {"mask_s": 2.0, "steps_s": 6.0, "eval2_s": 10.0, "restore_s": 0.0}
    profile = {size: {"paradigms": 67, "variants": {"after": {"eval1_s": 12.0 * k, "per_source_mean":
                                                              {p: v * k for p, v in phases.items()}}}}
               for k, size in enumerate(config.sizes, 1)}
    priced = priced_plan(config, profile, workers=2)
    table = priced[priced.kind == "space"].set_index("stage")
    plan = plan_of(config)
    assert len(table) == len(plan.unique()) and (priced.kind == "mask set").sum() == len(plan.mask_sets)
    assert table.loc["small @ final", "hours"] == pytest.approx((12 + 67 * 18) / 2 / 3600)
    assert table.loc["large @ final", "hours"] == pytest.approx(3 * (12 + 67 * 18) / 2 / 3600)
    assert table.loc["small @ final (ftgd_method=plain)", "hours"] == pytest.approx((12 + 67 * 16) / 2 / 3600)
    zorro = next(r for r in plan.unique() if r.benchmarks == ("zorro",) and r.size == "large")
    n = len(selected_paradigms(zorro.config(config).data))
    assert n < 67 and table.loc[zorro.describe(), "hours"] == pytest.approx(
        3 * (12 * n / 67 + n * (8 + 10 * n / 67)) / 2 / 3600)  # eval passes scale with the paradigms scored
    masks = priced[priced.kind == "mask set"].set_index("stage")
    assert masks.loc[plan.mask_sets[0].describe(), "hours"] == pytest.approx(2 * 67 * 2.0 / 2 / 3600)  # masks only
    assert priced["cumulative hours"].iloc[-1] == pytest.approx(priced.hours.sum())
