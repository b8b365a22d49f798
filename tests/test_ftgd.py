"""FTGD: the differential, the mask rules, bit-identical masked coordinates, and that it learns."""

import copy
import dataclasses

import numpy as np
import pytest
import torch

from taskspace_core.config import FTGDConfig
from taskspace_core.corpora import blimp
from taskspace_core.corpora.pairs import split_pairs
from taskspace_core.engine.ftgd import (
    PairIds, batch_schedule, differential_gradient, finetune, objective, parameter_group, restore,
    select_mask, snapshot,
)
from taskspace_core.engine.scoring import encode, pad_id_of

PARADIGM = "anaphor_number_agreement"  # a paradigm even the ci model can learn to generalise


@pytest.fixture(scope="module")
def pairs(ci_model):
    _, tokenizer = ci_model
    train, test = split_pairs(blimp.load_blimp(paradigms=[PARADIGM])[PARADIGM], 60, 64, 0)
    as_ids = lambda ps: PairIds(encode(tokenizer, [p.good for p in ps]), encode(tokenizer, [p.bad for p in ps]))  # noqa: E731
    return as_ids(train), as_ids(test), pad_id_of(tokenizer)


def fresh(ci_model):
    return copy.deepcopy(ci_model[0])


def params_of(model):
    return [p for _, p in model.named_parameters()]


def test_differential_is_grad_nll_good_minus_grad_nll_bad(ci_model, pairs):
    """One batched backward pass equals the per-sentence gradients, differenced and averaged."""
    model, (train, _, pad_id) = fresh(ci_model), pairs
    few = train.subset(range(5))
    grads = differential_gradient(model, params_of(model), few, FTGDConfig(batch_size=2), pad_id)

    def sentence_grad(ids):
        model.zero_grad()
        logits = model(input_ids=torch.tensor([ids])).logits[0, :-1]
        nll = -torch.log_softmax(logits, -1)[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].sum()
        nll.backward()
        return [p.grad.clone() for p in params_of(model)]

    expected = [torch.zeros_like(p) for p in params_of(model)]
    for good, bad in zip(few.good, few.bad):
        for e, g_good, g_bad in zip(expected, sentence_grad(good), sentence_grad(bad)):
            e += (g_good - g_bad) / len(few)
    for got, want in zip(grads, expected):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    summed = differential_gradient(model, params_of(model), few, FTGDConfig(mask_reduction="sum"), pad_id)
    torch.testing.assert_close(summed[0], grads[0] * len(few), atol=1e-5, rtol=1e-4)


def test_threshold_and_top_fraction_masks():
    grads = [torch.tensor([0.5, -2e-3, 1e-4, 0.0]), torch.tensor([[1e-3, -1e-3], [9e-4, 3.0]])]
    by_threshold = select_mask(grads, FTGDConfig(mask_rule="threshold", threshold=1e-3))
    assert by_threshold[0].tolist() == [True, True, False, False]
    assert by_threshold[1].tolist() == [[True, True], [False, True]]
    top = select_mask(grads, FTGDConfig(mask_rule="top_fraction", top_fraction=0.25))  # 2 of 8
    assert top[0].tolist() == [True, False, False, False] and top[1].tolist() == [[False, False], [False, True]]



def test_a_random_mask_keeps_the_gradient_rules_count_and_differs_by_paradigm():
    grads = [torch.tensor([0.5, -2e-3, 1e-4, 0.0]), torch.tensor([[1e-3, -1e-3], [9e-4, 3.0]])]
    gradient = select_mask(grads, FTGDConfig(threshold=1e-3))
    cfg = FTGDConfig(threshold=1e-3, mask_selection="random")
    a, b = PairIds([[1, 2, 3]], [[1, 2, 4]]), PairIds([[1, 5, 3]], [[1, 5, 4]])
    drawn = select_mask(grads, cfg, a)
    assert sum(int(m.sum()) for m in drawn) == sum(int(m.sum()) for m in gradient) == 5
    assert [m.shape for m in drawn] == [m.shape for m in gradient]
    again = select_mask(grads, cfg, a)
    assert all(torch.equal(x, y) for x, y in zip(drawn, again))  # seeded: the same pairs draw the same mask
    big = [torch.randn(1000), torch.randn(50, 40)]
    draws = [torch.cat([m.flatten() for m in select_mask(big, FTGDConfig(mask_rule="top_fraction", top_fraction=0.1,
                                                                          mask_selection="random"), pairs)])
             for pairs in (a, b)]
    top = torch.cat([m.flatten() for m in select_mask(big, FTGDConfig(mask_rule="top_fraction", top_fraction=0.1))])
    assert int(draws[0].sum()) == int(draws[1].sum()) == int(top.sum()) == 300
    assert not torch.equal(draws[0], draws[1])  # another paradigm's pairs draw another mask
    # uniform over every parameter: about 10% of each tensor, unlike the gradient's choice
    overlap = int((draws[0] & top).sum())
    assert overlap < 80  # chance overlap is about 30 of 300

@pytest.mark.parametrize("optimizer,mask_from", [
    ("sgd", "train"), ("adam", "train"), ("adamw", "train"), ("adamw", "step"), ("adam", "first_batch"),
])
def test_masked_coordinates_stay_bit_identical(ci_model, pairs, optimizer, mask_from):
    model, (train, _, pad_id) = fresh(ci_model), pairs
    before = snapshot(model)
    cfg = FTGDConfig(optimizer=optimizer, mask_from=mask_from, weight_decay=0.1, lr=1e-2, steps=4, batch_size=16,
                     mask_rule="top_fraction", top_fraction=0.05)
    result = finetune(model, train, cfg, pad_id)
    assert 0.04 <= result.mask_share <= 0.2 if mask_from == "step" else 0.049 <= result.mask_share <= 0.06
    moved = 0
    for p, old, mask in zip(params_of(model), before, result.mask):
        assert torch.equal(p[~mask], old[~mask])  # exactly, not approximately
        moved += int((p[mask] != old[mask]).sum())
    assert moved > 0.5 * result.n_masked  # and the free coordinates did move


def test_restore_puts_base_weights_back_bit_for_bit(ci_model, pairs):
    model, (train, _, pad_id) = fresh(ci_model), pairs
    base = snapshot(model)
    finetune(model, train, FTGDConfig(steps=3, batch_size=8), pad_id)
    assert any(not torch.equal(p, b) for p, b in zip(params_of(model), base))
    restore(model, base)
    assert all(torch.equal(p, b) for p, b in zip(params_of(model), base))


@pytest.mark.slow
def test_ftgd_raises_the_tuned_paradigms_margin(ci_model, pairs):
    """On a small trained model, FTGD on a paradigm improves that paradigm's held-out test pairs."""
    from taskspace_core.engine.ftgd import pair_margins

    model, (train, test, pad_id) = fresh(ci_model), pairs
    with torch.no_grad():
        before = pair_margins(model, test, pad_id, "cpu")
    result = finetune(model, train, FTGDConfig(steps=20, batch_size=32, lr=5e-3), pad_id)
    with torch.no_grad():
        after = pair_margins(model, test, pad_id, "cpu")
    assert result.log[-1]["objective"] < result.log[0]["objective"]
    assert after.mean() > before.mean() + 0.5
    assert (after > 0).float().mean() > (before > 0).float().mean()


def test_plain_finetuning_frees_every_parameter_and_lowers_the_good_sentences_nll(ci_model, pairs):
    model, (train, _, pad_id) = fresh(ci_model), pairs
    result = finetune(model, train, FTGDConfig(method="plain", steps=6, batch_size=16, lr=1e-2), pad_id)
    assert result.mask_share == 1.0
    assert np.isnan(result.log[0]["batch_margin"])
    assert result.log[-1]["objective"] < result.log[0]["objective"]


def test_objectives_are_bounded_except_the_differential():
    margins = torch.tensor([1e3, 2e3])
    assert objective(margins, FTGDConfig(objective="logistic")) >= 0
    assert objective(margins, FTGDConfig(objective="hinge")) == 0
    assert objective(margins, FTGDConfig(objective="differential")) == -1.5e3


def test_batch_schedule_is_seeded_and_covers_the_pairs():
    a, b = batch_schedule(10, 5, 4, seed=1), batch_schedule(10, 5, 4, seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert len(a) == 5 and all(len(x) == 4 for x in a)
    assert set(np.concatenate(a[:2]).tolist() + a[2][:2].tolist()) == set(range(10))  # one full pass first
    assert not all(np.array_equal(x, y) for x, y in zip(a, batch_schedule(10, 5, 4, seed=2)))


@pytest.mark.parametrize("name,group", [
    ("model.embed_tokens.weight", (-1, "embed")),
    ("model.layers.3.self_attn.q_proj.weight", (3, "attn")),
    ("model.layers.0.mlp.down_proj.weight", (0, "mlp")),
    ("model.layers.2.input_layernorm.weight", (2, "norm")),
    ("model.norm.weight", (10_000, "norm")),
    ("transformer.h.5.attn.c_attn.weight", (5, "attn")),
    ("transformer.h.1.ln_2.bias", (1, "norm")),
    ("transformer.wte.weight", (-1, "embed")),
    ("gpt_neox.layers.7.attention.dense.weight", (7, "attn")),
    ("gpt_neox.layers.7.mlp.dense_h_to_4h.weight", (7, "mlp")),
    ("embed_out.weight", (-1, "embed")),
    ("lm_head.weight", (10_000, "head")),
])
def test_parameter_groups(name, group):
    assert parameter_group(name) == group


def test_finetune_refuses_an_empty_training_split(ci_model):
    with pytest.raises(ValueError, match="n_train"):
        finetune(fresh(ci_model), PairIds([], []), dataclasses.replace(FTGDConfig()), 0)
