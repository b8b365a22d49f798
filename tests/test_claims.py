"""The claim rules on constructed inputs: each verdict can come out every way."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

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
