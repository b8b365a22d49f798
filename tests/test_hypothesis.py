"""Hypothesis space, Mantel tests, within-phenomenon tables and the similarity matrices."""

import numpy as np
import pytest

from taskspace_core.analysis.hypothesis import (
    compare, correlations, hypothesis_matrix, mantel, off_diagonal, rankdata, within_between,
    within_phenomenon,
)
from taskspace_core.analysis.similarity import (
    SIMILARITY_KINDS, critical_overlap, critical_words, double_centred, lexical_overlap, mask_jaccard, offdiag_pearson,
    transfer_similarity,
)
from taskspace_core.corpora import blimp

NAMES = sorted(blimp.PARADIGM_TERMS)


def random_symmetric(n, seed):
    x = np.random.default_rng(seed).normal(size=(n, n))
    x = (x + x.T) / 2
    np.fill_diagonal(x, 1.0)
    return x


def test_hypothesis_matrix_groups_paradigms_by_phenomenon():
    h = hypothesis_matrix(NAMES)
    assert h.shape == (67, 67) and np.array_equal(h, h.T) and np.all(np.diag(h) == 1)
    i, j = NAMES.index("anaphor_gender_agreement"), NAMES.index("anaphor_number_agreement")
    k = NAMES.index("wh_island")
    assert h[i, j] == 1 and h[i, k] == 0
    sizes = [len(v) for v in blimp.phenomena("12").values()]
    assert off_diagonal(h).sum() == sum(s * (s - 1) // 2 for s in sizes)
    # the 13-label taxonomy separates s-selection from argument structure
    assert off_diagonal(hypothesis_matrix(NAMES, "13")).sum() < off_diagonal(h).sum()


def test_mantel_large_p_on_noise_small_p_on_planted_blocks():
    h = hypothesis_matrix(NAMES)
    noise = random_symmetric(67, seed=1)
    assert mantel(noise, h, permutations=999, seed=0).p > 0.05
    planted = 0.5 * h + random_symmetric(67, seed=2) * 0.5
    result = mantel(planted, h, permutations=999, seed=0)
    assert result.r > 0.3 and result.p == pytest.approx(1 / 1000)
    spearman = mantel(planted, h, permutations=199, seed=0, method="spearman")
    assert spearman.p < 0.01
    assert spearman.r == pytest.approx(correlations(planted, h)["spearman"], abs=1e-9)


def test_mantel_observed_statistic_is_the_pearson_correlation():
    h, s = hypothesis_matrix(NAMES), random_symmetric(67, seed=3)
    assert mantel(s, h, permutations=0).r == pytest.approx(correlations(s, h)["pearson"], abs=1e-12)


def test_partial_mantel_removes_what_the_control_explains():
    h = hypothesis_matrix(NAMES)
    lexical = 0.8 * h + 0.2 * random_symmetric(67, seed=4)  # a control that tracks the hypothesis
    explained = 2 * lexical + 1  # a similarity that is only the control
    plain = mantel(explained, h, permutations=99)
    partial = mantel(explained, h, permutations=99, control=lexical)
    assert plain.r > 0.8 and partial.r == pytest.approx(0.0, abs=1e-9) and partial.p > 0.2
    beyond = lexical + 0.5 * h  # structure by phenomenon beyond the control
    assert mantel(beyond, h, permutations=199, control=lexical).p < 0.01


def test_partial_mantel_on_two_controls_removes_what_either_explains():
    h = hypothesis_matrix(NAMES)
    lexical = 0.6 * h + 0.4 * random_symmetric(67, seed=5)
    critical = 0.6 * h + 0.4 * random_symmetric(67, seed=6)
    explained = lexical + 2 * critical  # only the two controls
    assert mantel(explained, h, permutations=99, control=lexical).r > 0.3  # one control leaves the other
    both = mantel(explained, h, permutations=99, control=[lexical, critical])
    assert both.r == pytest.approx(0.0, abs=1e-9) and both.p > 0.2
    beyond = explained + 0.5 * h
    assert mantel(beyond, h, permutations=199, control=[lexical, critical]).p < 0.01
    # one control in a list is the same test as that control alone; a duplicated control changes nothing
    single = mantel(beyond, h, permutations=99, control=lexical)
    assert mantel(beyond, h, permutations=99, control=[lexical]) == single
    assert mantel(beyond, h, permutations=99, control=[lexical, lexical]).r == pytest.approx(single.r, abs=1e-9)
    # Spearman: the controls are ranked too, so a control that is only the ranks explains everything
    ranks_only = np.zeros((67, 67))
    ranks_only[np.triu_indices(67, 1)] = rankdata(off_diagonal(lexical))
    ranks_only = ranks_only + ranks_only.T
    assert mantel(ranks_only, h, permutations=0, method="spearman", control=[lexical, critical]).r == pytest.approx(0, abs=1e-9)


@pytest.mark.parametrize("good, bad, words", [
    ("The cat sleeps.", "The cat sleep.", ["sleeps", "sleep"]),
    ("She saw him.", "She saw.", ["him"]),
    ("Who did you see?", "Who you did see?", ["you", "you"]),  # the word that moved
    ("Many girls insulted themselves.", "Many girls insulted herself.", ["themselves", "herself"]),
])
def test_critical_words_are_where_a_pair_differs(good, bad, words):
    assert critical_words(good, bad) == words


def test_critical_overlap_weighs_the_words_pairs_turn_on():
    paradigms = blimp.load_blimp(paradigms=["anaphor_gender_agreement", "anaphor_number_agreement",
                                            "regular_plural_subject_verb_agreement_1"])
    names = list(paradigms)
    overlap = critical_overlap(paradigms, names)
    assert np.array_equal(overlap, overlap.T) and np.all(np.diag(overlap) == 1)
    assert ((overlap >= 0) & (overlap <= 1)).all()
    # the two anaphor paradigms both turn on reflexives; subject-verb agreement on verb forms
    assert overlap[0, 1] > 0.1 > overlap[0, 2]


def test_a_stack_of_similarities_pools_its_values_so_two_paradigm_phenomena_have_a_std():
    h = hypothesis_matrix(NAMES)
    rows, columns = np.where(h == 1, 0.6, 0.0), np.where(h == 1, 0.2, 0.0)
    table = within_phenomenon(np.stack([rows, columns]), NAMES)
    assert table.loc["ELLIP", "n_pairs"] == 1 and table.loc["ELLIP", "mean"] == pytest.approx(0.4)
    assert table.loc["ELLIP", "std"] == pytest.approx(0.2)  # two values for its one pair
    assert table.loc["DN-AGR", "n_pairs"] == 28
    assert within_phenomenon(rows, NAMES).loc["ELLIP", "std"] == 0  # one matrix: one value a pair


def test_within_phenomenon_table_on_a_planted_matrix():
    h = hypothesis_matrix(NAMES)
    s = np.where(h == 1, 0.6, -0.1)
    a, b = NAMES.index("anaphor_gender_agreement"), NAMES.index("anaphor_number_agreement")
    s[a, b] = s[b, a] = 0.2
    table = within_phenomenon(s, NAMES)
    assert table.loc["A-AGR", "mean"] == pytest.approx(0.2) and table.loc["A-AGR", "std"] == 0
    assert table.loc["DN-AGR", "n_paradigms"] == 8 and table.loc["DN-AGR", "n_pairs"] == 28
    assert table.loc["DN-AGR", "mean"] == pytest.approx(0.6)
    assert list(table.index) == sorted(blimp.phenomena("12"))  # phenomena only: no summary rows to drop
    summary = within_between(s, NAMES)
    assert list(summary.index) == ["within", "between"] and summary.loc["between", "mean"] == pytest.approx(-0.1)
    assert summary.loc["within", "n_pairs"] + summary.loc["between", "n_pairs"] == len(NAMES) * (len(NAMES) - 1) // 2
    comparison = compare(s, NAMES, permutations=99, control=lexical_overlap(blimp.load_blimp(paradigms=NAMES), NAMES))
    assert comparison.within_mean == pytest.approx(summary.loc["within", "mean"])
    assert comparison.within_mean > comparison.between_mean and comparison.pearson > 0.9
    assert comparison.partial_mantel_pearson.p < 0.05


def test_rankdata_averages_ties():
    assert rankdata(np.array([3.0, 1.0, 3.0, 2.0])).tolist() == [3.5, 1.0, 3.5, 2.0]


def test_transfer_similarity_kinds():
    rng = np.random.default_rng(0)
    t = rng.normal(size=(6, 6))
    t[1] = 2 * t[0] + 1  # rows 0 and 1 are the same profile up to scale...
    t[1, 1], t[0, 0] = 50.0, -50.0  # ...except their own diagonal entries, which profile similarity ignores
    for kind in SIMILARITY_KINDS:
        s = transfer_similarity(t, kind)
        assert np.allclose(s, s.T) and np.allclose(np.diag(s), 1)
    assert transfer_similarity(t, "rows")[0, 1] == pytest.approx(1.0)
    assert transfer_similarity(t, "mutual")[2, 3] == pytest.approx((t[2, 3] + t[3, 2]) / 2)
    s = transfer_similarity(t, "profile")
    assert s[0, 1] == pytest.approx((1.0 + transfer_similarity(t, "columns")[0, 1]) / 2)
    flat = t.copy()
    flat[4] = 0.0  # no variation: no information, similarity 0
    assert transfer_similarity(flat, "rows")[4, 2] == 0.0
    with pytest.raises(ValueError):
        transfer_similarity(t[:3], "profile")



def test_double_centring_removes_source_shifts_and_target_susceptibilities():
    rng = np.random.default_rng(3)
    specific = rng.normal(size=(5, 5))
    shift, susceptibility = rng.normal(size=(5, 1)) * 10, rng.normal(size=(1, 5)) * 10
    t = specific + shift + susceptibility
    np.fill_diagonal(t, 100.0)  # self-transfer: left out of every mean, kept as it was
    centred = double_centred(t)
    assert np.allclose(np.diag(centred), 100.0)
    off = ~np.eye(5, dtype=bool)
    # what is left depends only on the pair-specific part: the additive shifts are gone
    assert np.allclose(centred[off], double_centred(np.where(off, specific, 100.0))[off])
    assert abs(np.nanmean(np.where(off, centred, np.nan))) < 1e-12
    s = transfer_similarity(t, "centred")
    assert s[1, 3] == pytest.approx((centred[1, 3] + centred[3, 1]) / 2)
    assert offdiag_pearson(transfer_similarity(t, "mutual"), s) < 0.9  # the raw one is dominated by the shifts

def test_mask_jaccard_matches_set_arithmetic():
    rng = np.random.default_rng(1)
    masks = rng.random((4, 1000)) < [[0.1], [0.3], [0.5], [0.0]]
    got = mask_jaccard(masks, chunk=128)
    for p in range(4):
        for q in range(4):
            a, b = set(np.flatnonzero(masks[p])), set(np.flatnonzero(masks[q]))
            want = 1.0 if p == q else (len(a & b) / len(a | b) if a | b else 0.0)
            assert got[p, q] == pytest.approx(want)


def test_lexical_overlap_is_a_bounded_symmetric_similarity():
    names = ["determiner_noun_agreement_1", "determiner_noun_agreement_2", "wh_island"]
    lexical = lexical_overlap(blimp.load_blimp(paradigms=names), names)
    assert np.allclose(lexical, lexical.T) and np.all((lexical >= 0) & (lexical <= 1))
    assert lexical[0, 1] > lexical[0, 2]  # the two DN-AGR paradigms share their vocabulary templates
