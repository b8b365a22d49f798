import numpy as np
import pandas as pd
import pytest
import torch

from taskspace_core.analysis.accuracy import paradigm_summary, phenomenon_summary
from taskspace_core.corpora import blimp
from taskspace_core.engine.scoring import (
    encode, pad_batch, pad_id_of, plan_batches, plan_pairs, score_packed, score_pairs,
    score_sentence_reference, score_token_ids, shared_prefix, supports_packing, token_logprobs,
)
from taskspace_core.errors import ConfigError
from taskspace_core.lm.models import decoder_and_head

PARADIGMS = ["passive_1", "npi_present_1", "principle_A_case_2", "wh_island",
             "determiner_noun_agreement_1", "sentential_negation_npi_scope"]


@pytest.fixture(scope="module")
def sentences():
    data = blimp.load_blimp(paradigms=PARADIGMS)
    pairs = [p for par in data.values() for p in par.pairs[:6]]
    return [s for p in pairs for s in (p.good, p.bad)]


@pytest.mark.parametrize("bos", ["prepend", "none"])
@pytest.mark.parametrize("batch_tokens", [pytest.param(1, marks=pytest.mark.slow), 24, 2048])
def test_batched_scores_equal_one_at_a_time_reference(ci_model, sentences, bos, batch_tokens):
    model, tokenizer = ci_model
    batched = score_token_ids(model, encode(tokenizer, sentences, bos), batch_tokens=batch_tokens, per_token=True)
    lengths = {len(t) for t in batched.per_token}
    assert len(lengths) > 3  # many lengths, so many batches
    for i, sentence in enumerate(sentences):
        total, per_token = score_sentence_reference(model, tokenizer, sentence, bos=bos)
        assert abs(batched.total[i] - total) < 1e-5
        np.testing.assert_allclose(batched.per_token[i], per_token, atol=1e-5)
        assert batched.total[i] == pytest.approx(batched.per_token[i].astype(np.float64).sum(), abs=1e-4)


def test_bos_policy_decides_whether_the_first_token_is_scored(ci_model):
    model, tokenizer = ci_model
    sentence = "The cats annoy Tim."
    n_tokens = len(tokenizer(sentence, add_special_tokens=False)["input_ids"])
    with_bos = score_token_ids(model, encode(tokenizer, [sentence], "prepend"))
    without = score_token_ids(model, encode(tokenizer, [sentence], "none"))
    assert with_bos.n_scored[0] == n_tokens and without.n_scored[0] == n_tokens - 1
    assert with_bos.total[0] < without.total[0] < 0
    with pytest.raises(ConfigError, match="scoring.bos"):
        encode(tokenizer, [sentence], "append")


def test_score_pairs_rows_and_trained_model_prefers_grammatical(ci_model, ci_checkpoints):
    model, tokenizer = ci_model
    data = blimp.load_blimp(paradigms=["determiner_noun_agreement_1"])
    pairs = list(data["determiner_noun_agreement_1"].pairs[:200])
    df = score_pairs(model, tokenizer, pairs, batch_tokens=512)
    assert list(df.columns[:4]) == ["paradigm", "pair_id", "logp_good", "logp_bad"]
    assert len(df) == 200 and df.pair_id.tolist() == [p.pair_id for p in pairs]
    good_row = df.iloc[0]
    assert good_row.logp_good == pytest.approx(score_sentence_reference(model, tokenizer, pairs[0].good)[0], abs=1e-5)
    # an untrained model spreads probability evenly (about -log V per token); training moves
    # the scores of real sentences far above that
    from taskspace_core.lm.models import load_model

    untrained, _ = load_model(ci_checkpoints[0])
    before = score_pairs(untrained, tokenizer, pairs, batch_tokens=512)
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


def _foreign_model(family, vocab_size):
    """A tiny random GPT-2, GPT-NeoX (Pythia) or OPT model: families the fast path covers, plus one it does not."""
    from transformers import (
        GPT2Config, GPT2LMHeadModel, GPTNeoXConfig, GPTNeoXForCausalLM, OPTConfig, OPTForCausalLM,
    )

    torch.manual_seed(0)
    if family == "gpt2":
        return GPT2LMHeadModel(GPT2Config(vocab_size=vocab_size, n_embd=16, n_layer=1, n_head=2, n_positions=64))
    if family == "gpt_neox":
        return GPTNeoXForCausalLM(GPTNeoXConfig(vocab_size=vocab_size, hidden_size=16, num_hidden_layers=1,
                                                num_attention_heads=2, intermediate_size=32, max_position_embeddings=64))
    return OPTForCausalLM(OPTConfig(vocab_size=vocab_size, hidden_size=16, num_hidden_layers=1, ffn_dim=32,
                                    num_attention_heads=2, max_position_embeddings=64, word_embed_proj_dim=16))


@pytest.mark.parametrize("family", ["llama", "gpt2", "gpt_neox", "opt"])
def test_token_logprobs_match_full_logits_for_every_family(ci_model, sentences, family):
    """The head-on-scored-positions path equals log_softmax of the model's own logits, padded or not."""
    model, tokenizer = ci_model
    if family != "llama":
        model = _foreign_model(family, len(tokenizer)).eval()
    assert (decoder_and_head(model) is None) == (family == "opt")  # OPT goes through the full logits
    ids = encode(tokenizer, sentences[:7], "prepend")
    input_ids, attention = pad_batch(ids, pad_id_of(tokenizer))
    with torch.no_grad():
        fast = token_logprobs(model, input_ids, attention)
        logits = model(input_ids=input_ids, attention_mask=attention).logits[:, :-1]
        full = torch.log_softmax(logits.float(), -1).gather(-1, input_ids[:, 1:, None]).squeeze(-1)
    scored = attention[:, 1:].bool()
    torch.testing.assert_close(fast[scored], full[scored], atol=1e-5, rtol=0)
    assert (fast[~scored] == 0).all()


def test_token_logprobs_are_differentiable_through_the_fast_path(ci_model, sentences):
    model, tokenizer = ci_model
    input_ids, attention = pad_batch(encode(tokenizer, sentences[:4], "prepend"), pad_id_of(tokenizer))
    token_logprobs(model, input_ids, attention).sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads) and any(g.abs().sum() > 0 for g in grads)
    model.zero_grad(set_to_none=True)


@pytest.mark.parametrize("batch_tokens", [1, 30, 4096])
def test_plan_batches_cover_every_sequence_once_in_equal_length_batches(batch_tokens):
    seqs = [[1] * n for n in (5, 3, 5, 1, 9, 3, 3, 5, 2, 9)]
    plan = plan_batches(seqs, batch_tokens)
    seen = []
    for rows, ids in plan.batches:
        assert ids.shape == (len(rows), len(seqs[int(rows[0])]))  # one length per batch, no padding
        assert len(rows) == 1 or ids.numel() <= batch_tokens
        seen += rows.tolist()
    assert sorted(seen) == [i for i, s in enumerate(seqs) if len(s) >= 2]  # the 1-token sequence has nothing to score
    assert plan.n_scored.tolist() == [len(s) - 1 for s in seqs]


def test_packed_pairs_equal_the_reference_including_edge_cases(ci_model, sentences):
    """Shared prefixes scored once give each sentence's own total: ordinary pairs, identical
    sentences, one sentence a prefix of the other, and (bos=none) pairs with no shared prefix."""
    model, tokenizer = ci_model
    assert supports_packing(model)
    good, bad = sentences[0::2], sentences[1::2]
    good += ["The cat sleeps.", "The cat", "The cat sleeps.", "Dogs bark."]
    bad += ["The cat sleeps.", "The cat sleeps.", "The cat", "Cats bark."]
    for bos in ("prepend", "none"):
        g, b = encode(tokenizer, good, bos), encode(tokenizer, bad, bos)
        for batch_tokens in (1, 64, 4096):
            packed = score_packed(model, plan_pairs(g, b, batch_tokens))
            for i, sentence in enumerate(good + bad):
                assert abs(packed.total[i] - score_sentence_reference(model, tokenizer, sentence, bos)[0]) < 1e-5
            assert packed.n_scored.tolist() == [len(s) - 1 for s in g + b]


def test_packed_rows_are_shorter_than_the_two_sentences(ci_model, sentences):
    _, tokenizer = ci_model
    g, b = encode(tokenizer, sentences[0::2], "prepend"), encode(tokenizer, sentences[1::2], "prepend")
    plan = plan_pairs(g, b)
    packed_tokens = sum(batch.input_ids.numel() for batch in plan.batches)
    assert packed_tokens < sum(map(len, g + b))  # every pair shares at least its BOS token
    for batch in plan.batches:  # no position attends to a later one
        assert not (batch.mask[:, 0] & ~torch.ones_like(batch.mask[0, 0]).tril()).any()


@pytest.mark.parametrize("family", ["llama", "gpt2", "gpt_neox", "opt"])
def test_margins_equal_the_one_sentence_reference_for_every_family(ci_model, sentences, family):
    """eval2's margins (scoring.eval2 = "margins"): the shared prefix run once and never projected,
    packed where the family allows it (Llama), one sentence per row otherwise; every margin
    within 1e-5 of the difference of the two sentences' one-at-a-time reference scores."""
    from taskspace_core.engine.probing import ProbeData, evaluate
    from taskspace_core.engine.ftgd import PairIds
    from taskspace_core.config import load_preset

    model, tokenizer = ci_model
    if family != "llama":
        model = _foreign_model(family, len(tokenizer)).eval()
    good, bad = sentences[0::2] + ["The cat sleeps.", "The cat"], sentences[1::2] + ["The cat sleeps.", "The cat sleeps."]
    config = load_preset("ci")
    for bos in ("prepend", "none"):
        test = PairIds(encode(tokenizer, good, bos), encode(tokenizer, bad, bos))
        data = ProbeData(["p"], test, np.zeros(len(good), dtype=int), np.arange(len(good)), {}, pad_id_of(tokenizer),
                         "", batch_tokens=64)
        margins = evaluate(model, data, config, margins=True)["margin"]
        full = evaluate(model, data, config)
        reference = np.array([score_sentence_reference(model, tokenizer, g, bos)[0]
                              - score_sentence_reference(model, tokenizer, b, bos)[0] for g, b in zip(good, bad)])
        np.testing.assert_allclose(margins, reference, atol=1e-5, rtol=0)
        np.testing.assert_allclose(full["logp_good"] - full["logp_bad"], reference, atol=1e-5, rtol=0)
    assert margins[len(good) - 2] == 0.0  # identical sentences: nothing is scored, the margin is exactly 0


def test_margin_plans_score_fewer_positions_than_both_sentences(ci_model, sentences):
    _, tokenizer = ci_model
    g, b = encode(tokenizer, sentences[0::2], "prepend"), encode(tokenizer, sentences[1::2], "prepend")
    full, margins = plan_pairs(g, b), plan_pairs(g, b, margin_only=True)
    predictions = sum(len(batch.rows) for batch in full.batches)
    assert sum(len(batch.rows) for batch in margins.batches) < predictions  # the shared prefixes are not projected
    assert sum(batch.input_ids.numel() for batch in margins.batches) == sum(batch.input_ids.numel() for batch in full.batches)
    unpacked = plan_batches(g + b, 64, skip=[shared_prefix(x, y) - 1 for x, y in zip(g, b)] * 2)
    assert unpacked.n_scored.sum() < sum(len(s) - 1 for s in g + b)
