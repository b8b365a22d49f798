"""What the chapters show beside the claims: each function asks the plan for the spaces of its role."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from taskspace_core.findings import chapters
from taskspace_core.config import load_preset
from taskspace_core.plan.requests import Role, plan_of


@pytest.fixture(scope="module")
def plan():
    return plan_of(load_preset("cpu"))


def fake_source(asked: list):
    """A space source that records each request and answers with a space made from its fields."""
    def source(request):
        asked.append(request)
        rng = np.random.default_rng(abs(hash(request)) % 2**32)
        similarity = rng.normal(size=(5, 5))
        union = 0.4 + 0.01 * (request.pretrain_seed or 0)
        space = SimpleNamespace(mask_union_share=union, store_dir=request.describe())
        gap = 0.1 + 0.02 * (request.pretrain_seed or 0)  # mask overlap within − between phenomena
        # r with the hypothesis space: 0.2 trained (+0.01 per pretraining seed), 0.05 untrained, 0.12 random masks
        r = (0.05 if request.role is Role.NULL else 0.12 if request.mask_selection else 0.2) \
            + 0.01 * (request.pretrain_seed or 0)
        space.transfer = {"effect": similarity}
        analysis = SimpleNamespace(similarity=(similarity + similarity.T) / 2, hypothesis=np.eye(5) + (rng.random((5, 5)) > 0.5),
                                   headline=SimpleNamespace(hypothesis_pearson=r, within_mean=r, mask_share_mean=0.05),
                                   mask_within_summary=pd.DataFrame({"mean": [0.3 + gap, 0.3]}, index=["within", "between"]))
        return space, analysis
    return source


def test_the_critique_sweeps_ask_for_the_planned_mask_rules_and_seeds(plan):
    asked = []
    swept = chapters.threshold_sweep(plan, fake_source(asked))
    assert list(swept) == ["threshold 0.0001", "threshold 0.001", "threshold 0.01", "top 5%"]
    assert {r.role for r in asked} == {Role.THRESHOLD_SWEEP, Role.SHARE_SWEEP}
    seeds = chapters.ftgd_seed_runs(plan, fake_source(asked))
    assert list(seeds) == list(plan.config.book.sweep_seeds)


def test_dynamics_yardsticks_read_the_split_and_seed_replicates(plan):
    asked = []
    yardsticks = chapters.dynamics_yardsticks(plan, fake_source(asked), "medium", [0.0, 0.025, 0.5])
    # seed replicates only at the final checkpoint in `cpu`: noise and band measured there, nowhere else
    assert np.isnan(yardsticks.seed_noise[0.0]) and np.isnan(yardsticks.seed_noise[0.025])
    assert 0 < yardsticks.seed_noise[0.5] < 2
    assert yardsticks.gap_bands[0.5] == pytest.approx(0.02 * max(plan.config.book.pretrain_seeds))
    assert np.isnan(yardsticks.gap_bands[0.0])
    assert yardsticks.splits == 1 + len(plan.config.book.split_seeds) and yardsticks.split_size == plan.split_size
    assert yardsticks.seeds == 1 + len(plan.config.book.pretrain_seeds)
    assert yardsticks.union_band == pytest.approx(0.01 * max(plan.config.book.pretrain_seeds))
    assert 0 < yardsticks.noise < 2  # 1 - r between random matrices
    no_splits = plan_of(load_preset("cpu-v1"))
    assert np.isnan(chapters.dynamics_yardsticks(no_splits, fake_source([]), "large", [0.0]).noise)


def test_size_steps_read_each_step_against_the_band():
    def run(r, within):
        table = pd.DataFrame({"mean": [within, within]}, index=["A", "B"])
        return SimpleNamespace(headline=SimpleNamespace(hypothesis_pearson=r), within=table)

    replicates = {"small": [run(0.10, 0.1), run(0.12, 0.1)], "medium": [run(0.30, 0.2)], "large": [run(0.31, 0.2)]}
    estimates, steps = chapters.size_steps(replicates)
    assert set(estimates) == {"r with hypothesis", "mean within-phenomenon similarity"}
    assert estimates["r with hypothesis"]["small"].mean == pytest.approx(0.11)
    r_steps = steps[steps.quantity == "r with hypothesis"].set_index("step")
    assert list(r_steps.index) == ["small → medium", "medium → large"]
    assert r_steps.loc["small → medium", "reading"] == "above the band"
    assert r_steps.loc["medium → large", "reading"] == "inside the band"


def test_preset_sizes_and_value_range():
    table = chapters.preset_sizes()
    assert "ci" not in set(table.preset) and {"tiny", "cpu", "paper"} <= set(table.preset)
    assert list(chapters.preset_sizes(also="ci").preset)[-1] == "ci"
    assert chapters.value_range(pd.Series([0.33, 0.75, 0.5])) == "+0.33 to +0.75"
    assert chapters.value_range(pd.Series([0.1])) == "+0.10"
    assert chapters.value_range(pd.Series([], dtype=float)) == "not computed"


def test_the_method_control_reads_ftgd_against_random_masks_of_the_same_share():
    from taskspace_core.config import apply_overrides

    uncontrolled = plan_of(apply_overrides(load_preset("cpu"), {"book.random_mask_sizes": []}))
    assert chapters.method_control(uncontrolled, fake_source([])).empty
    controlled = plan_of(apply_overrides(load_preset("cpu"), {"book.random_mask_sizes": ["medium"]}))
    asked = []
    table = chapters.method_control(controlled, fake_source(asked))
    assert [r.role for r in asked].count(Role.RANDOM_MASKS) == 1
    row = table.iloc[0]
    assert row["size"] == "medium" and row["r random masks"] == pytest.approx(0.12)
    assert row["r FTGD masks"] == pytest.approx(0.21)  # mean over seeds 0, 1, 2
    assert row["FTGD − random"] == pytest.approx(0.09) and row["band"] == pytest.approx(0.02)
    assert row["reading"] == "above the band" and row["r untrained"] == pytest.approx(0.05)
    text = chapters.method_control_text(table)
    assert "At the medium size" in text and "r = +0.210" in text and "r = +0.120" in text and "+0.090" in text
    assert "above the band of ±0.020" in text and "carries resemblance" in text
    assert "under the threshold 0.001 rule" in text and "mean over pretraining seeds" in text
    # under the sparse rule too: against that rule's own space (one run), the widest band borrowed
    both = plan_of(apply_overrides(load_preset("cpu"), {"book.random_mask_sizes": ["medium"],
                                                        "book.random_mask_sparse": True}))
    asked = []
    table = chapters.method_control(both, fake_source(asked))
    assert list(table["mask rule"]) == ["threshold 0.001", "top 5%"]
    sparse = table.iloc[1]
    assert Role.SPARSE in [r.role for r in asked] and sparse["r FTGD masks"] == pytest.approx(0.2)  # seed 0 only
    assert sparse["band"] == pytest.approx(0.02) and sparse["band from"].startswith("the widest")
    text = chapters.method_control_text(table)
    assert "under the top 5% rule" in text and "(one run)" in text and "(the widest over the sizes'" in text


def test_claim_1_under_every_similarity_definition(plan):
    table = chapters.similarity_definitions(plan, fake_source([]))
    assert list(dict.fromkeys(table["definition"])) == ["chosen (profile)", "raw symmetrised transfers",
                                                        "double-centred transfers"]
    assert set(table["size"]) == set(plan.config.sizes)  # cpu has an untrained space of every size
    chosen = table[table["definition"] == "chosen (profile)"].set_index("size")
    assert chosen.loc["small", "difference"] == pytest.approx(0.2 + 0.01 - 0.05)
    assert chosen.loc["small", "band"] == pytest.approx(0.02) and chosen.loc["small", "reading"] == "above the band"
