"""The numbers the claims read, and their declared alternatives, on constructed inputs."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from taskspace_core.analysis import statistics
from taskspace_core.analysis.hypothesis import hypothesis_matrix, within_between, within_phenomenon


def test_claim_2_alternatives_leave_out_small_phenomena_or_weight_by_pairs():
    within = pd.DataFrame({"n_paradigms": [2, 3, 4], "n_pairs": [1, 3, 6], "mean": [0.9, 0.2, 0.1]},
                          index=["ELLIP", "X", "Y"])
    assert statistics.mean_over_phenomena(within) == pytest.approx(0.4)
    alternatives = statistics.phenomenon_weightings(within)
    assert alternatives["phenomena with ≥ 3 paradigms"] == pytest.approx(0.15)
    assert alternatives["pair-weighted"] == pytest.approx((0.9 + 0.6 + 0.6) / 10)


def test_pair_weighted_mean_is_the_mean_over_every_same_phenomenon_pair():
    from taskspace_core.corpora.blimp import phenomena

    names = sorted(p for members in phenomena().values() for p in members)
    rng = np.random.default_rng(0)
    similarity = rng.normal(size=(len(names), len(names)))
    similarity = (similarity + similarity.T) / 2
    pooled = within_between(similarity, names).loc["within", "mean"]
    assert statistics.phenomenon_weightings(within_phenomenon(similarity, names))["pair-weighted"] == pytest.approx(pooled)


def test_mask_sharing_gap_is_within_minus_between_overlap():
    summary = pd.DataFrame({"mean": [0.35, 0.2]}, index=["within", "between"])
    assert statistics.mask_sharing_gap(SimpleNamespace(mask_within_summary=summary)) == pytest.approx(0.15)


def test_every_declared_similarity_definition_is_read_against_the_hypothesis_space():
    names = ["anaphor_gender_agreement", "anaphor_number_agreement", "npi_present_1", "npi_present_2",
             "wh_island", "adjunct_island"]
    hypothesis = hypothesis_matrix(names)
    rng = np.random.default_rng(1)
    transfer = 2.0 * hypothesis + rng.normal(scale=0.3, size=hypothesis.shape)  # phenomenon-shaped transfers
    space = SimpleNamespace(transfer={"effect": transfer})
    r = statistics.hypothesis_r_by_definition(space, SimpleNamespace(hypothesis=hypothesis), "effect")
    assert set(r) == set(statistics.SIMILARITY_DEFINITIONS)
    assert all(v > 0.8 for v in r.values())
