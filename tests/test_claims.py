"""The claim rules on constructed inputs: each verdict can come out every way."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from taskspace_core.analysis import claims, statistics
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
    assert abs(statistics.similarity_change(a, a)) < 1e-12
    assert statistics.similarity_change(a, -a) == pytest.approx(2.0)
    # the mean over every pair of replicates; NaN with one replicate (no noise measured)
    runs = [fake_analysis(similarity=m) for m in (a, a, -a)]
    assert statistics.replicate_change(runs) == pytest.approx((0 + 2 + 2) / 3)
    assert np.isnan(statistics.replicate_change(runs[:1]))


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
    holds = claims.beats_untrained(trained, p, Estimate((0.10,)), 0.02, "s")
    assert holds.verdict == claims.HOLDS and holds.marks == () and holds.value == "+0.110 (band 0.020)"
    inside = claims.beats_untrained(trained, p, Estimate((0.20,)), 0.02, "s")
    assert inside.verdict == claims.INCONCLUSIVE and "difference +0.010, band 0.020" in inside.ours
    # no band measured anywhere: a precondition of reading the difference fails
    assert claims.beats_untrained(trained, p, Estimate((0.10,)), float("nan"), "s").verdict == claims.UNTESTABLE
    assert claims.beats_untrained(trained, p, Estimate((0.30,)), 0.02, "s").verdict == claims.FAILS
    weak = Estimate((0.001, 0.2, 0.001))  # one replicate not significant
    assert claims.beats_untrained(trained, weak, Estimate((0.10,)), 0.02, "s").verdict == claims.FAILS
    assert claims.beats_untrained(Estimate(()), p, Estimate((0.1,)), 0.02, "s").verdict == claims.UNTESTABLE


def test_claim_1_marks_a_similarity_definition_that_reads_differently():
    from taskspace_core.analysis.replicates import Estimate

    trained, p = Estimate((0.20, 0.22, 0.21)), Estimate((0.001, 0.002, 0.001))
    agreeing = {"raw": (Estimate((0.3, 0.31)), Estimate((0.1,)), 0.02)}
    assert claims.beats_untrained(trained, p, Estimate((0.10,)), 0.02, "s", alternatives=agreeing).marks == ()
    disagreeing = {"raw": (Estimate((0.10, 0.12)), Estimate((0.12,)), 0.02),
                   "centred": (Estimate((0.2, 0.3)), Estimate((0.1,)), 0.2)}
    verdict = claims.beats_untrained(trained, p, Estimate((0.10,)), 0.02, "s", band_borrowed=True,
                                     alternatives=disagreeing)
    assert verdict.verdict == claims.HOLDS  # the primary statistic decides; the others are marked
    assert verdict.marks == ("band borrowed from another size", "raw -0.010 (band 0.020): inconclusive",
                             "centred +0.150 (band 0.200): inconclusive")


def test_claim_2_judges_only_steps_where_the_larger_model_is_the_better_language_model():
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
    # the falling step m → l is not judged when l is not the better language model: s → m alone decides
    confounded = claims.grows_with_size_beyond_band(falling, paper, "x", better_lm=[True, False])
    assert confounded.verdict == claims.HOLDS and "m → l: -0.100" in confounded.ours
    assert confounded.marks == ("m → l not testable (the larger model is not the better language model)",)
    assert "m → l" not in confounded.value and "s → m +0.090" in confounded.value
    neither = claims.grows_with_size_beyond_band(falling, paper, "x", better_lm=[False, False])
    assert neither.verdict == claims.UNTESTABLE and neither.value == "no step judged"
    unreplicated = {"s": Estimate((0.1,)), "l": Estimate((0.3,))}  # no band anywhere
    assert claims.grows_with_size_beyond_band(unreplicated, paper, "x").verdict == claims.UNTESTABLE
    assert claims.grows_with_size_beyond_band({"s": rising["s"]}, paper, "x").verdict == claims.UNTESTABLE


def test_claim_2_marks_a_declared_alternative_statistic_that_reads_differently():
    from taskspace_core.analysis.replicates import Estimate

    paper = paper_within_table()
    rising = {"s": Estimate((0.10, 0.12)), "m": Estimate((0.20, 0.21))}
    same = {"pair-weighted": ({"s": Estimate((0.1, 0.11)), "m": Estimate((0.3, 0.31))}, None)}
    assert claims.grows_with_size_beyond_band(rising, paper, "x", alternatives=same).marks == ()
    other = {"phenomena with ≥ 3 paradigms": ({"s": Estimate((0.20, 0.21)), "m": Estimate((0.15, 0.16))}, None)}
    verdict = claims.grows_with_size_beyond_band(rising, paper, "x", alternatives=other,
                                                 band_source="the threshold rule's replicates")
    assert verdict.verdict == claims.HOLDS
    assert verdict.marks == ("band borrowed from the threshold rule's replicates",
                             "phenomena with ≥ 3 paradigms: does not hold")


def test_claim_3_reads_the_noise_at_the_checkpoints_it_compares():
    rng = np.random.default_rng(1)

    def sym(m):
        return (m + m.T) / 2

    start, learned = sym(rng.normal(size=(10, 10))), sym(rng.normal(size=(10, 10)))
    epochs = [0, 0.025, 0.05, 0.1, 0.5]
    assert claims.early_checkpoint(epochs) == 0.025 and claims.early_checkpoint([0, 1, 2, 20]) == 1
    assert claims.early_checkpoint([0, 1]) is None
    # 5% of a 0.75-epoch run is 0.0375, though 0.0375 < 0.05 * 0.75 in floats (cpu-next's checkpoints)
    assert claims.early_checkpoint([0, 0.0375, 0.15, 0.75]) == 0.0375
    assert claims.early_checkpoint([0, 0.0374, 0.15, 0.75]) == 0.15
    settled = {0: fake_analysis(similarity=start)}
    settled |= {e: fake_analysis(similarity=learned + 0.01 * sym(rng.normal(size=(10, 10)))) for e in epochs[1:]}
    everywhere = dict.fromkeys(epochs, 0.05)
    assert claims.settles_beyond_noise(settled, everywhere).verdict == claims.HOLDS
    assert claims.settles_beyond_noise(settled, {e: 1.5 for e in epochs}).verdict == claims.INCONCLUSIVE
    moving = {**settled, 0.5: fake_analysis(similarity=sym(rng.normal(size=(10, 10))))}
    assert claims.settles_beyond_noise(moving, everywhere).verdict == claims.FAILS
    assert claims.settles_beyond_noise({0: settled[0], 0.5: settled[0.5]}, everywhere).verdict == claims.UNTESTABLE
    # noise only at the final checkpoint: the early checkpoint's is missing, so not testable, and the
    # mark says what the measured noise would read if borrowed
    final_only = {0: float("nan"), 0.025: float("nan"), 0.05: float("nan"), 0.1: float("nan"), 0.5: 0.05}
    verdict = claims.settles_beyond_noise(settled, final_only)
    assert verdict.verdict == claims.UNTESTABLE and "noise not measured at epoch 0, 0.025" in verdict.ours
    assert verdict.marks[0] == "with the widest noise measured on this model (0.05) borrowed: holds"
    table = claims.settling_table(settled, final_only)
    assert list(table.index) == [0.025, 0.05, 0.1] and set(table["verdict"]) == {"not testable"}
    assert set(table["with the widest measured noise borrowed"]) == {"holds"}


def test_claim_3_marks_another_choice_of_early_that_reads_differently():
    rng = np.random.default_rng(2)

    def sym(m):
        return (m + m.T) / 2

    start, middle, end = (sym(rng.normal(size=(10, 10))) for _ in range(3))
    # the space settles only after 0.1: "early" = 0.025 does not hold, "early" = 0.1 holds
    spaces = {0: fake_analysis(similarity=start), 0.025: fake_analysis(similarity=middle),
              0.1: fake_analysis(similarity=end + 0.01 * sym(rng.normal(size=(10, 10)))),
              0.5: fake_analysis(similarity=end)}
    verdict = claims.settles_beyond_noise(spaces, dict.fromkeys(spaces, 0.05))
    assert verdict.verdict == claims.FAILS and verdict.marks == ("early = 0.1: holds",)


def test_claim_4_sharing_within_phenomena_against_the_band_at_both_ends():
    nan = float("nan")
    grows = {0: 0.01, 0.1: 0.03, 0.5: 0.08}
    assert claims.sharing_grows_beyond_band(grows, {0: 0.02, 0.5: 0.03}, "x").verdict == claims.HOLDS
    assert claims.sharing_grows_beyond_band(grows, {0: 0.02, 0.5: 0.09}, "x").verdict == claims.INCONCLUSIVE
    shrinks = {0: 0.08, 0.5: 0.01}
    assert claims.sharing_grows_beyond_band(shrinks, {0: 0.02, 0.5: 0.03}, "x").verdict == claims.FAILS
    final_only = claims.sharing_grows_beyond_band(grows, {0: nan, 0.5: 0.03}, "x")
    assert final_only.verdict == claims.UNTESTABLE and "band not measured at epoch 0" in final_only.ours
    assert final_only.marks == ("with the widest band measured (0.030) borrowed: holds",)
    elsewhere = claims.sharing_grows_beyond_band(grows, {0: nan, 0.5: nan}, "top 5%", measured_elsewhere=[0.1])
    assert elsewhere.marks == ("with the widest band measured (0.100) borrowed: inconclusive",)
    assert claims.sharing_grows_beyond_band({0: 0.1}, {0: 0.01}, "x").verdict == claims.UNTESTABLE


def test_claim_4_union_of_masks_is_a_secondary_reading():
    grows = {0: 0.10, 0.1: 0.20, 0.5: 0.30}
    verdict = claims.region_grows_beyond_band(grows, 0.05, "top 5%")
    assert verdict.verdict == claims.HOLDS and not verdict.primary
    assert claims.region_grows_beyond_band(grows, 0.25, "top 5%").verdict == claims.INCONCLUSIVE
    dips = claims.region_grows_beyond_band({0: 0.1, 0.1: 0.05, 0.5: 0.3}, 0.01, "x", band_source="the final checkpoint")
    assert dips.verdict == claims.HOLDS
    assert dips.marks == ("band borrowed from the final checkpoint", "shrinks 0 → 0.1 beyond the band")
    assert claims.region_grows_beyond_band({0: 0.3, 0.5: 0.1}, 0.05, "x").verdict == claims.FAILS
    assert claims.region_grows_beyond_band(grows, float("nan"), "x").verdict == claims.UNTESTABLE
    assert claims.region_grows_beyond_band({0: 0.1}, 0.05, "x").verdict == claims.UNTESTABLE


def test_claim_4_union_band_is_unmeasured_where_either_end_is():
    from taskspace_core.findings.training import _union_band

    over_training = {0.0: None, 0.0375: None, 0.75: None}
    assert _union_band({0.0: 0.02, 0.0375: 0.5, 0.75: 0.03}, over_training) == 0.03
    # the final checkpoint's band not measured (its seeds' mask sets missing): a bare max kept 0.02
    assert np.isnan(_union_band({0.0: 0.02, 0.0375: 0.5, 0.75: float("nan")}, over_training))
    assert np.isnan(_union_band({0.0: float("nan"), 0.0375: 0.5, 0.75: 0.03}, over_training))


def test_the_verdict_words_are_exactly_four():
    assert [s.value for s in claims.Status] == ["holds", "does not hold", "inconclusive", "not testable"]
