"""The claim rules on constructed inputs: each verdict can come out every way."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from taskspace_core import claims
from taskspace_core.paper import paper_within_table


def fake_analysis(r=0.3, p=0.001, within=None, similarity=None):
    within = pd.DataFrame({"mean": within or {"A": 0.1, "B": 0.2}})
    headline = SimpleNamespace(hypothesis_pearson=r, mantel_p=p, partial_mantel_r=r / 2, partial_mantel_p=p * 2)
    return SimpleNamespace(headline=headline, within=within, similarity=similarity)


def test_claim_1_needs_a_positive_significant_mantel_test():
    assert claims.resembles_hypothesis(fake_analysis(0.3, 0.001), "m").verdict == claims.HOLDS
    assert claims.resembles_hypothesis(fake_analysis(0.3, 0.2), "m").verdict == claims.FAILS
    assert claims.resembles_hypothesis(fake_analysis(-0.3, 0.001), "m").verdict == claims.FAILS


def test_claim_2_reads_both_signs_for_ours_and_the_papers():
    paper = paper_within_table()
    rising = {"s": fake_analysis(within={"A": 0.1, "B": 0.2}), "l": fake_analysis(within={"A": 0.35, "B": 0.4})}
    verdict = claims.grows_with_size(rising, paper)
    assert verdict.verdict == claims.HOLDS and "+0.150 (s) → +0.375 (l)" in verdict.ours
    assert "0 (s) → 2 (l)" in verdict.ours
    # the paper's own table, reduced by the same rule: the averages rise and 1 -> 3 -> 4 phenomena reach 0.3
    assert "(LM27) → " in verdict.paper and "1 (LM27) → 3 (LM70) → 4 (LM203)" in verdict.paper
    only_mean = {"s": fake_analysis(within={"A": 0.1, "B": 0.2}), "l": fake_analysis(within={"A": 0.15, "B": 0.25})}
    assert claims.grows_with_size(only_mean, paper).verdict == claims.PARTLY
    falling = {"s": fake_analysis(within={"A": 0.5, "B": 0.4}), "l": fake_analysis(within={"A": 0.1, "B": 0.2})}
    assert claims.grows_with_size(falling, paper).verdict == claims.FAILS
    assert claims.grows_with_size({"s": rising["s"]}, paper).verdict == claims.UNTESTABLE


def test_claim_3_compares_the_change_in_epoch_1_with_the_change_after_it():
    rng = np.random.default_rng(0)

    def sym(m):
        return (m + m.T) / 2

    start, learned = sym(rng.normal(size=(10, 10))), sym(rng.normal(size=(10, 10)))
    settled = {0: fake_analysis(similarity=start), 1: fake_analysis(similarity=learned),
               2: fake_analysis(similarity=learned + 0.01 * sym(rng.normal(size=(10, 10))))}
    assert claims.changes_early_then_settles(settled).verdict == claims.HOLDS
    moving = {**settled, 2: fake_analysis(similarity=sym(rng.normal(size=(10, 10))))}
    assert claims.changes_early_then_settles(moving).verdict == claims.FAILS
    no_epoch_1 = {0: settled[0], 0.5: settled[1], 1: settled[2]}  # epoch 1 is the final checkpoint
    assert claims.changes_early_then_settles(no_epoch_1).verdict == claims.UNTESTABLE
    assert abs(claims.similarity_change(start, start)) < 1e-12


def test_claim_4_asks_the_union_to_grow_without_shrinking():
    assert claims.region_grows({0: 0.1, 1: 0.2, 2: 0.3}).verdict == claims.HOLDS
    assert claims.region_grows({0: 0.1, 1: 0.5, 2: 0.3}).verdict == claims.PARTLY
    assert claims.region_grows({0: 0.3, 1: 0.2}).verdict == claims.FAILS
    assert claims.region_grows({0: 0.3}).verdict == claims.UNTESTABLE


def test_union_direction_uses_the_tolerance_of_claim_4():
    tol = claims.UNION_TOLERANCE
    assert claims.union_direction({0: 0.10, 1: 0.10 + 2 * tol}) == "grows"
    assert claims.union_direction({0: 0.10, 1: 0.10 - 2 * tol}) == "shrinks"
    assert claims.union_direction({0: 0.10, 0.5: 0.5, 1: 0.10 + tol / 2}) == "stays about the same"
    # the description and the verdict read the same change the same way
    grown = {0: 0.10, 1: 0.10 + 2 * tol}
    assert claims.region_grows(grown).verdict == claims.HOLDS and claims.union_direction(grown) == "grows"


def test_the_high_similarity_threshold_is_one_number():
    from taskspace_core.book import notebook_parameters
    from taskspace_core.hypothesis import HIGH_WITHIN, classify_patterns

    # RQ1's papermill parameter must stay a literal (for -p type checks); it must equal the package's
    assert notebook_parameters("rq1_cross_task_knowledge")["pattern_high"] == HIGH_WITHIN
    similarity = np.full((2, 2), HIGH_WITHIN)
    assert classify_patterns(similarity, ["a", "b"], ["X", "X"]).loc["X", "pattern"] == "A"


# --------------------------------------------------------------------------- against replicates


def test_an_estimate_carries_its_replicates_band():
    from taskspace_core.replicates import Difference, Estimate, band_for, difference_status

    three, one = Estimate((0.17, 0.195, 0.18)), Estimate((0.2,))
    assert three.mean == pytest.approx(0.18166666) and three.band == pytest.approx(0.025)
    assert np.isnan(one.band) and one.describe() == "+0.200"
    assert three.describe() == "+0.182 (range +0.170 … +0.195, 3 runs)"
    # a run without replicates borrows the widest band measured elsewhere; none anywhere: NaN
    assert band_for(one, [three, Estimate((0.1, 0.15))]) == pytest.approx(0.05)
    assert band_for(three, [Estimate((0.1, 0.15))]) == pytest.approx(0.025)
    assert np.isnan(band_for(one, [one]))
    assert difference_status(0.03, 0.025) is Difference.ABOVE
    assert difference_status(-0.03, 0.025) is Difference.BELOW
    assert difference_status(0.02, 0.025) is Difference.INSIDE
    assert difference_status(0.5, float("nan")) is Difference.UNKNOWN


def test_claim_1_against_the_untrained_network_can_come_out_every_way():
    from taskspace_core.replicates import Estimate

    trained, p = Estimate((0.20, 0.22, 0.21)), Estimate((0.001, 0.002, 0.001))
    assert claims.beats_untrained(trained, p, Estimate((0.10,)), 0.02, "s").verdict == claims.HOLDS
    inside = claims.beats_untrained(trained, p, Estimate((0.20,)), 0.02, "s")
    assert inside.verdict == claims.INCONCLUSIVE and "difference +0.010, band 0.020" in inside.ours
    assert claims.beats_untrained(trained, p, Estimate((0.10,)), float("nan"), "s").verdict == claims.INCONCLUSIVE
    assert claims.beats_untrained(trained, p, Estimate((0.30,)), 0.02, "s").verdict == claims.FAILS
    weak = Estimate((0.001, 0.2, 0.001))  # one replicate not significant
    assert claims.beats_untrained(trained, weak, Estimate((0.10,)), 0.02, "s").verdict == claims.FAILS
    assert claims.beats_untrained(Estimate(()), p, Estimate((0.1,)), 0.02, "s").verdict == claims.UNTESTABLE


def test_claim_2_against_replicates_needs_every_step_beyond_its_band():
    from taskspace_core.replicates import Estimate

    paper = paper_within_table()
    rising = {"s": Estimate((0.10, 0.12, 0.11)), "m": Estimate((0.20, 0.21, 0.19)), "l": Estimate((0.30,))}
    verdict = claims.grows_with_size_beyond_band(rising, paper, "threshold 1e-3")
    assert verdict.verdict == claims.HOLDS and "(threshold 1e-3)" in verdict.claim
    assert "band 0.020" in verdict.ours  # l has one run: it borrows the widest band measured (0.02)
    flat = {**rising, "l": Estimate((0.21,))}
    assert claims.grows_with_size_beyond_band(flat, paper, "x").verdict == claims.INCONCLUSIVE
    falling = {**rising, "l": Estimate((0.10,))}
    assert claims.grows_with_size_beyond_band(falling, paper, "x").verdict == claims.FAILS
    unreplicated = {"s": Estimate((0.1,)), "l": Estimate((0.3,))}
    assert claims.grows_with_size_beyond_band(unreplicated, paper, "x").verdict == claims.INCONCLUSIVE
    assert claims.grows_with_size_beyond_band({"s": rising["s"]}, paper, "x").verdict == claims.UNTESTABLE


def test_claim_3_against_the_noise_of_replicate_spaces():
    rng = np.random.default_rng(1)

    def sym(m):
        return (m + m.T) / 2

    start, learned = sym(rng.normal(size=(10, 10))), sym(rng.normal(size=(10, 10)))
    epochs = [0, 0.025, 0.05, 0.1, 0.5]
    assert claims.early_checkpoint(epochs) == 0.025 and claims.early_checkpoint([0, 1, 2, 20]) == 1
    assert claims.early_checkpoint([0, 1]) is None
    settled = {0: fake_analysis(similarity=start)}
    settled |= {e: fake_analysis(similarity=learned + 0.01 * sym(rng.normal(size=(10, 10)))) for e in epochs[1:]}
    assert claims.settles_beyond_noise(settled, noise=0.05).verdict == claims.HOLDS
    assert claims.settles_beyond_noise(settled, noise=float("nan")).verdict == claims.INCONCLUSIVE
    assert claims.settles_beyond_noise(settled, noise=1.5).verdict == claims.INCONCLUSIVE  # early within noise
    moving = {**settled, 0.5: fake_analysis(similarity=sym(rng.normal(size=(10, 10))))}
    assert claims.settles_beyond_noise(moving, noise=0.05).verdict == claims.FAILS
    assert claims.settles_beyond_noise({0: settled[0], 0.5: settled[0.5]}, 0.05).verdict == claims.UNTESTABLE


def test_claim_4_against_replicates():
    grows = {0: 0.10, 0.1: 0.20, 0.5: 0.30}
    assert claims.region_grows_beyond_band(grows, 0.05, "top 5%").verdict == claims.HOLDS
    assert claims.region_grows_beyond_band(grows, 0.25, "top 5%").verdict == claims.INCONCLUSIVE
    assert claims.region_grows_beyond_band({0: 0.1, 0.1: 0.5, 0.5: 0.3}, 0.05, "x").verdict == claims.PARTLY
    assert claims.region_grows_beyond_band({0: 0.3, 0.5: 0.1}, 0.05, "x").verdict == claims.FAILS
    assert claims.region_grows_beyond_band(grows, float("nan"), "x").verdict == claims.INCONCLUSIVE
    assert claims.region_grows_beyond_band({0: 0.1}, 0.05, "x").verdict == claims.UNTESTABLE
