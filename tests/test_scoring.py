import numpy as np
import pandas as pd
import pytest

from taskspace_core import blimp
from taskspace_core.errors import ConfigError
from taskspace_core.scoring import (
    paradigm_summary, phenomenon_summary, score_pairs, score_sentence_reference, score_sentences,
)

PARADIGMS = ["passive_1", "npi_present_1", "principle_A_case_2", "wh_island",
             "determiner_noun_agreement_1", "sentential_negation_npi_scope"]


@pytest.fixture(scope="module")
def sentences():
    data = blimp.load_blimp(paradigms=PARADIGMS)
    pairs = [p for par in data.values() for p in par.pairs[:6]]
    return [s for p in pairs for s in (p.good, p.bad)]


@pytest.mark.parametrize("bos", ["prepend", "none"])
@pytest.mark.parametrize("batch_size", [1, 3, 8, 64])
def test_batched_scores_equal_one_at_a_time_reference(ci_model, sentences, bos, batch_size):
    model, tokenizer = ci_model
    batched = score_sentences(model, tokenizer, sentences, bos=bos, batch_size=batch_size, per_token=True)
    lengths = {len(t) for t in batched.per_token}
    assert len(lengths) > 3  # the batches really are ragged, so padding is exercised
    for i, sentence in enumerate(sentences):
        total, per_token = score_sentence_reference(model, tokenizer, sentence, bos=bos)
        assert abs(batched.total[i] - total) < 1e-5
        np.testing.assert_allclose(batched.per_token[i], per_token, atol=1e-5)
        assert batched.total[i] == pytest.approx(batched.per_token[i].astype(np.float64).sum(), abs=1e-4)


def test_bos_policy_decides_whether_the_first_token_is_scored(ci_model):
    model, tokenizer = ci_model
    sentence = "The cats annoy Tim."
    n_tokens = len(tokenizer(sentence, add_special_tokens=False)["input_ids"])
    with_bos = score_sentences(model, tokenizer, [sentence], bos="prepend")
    without = score_sentences(model, tokenizer, [sentence], bos="none")
    assert with_bos.n_scored[0] == n_tokens and without.n_scored[0] == n_tokens - 1
    assert with_bos.total[0] < without.total[0] < 0
    with pytest.raises(ConfigError, match="scoring.bos"):
        score_sentences(model, tokenizer, [sentence], bos="append")


def test_score_pairs_rows_and_trained_model_prefers_grammatical(ci_model, ci_checkpoints):
    model, tokenizer = ci_model
    data = blimp.load_blimp(paradigms=["determiner_noun_agreement_1"])
    pairs = list(data["determiner_noun_agreement_1"].pairs[:200])
    df = score_pairs(model, tokenizer, pairs, batch_size=32)
    assert list(df.columns[:4]) == ["paradigm", "pair_id", "logp_good", "logp_bad"]
    assert len(df) == 200 and df.pair_id.tolist() == [p.pair_id for p in pairs]
    good_row = df.iloc[0]
    assert good_row.logp_good == pytest.approx(score_sentence_reference(model, tokenizer, pairs[0].good)[0], abs=1e-5)
    # an untrained model spreads probability evenly (about -log V per token); training moves
    # the scores of real sentences far above that
    from taskspace_core.models import load_model

    untrained, _ = load_model(ci_checkpoints[0])
    before = score_pairs(untrained, tokenizer, pairs, batch_size=32)
    per_token_before = (before.logp_good / before.n_tokens_good).mean()
    assert per_token_before == pytest.approx(-np.log(len(tokenizer)), abs=0.3)
    assert (df.logp_good / df.n_tokens_good).mean() > per_token_before + 1.0


def test_summaries_count_ties_as_wrong():
    df = pd.DataFrame({
        "paradigm": ["passive_1"] * 4 + ["passive_2"] * 2,
        "pair_id": [0, 1, 2, 3, 0, 1],
        "logp_good": [-1.0, -2.0, -3.0, -4.0, -1.0, -5.0],
        "logp_bad": [-2.0, -1.0, -3.0, -6.0, -2.0, -4.0],
    })
    per = paradigm_summary(df)
    assert per.loc["passive_1", "accuracy"] == 0.5  # 2 of 4; the tie is wrong
    assert per.loc["passive_1", "mean_margin"] == pytest.approx((1 - 1 + 0 + 2) / 4)
    assert per.loc["passive_2", "accuracy"] == 0.5
    phen = phenomenon_summary(df)
    assert phen.loc["ARG-S", "n_paradigms"] == 2 and phen.loc["ARG-S", "n_pairs"] == 6
    assert phen.loc["ARG-S", "accuracy"] == 0.5
