"""The claim rules on constructed inputs: each verdict can come out every way."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from taskspace_core.analysis import claims
from taskspace_core.analysis.paper import paper_within_table


def fake_analysis(r=0.3, p=0.001, within=None, similarity=None):
    within = pd.DataFrame({"mean": within or {"A": 0.1, "B": 0.2}})
    headline = SimpleNamespace(hypothesis_pearson=r, mantel_p=p, partial_mantel_r=r / 2, partial_mantel_p=p * 2)
    return SimpleNamespace(headline=headline, within=within, similarity=similarity)


def test_claim_1_needs_a_positive_significant_mantel_test():
    assert claims.resembles_hypothesis(fake_analysis(0.3, 0.001), "m").verdict == claims.HOLDS
    assert claims.resembles_hypothesis(fake_analysis(0.3, 0.2), "m").verdict == claims.FAILS
    assert claims.resembles_hypothesis(fake_analysis(-0.3, 0.001), "m").verdict == claims.FAILS


def test_similarity_change_and_replicate_change():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(8, 8)), rng.normal(size=(8, 8))
    a, b = (a + a.T) / 2, (b + b.T) / 2
    assert abs(claims.similarity_change(a, a)) < 1e-12
    assert claims.similarity_change(a, -a) == pytest.approx(2.0)
    # the mean over every pair of replicates; NaN with one replicate (no noise measured)
    runs = [fake_analysis(similarity=m) for m in (a, a, -a)]
    assert claims.replicate_change(runs) == pytest.approx((0 + 2 + 2) / 3)
    assert np.isnan(claims.replicate_change(runs[:1]))


def test_the_high_similarity_threshold_is_one_number():
    from taskspace_core.analysis.hypothesis import HIGH_WITHIN, classify_patterns
    from taskspace_core.book.build import notebook_parameters

    # RQ1's papermill parameter must stay a literal (for -p type checks); it must equal the package's
    assert notebook_parameters("rq1_cross_task_knowledge")["pattern_high"] == HIGH_WITHIN
    similarity = np.full((2, 2), HIGH_WITHIN)
    assert classify_patterns(similarity, ["a", "b"], ["X", "X"]).loc["X", "pattern"] == "A"


# --------------------------------------------------------------------------- against replicates


def test_an_estimate_carries_its_replicates_band():
    from taskspace_core.analysis.replicates import Difference, Estimate, band_for, difference_status

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
    from taskspace_core.analysis.replicates import Estimate

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
    from taskspace_core.analysis.replicates import Estimate

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
