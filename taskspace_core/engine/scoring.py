"""Minimal-pair scoring: exact summed log-probabilities, batched.

A sentence's score is the sum of its tokens' log-probabilities (BLiMP's "simple LM method").
The BOS / first-token policy is explicit and recorded in every result:

- ``bos="prepend"`` (default): the tokenizer's BOS token (ours: ``<|endoftext|>``, the same
  token that separates documents in pretraining) is put in front, and *every* token of the
  sentence is scored: ``log p(w_1 .. w_n | BOS)``. This matches lm-evaluation-harness, which
  conditions on the end-of-text token, and minicons with ``bos_token=True``.
- ``bos="none"``: nothing is prepended, so the first token is context only and unscored:
  ``log p(w_2 .. w_n | w_1)``. Comparisons of pairs whose first tokens differ are then
  unfair, which is why it is not the default.

Evaluation batches hold rows of one length, so nothing is padded, and the vocabulary
projection and log-softmax run on scored positions only. A minimal pair's shared prefix is
computed once (:class:`PackedPlan`: prefix + both continuations in one row under a
tree-shaped mask) for model families where that is exact and tested; otherwise sentences are
scored one per row (:class:`ScoringPlan`). Training batches
(FTGD) are right-padded with an attention mask, which with a causal model never influences
real positions. Either way the scores equal the one-sentence-at-a-time reference
(:func:`score_sentence_reference`, the model's own full logits) up to float rounding (tested
to 1e-5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..corpora.blimp import Pair
from ..errors import ConfigError
from ..lm.models import decoder_and_head
from ..lm.precision import autocast

BOS_POLICIES = ("prepend", "none")


@dataclass(frozen=True)
class SentenceScores:
    total: np.ndarray  # (n_sentences,) float64: summed log-prob of the scored tokens
    n_scored: np.ndarray  # (n_sentences,) int: number of tokens that were scored
    per_token: list[np.ndarray] | None  # per sentence, (n_scored,) float32 log-probs, if asked


def encode(tokenizer, sentences: list[str], bos: str = "prepend") -> list[list[int]]:
    """Token ids per sentence; position 0 is context only, positions 1.. are scored."""
    if bos not in BOS_POLICIES:
        raise ConfigError(f"scoring.bos must be one of {BOS_POLICIES}, got '{bos}'")
    ids = tokenizer(list(sentences), add_special_tokens=False)["input_ids"]
    if bos == "prepend":
        bos_id = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        if bos_id is None:
            raise ConfigError("scoring.bos='prepend' but the tokenizer has no BOS or EOS token")
        ids = [[bos_id] + x for x in ids]
    return ids


def pad_id_of(tokenizer) -> int:
    """The id used for right-padding (never scored)."""
    for token_id in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0):
        if token_id is not None:
            return token_id
    return 0


def pad_batch(seqs: list[list[int]], pad_id: int, device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id sequences into ``input_ids`` and ``attention_mask``, both (B, T_max)."""
    width = max(len(s) for s in seqs)
    input_ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        input_ids[row, : len(seq)] = torch.tensor(seq)
        attention[row, : len(seq)] = 1
    return input_ids.to(device), attention.to(device)


HEAD_CHUNK_ROWS = 1024  # (rows, vocab) logits per chunk at inference: 32 MB at a vocabulary of 8192


def _target_logprobs(head, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(n,) log p(target_i | hidden_i) for hidden (n, d): one fused log-softmax + gather per chunk."""
    rows = len(hidden) if torch.is_grad_enabled() else HEAD_CHUNK_ROWS
    return torch.cat([
        -F.cross_entropy(head(h).float(), t, reduction="none")
        for h, t in zip(hidden.split(rows), targets.split(rows))
    ])


def token_logprobs(model, input_ids: torch.Tensor, attention: torch.Tensor | None = None,
                   first: torch.Tensor | None = None) -> torch.Tensor:
    """(B, T-1) log-probs of tokens 1.. given their prefixes; 0 at padding. Differentiable.

    ``attention`` is the (B, T) padding mask of right-padded rows; None means no padding.
    ``first`` (B,) skips each row's predictions before that one (they count as 0): a pair's
    shared prefix, which cancels in its margin. Only scored positions go through the vocabulary
    projection and the log-softmax, which for small models is a large share of the work.
    """
    targets = input_ids[:, 1:]  # (B, T-1): token t+1 is predicted at position t
    scored = None if attention is None else attention[:, 1:].bool()
    if first is not None:  # (B, T-1): prediction t is scored from the row's first on
        kept = torch.arange(targets.shape[1], device=targets.device)[None, :] >= first[:, None]
        scored = kept if scored is None else scored & kept
    split = decoder_and_head(model)
    if split is None:
        hidden = model(input_ids=input_ids, attention_mask=attention).logits[:, :-1]  # (B, T-1, V)
        head = torch.nn.Identity()
    else:
        decoder, head = split
        hidden = decoder(input_ids=input_ids, attention_mask=attention).last_hidden_state[:, :-1]  # (B, T-1, d)
    if scored is None:
        return _target_logprobs(head, hidden.flatten(0, 1), targets.flatten()).view(targets.shape)
    values = _target_logprobs(head, hidden[scored], targets[scored])  # (n_scored,)
    return torch.zeros(targets.shape, dtype=values.dtype, device=values.device).masked_scatter(scored, values)


@dataclass(frozen=True)
class ScoringPlan:
    """A fixed list of id sequences cut into batches once, and reused by every evaluation.

    Every batch holds sequences of one length, so there is no padding and no attention mask:
    the model runs its plain causal path and computes no token that is not scored. Batches
    hold up to ``batch_tokens`` tokens, longest sequences first.
    """

    n_scored: np.ndarray  # (n,) tokens scored per sequence (its length - 1, less what ``skip`` drops)
    batches: list[tuple[torch.Tensor, torch.Tensor]]  # (rows (B,): indices into the sequences, ids (B, T))
    skip: np.ndarray | None = None  # (n,) leading predictions of each sequence left unscored (None: none)

    def __len__(self) -> int:
        return len(self.n_scored)


def length_batches(lengths: list[int], batch_tokens: int):
    """Yield (length, indices) groups of equal ``lengths``, longest first, each <= batch_tokens tokens (>= 1 row)."""
    by_length: dict[int, list[int]] = {}
    for i, length in enumerate(lengths):
        by_length.setdefault(length, []).append(i)
    for length in sorted(by_length, reverse=True):
        members, rows = by_length[length], max(1, batch_tokens // length)
        for start in range(0, len(members), rows):
            yield length, members[start : start + rows]


def plan_batches(seqs: list[list[int]], batch_tokens: int = 2048, skip: list[int] | None = None) -> ScoringPlan:
    """Group sequences by length into batches of at most ``batch_tokens`` tokens (at least one row);
    ``skip[i]``: how many leading predictions of sequence i to leave unscored."""
    batches = [(torch.tensor(chunk), torch.tensor([seqs[i] for i in chunk]))
               for length, chunk in length_batches([len(s) for s in seqs], batch_tokens)
               if length >= 2]  # a 1-token sequence has nothing to score: its total stays 0
    skipped = np.zeros(len(seqs), dtype=int) if skip is None else np.asarray(skip, dtype=int)
    n_scored = np.array([max(len(s) - 1 - k, 0) for s, k in zip(seqs, skipped)])
    return ScoringPlan(n_scored, batches, None if skip is None else skipped)


@torch.inference_mode()
def score_plan(model, plan: ScoringPlan, device: str = "cpu", per_token: bool = False) -> SentenceScores:
    """Summed (float64) and optionally per-token log-probs of every sequence of ``plan``."""
    model.eval()
    totals = torch.zeros(len(plan), dtype=torch.float64)
    tokens: list[np.ndarray] = [np.zeros(0, dtype=np.float32)] * len(plan)
    for rows, input_ids in plan.batches:
        first = None if plan.skip is None else torch.from_numpy(plan.skip[rows.numpy()]).to(device)
        token_logp = token_logprobs(model, input_ids.to(device), first=first).cpu()  # (B, T-1)
        totals[rows] = token_logp.double().sum(1)
        if per_token:
            for row, i in enumerate(rows.tolist()):
                tokens[i] = token_logp[row].numpy().copy()
    return SentenceScores(totals.numpy(), plan.n_scored, tokens if per_token else None)


# --------------------------------------------------------------------------- shared prefixes
# The two sentences of a minimal pair usually share a prefix (BOS, "The", ...), and in a causal
# model its hidden states, and the log-probs of its tokens, are the same in both. A pair is
# therefore packed into one row, prefix + good continuation + bad continuation, with a
# tree-shaped attention mask (the bad continuation sees the prefix, not the good one) and
# position ids that restart the bad continuation where the prefix ends.
PACKED_MODEL_TYPES = frozenset({"llama", "mistral", "qwen2"})  # rotary positions from position_ids


def supports_packing(model) -> bool:
    """Whether ``model`` scores packed pairs exactly: a family tested with custom 4-D masks, sdpa attention."""
    config = model.config
    return (getattr(config, "model_type", None) in PACKED_MODEL_TYPES
            and getattr(config, "_attn_implementation", None) == "sdpa" and decoder_and_head(model) is not None)


@dataclass(frozen=True)
class PackedBatch:
    """Pairs packed into rows of one length L, and which log-prob goes to which sentence."""

    input_ids: torch.Tensor  # (B, L)
    position_ids: torch.Tensor  # (B, L)
    mask: torch.Tensor  # (B, 1, L, L) bool: True where a position may attend
    rows: torch.Tensor  # (P,) flat index into the B * L hidden states of each prediction
    targets: torch.Tensor  # (P,) the token each prediction scores
    owner: torch.Tensor  # (C,) sentence each contribution is added to
    source: torch.Tensor  # (C,) index into the P predictions (a shared-prefix one appears twice)


@dataclass(frozen=True)
class PackedPlan:
    """Good and bad sentences of n pairs, packed pair by pair (sentence i: good, n + i: bad)."""

    n_scored: np.ndarray  # (2n,)
    batches: list[PackedBatch]

    def __len__(self) -> int:
        return len(self.n_scored)


def shared_prefix(good: list[int], bad: list[int]) -> int:
    """How many leading tokens the two sentences of a pair share."""
    k = 0
    while k < min(len(good), len(bad)) and good[k] == bad[k]:
        k += 1
    return k


def _pack_pair(good: list[int], bad: list[int], margin_only: bool = False):
    """One packed row: ids, positions, branch of each position, and its predictions. With
    ``margin_only`` the shared prefix's own predictions are left out: they are the same in both
    sentences, so they cancel in the pair's margin (the prefix is still run: both continuations
    attend to it)."""
    k = shared_prefix(good, bad)
    ids = good + bad[k:]
    positions = list(range(len(good))) + list(range(k, len(bad)))
    branch = [0] * k + [1] * (len(good) - k) + [2] * (len(bad) - k)
    predictions, good_of, bad_of = [], [], []  # (position, target); contributions per sentence
    for t in range(max(k, 1) if margin_only else 1, len(good)):  # good token t is predicted at position t - 1
        predictions.append((t - 1, good[t]))
        good_of.append(len(predictions) - 1)
        if t < k:  # inside the shared prefix: the same prediction counts for the bad sentence
            bad_of.append(len(predictions) - 1)
    for t in range(max(k, 1), len(bad)):  # the bad continuation (token k is predicted from the prefix)
        predictions.append((t - 1 if t <= k else len(good) + (t - 1 - k), bad[t]))
        bad_of.append(len(predictions) - 1)
    return ids, positions, branch, predictions, good_of, bad_of


def plan_pairs(good: list[list[int]], bad: list[list[int]], batch_tokens: int = 2048,
               margin_only: bool = False) -> PackedPlan:
    """Pack pair i = (good[i], bad[i]) into one row; batch rows of equal packed length.
    ``margin_only``: score only what differs between the two (see :func:`_pack_pair`)."""
    n = len(good)
    packed = [_pack_pair(g, b, margin_only) for g, b in zip(good, bad)]
    batches = []
    for length, chunk in length_batches([len(row[0]) for row in packed], batch_tokens):
        branch = torch.tensor([packed[i][2] for i in chunk])  # (B, L)
        causal = torch.ones(length, length, dtype=torch.bool).tril()
        same_branch = (branch[:, None, :] == 0) | (branch[:, None, :] == branch[:, :, None])  # (B, L_q, L_k)
        rows, targets, owner, source = [], [], [], []
        for b, i in enumerate(chunk):
            _, _, _, predictions, good_of, bad_of = packed[i]
            base = len(rows)
            rows += [b * length + position for position, _ in predictions]
            targets += [target for _, target in predictions]
            owner += [i] * len(good_of) + [n + i] * len(bad_of)
            source += [base + j for j in good_of + bad_of]
        batches.append(PackedBatch(
            torch.tensor([packed[i][0] for i in chunk]), torch.tensor([packed[i][1] for i in chunk]),
            (causal & same_branch)[:, None], torch.tensor(rows, dtype=torch.long),
            torch.tensor(targets, dtype=torch.long), torch.tensor(owner, dtype=torch.long),
            torch.tensor(source, dtype=torch.long)))
    n_scored = np.array([len(row[4]) for row in packed] + [len(row[5]) for row in packed])
    return PackedPlan(n_scored, batches)


@torch.inference_mode()
def score_packed(model, plan: PackedPlan, device: str = "cpu") -> SentenceScores:
    """Summed log-probs (float64) of every sentence of a :class:`PackedPlan` (needs :func:`supports_packing`)."""
    model.eval()
    decoder, head = decoder_and_head(model)
    totals = torch.zeros(len(plan), dtype=torch.float64)
    for batch in plan.batches:
        hidden = decoder(input_ids=batch.input_ids.to(device), position_ids=batch.position_ids.to(device),
                         attention_mask=batch.mask.to(device)).last_hidden_state  # (B, L, d)
        logp = _target_logprobs(head, hidden.flatten(0, 1)[batch.rows.to(device)], batch.targets.to(device)).cpu()
        totals.index_add_(0, batch.owner, logp.double()[batch.source])
    return SentenceScores(totals.numpy(), plan.n_scored, None)


def score_token_ids(model, seqs: list[list[int]], batch_tokens: int = 2048, device: str = "cpu",
                    per_token: bool = False) -> SentenceScores:
    """Summed log-probs of positions 1.. of each id sequence (see :class:`ScoringPlan`)."""
    return score_plan(model, plan_batches(seqs, batch_tokens), device, per_token)


@torch.inference_mode()
def score_sentence_reference(model, tokenizer, sentence: str, bos: str = "prepend") -> tuple[float, np.ndarray]:
    """One sentence, no batching or padding: the reference the batched scorer must match."""
    ids = encode(tokenizer, [sentence], bos)[0]
    if len(ids) < 2:
        return 0.0, np.zeros(0, dtype=np.float32)
    model.eval()
    logits = model(input_ids=torch.tensor([ids], device=model.device)).logits[0, :-1].float()
    logp = torch.log_softmax(logits, -1)[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].cpu()
    return float(logp.double().sum()), logp.numpy()


def score_pairs(model, tokenizer, pairs: list[Pair], bos: str = "prepend", batch_tokens: int = 2048,
                device: str = "cpu", pack_pairs: bool = True, precision: str = "fp32") -> pd.DataFrame:
    """One row per pair: ``paradigm, pair_id, logp_good, logp_bad, n_tokens_good, n_tokens_bad``.

    The fastest exact path the model allows: each pair's shared prefix scored once
    (:func:`plan_pairs`) where :func:`supports_packing`, else one-length batches
    (:func:`plan_batches`). ``precision`` (resolved, ``fp32`` by default) runs the forward
    passes under :func:`~taskspace_core.lm.precision.autocast`; only ``fp32`` keeps the 1e-5 contract.
    """
    good = encode(tokenizer, [p.good for p in pairs], bos)
    bad = encode(tokenizer, [p.bad for p in pairs], bos)
    with autocast(precision, device):
        if pack_pairs and supports_packing(model):
            scores = score_packed(model, plan_pairs(good, bad, batch_tokens), device)
        else:
            scores = score_token_ids(model, good + bad, batch_tokens, device)
    n = len(pairs)
    return pd.DataFrame({
        "paradigm": [p.paradigm for p in pairs],
        "pair_id": [p.pair_id for p in pairs],
        "logp_good": scores.total[:n],
        "logp_bad": scores.total[n:],
        "n_tokens_good": scores.n_scored[:n],
        "n_tokens_bad": scores.n_scored[n:],
    })
