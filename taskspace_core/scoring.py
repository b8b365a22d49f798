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

Batches are length-sorted and right-padded with an attention mask; with a causal model the
padding never influences real positions, so batched scores equal the one-sentence-at-a-time
reference (:func:`score_sentence_reference`) up to float rounding (tested to 1e-5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .blimp import Pair, phenomenon_of
from .errors import ConfigError

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


def token_logprobs(model, input_ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    """(B, T-1) log-probs of tokens 1.. given their prefixes; 0 at padding. Differentiable."""
    logits = model(input_ids=input_ids, attention_mask=attention).logits[:, :-1].float()  # (B, T-1, V)
    targets = input_ids[:, 1:]  # (B, T-1): token t+1 is predicted at position t
    token_logp = logits.gather(-1, targets[..., None]).squeeze(-1) - torch.logsumexp(logits, -1)
    return token_logp.masked_fill(attention[:, 1:] == 0, 0.0)


@torch.inference_mode()
def score_token_ids(model, seqs: list[list[int]], pad_id: int, batch_size: int = 64,
                    device: str = "cpu", per_token: bool = False) -> SentenceScores:
    """Summed log-probs of positions 1.. of each id sequence, in length-sorted padded batches."""
    model.eval()
    n = len(seqs)
    totals = np.zeros(n, dtype=np.float64)
    n_scored = np.array([max(len(s) - 1, 0) for s in seqs])
    tokens: list[np.ndarray | None] = [None] * n
    order = sorted(range(n), key=lambda i: len(seqs[i]), reverse=True)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        if len(seqs[idx[0]]) < 2:  # longest first: nothing to score in this or any later batch
            for i in idx:
                tokens[i] = np.zeros(0, dtype=np.float32)
            continue
        input_ids, attention = pad_batch([seqs[i] for i in idx], pad_id, device)
        token_logp = token_logprobs(model, input_ids, attention).cpu()
        sums = token_logp.double().sum(1).numpy()
        for row, i in enumerate(idx):
            totals[i] = sums[row]
            if per_token:
                tokens[i] = token_logp[row, : n_scored[i]].numpy().copy()
    return SentenceScores(totals, n_scored, tokens if per_token else None)


def score_sentences(model, tokenizer, sentences: list[str], bos: str = "prepend", batch_size: int = 64,
                    device: str = "cpu", per_token: bool = False) -> SentenceScores:
    """Summed (and optionally per-token) log-probs of whole sentences under ``bos`` policy."""
    return score_token_ids(model, encode(tokenizer, sentences, bos), pad_id_of(tokenizer),
                           batch_size, device, per_token)


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


def score_pairs(model, tokenizer, pairs: list[Pair], bos: str = "prepend", batch_size: int = 64,
                device: str = "cpu") -> pd.DataFrame:
    """One row per pair: ``paradigm, pair_id, logp_good, logp_bad, n_tokens_good, n_tokens_bad``."""
    sentences = [p.good for p in pairs] + [p.bad for p in pairs]
    scores = score_sentences(model, tokenizer, sentences, bos, batch_size, device)
    n = len(pairs)
    return pd.DataFrame({
        "paradigm": [p.paradigm for p in pairs],
        "pair_id": [p.pair_id for p in pairs],
        "logp_good": scores.total[:n],
        "logp_bad": scores.total[n:],
        "n_tokens_good": scores.n_scored[:n],
        "n_tokens_bad": scores.n_scored[n:],
    })


def paradigm_summary(pair_scores: pd.DataFrame, taxonomy: str = "12") -> pd.DataFrame:
    """Per paradigm: pairs, accuracy (logp_good > logp_bad, ties count as wrong), mean margin."""
    df = pair_scores.assign(
        margin=pair_scores.logp_good - pair_scores.logp_bad,
        correct=(pair_scores.logp_good > pair_scores.logp_bad).astype(float),
    )
    out = df.groupby("paradigm", sort=True).agg(
        n_pairs=("pair_id", "size"), accuracy=("correct", "mean"), mean_margin=("margin", "mean")
    )
    out.insert(0, "phenomenon", [phenomenon_of(p, taxonomy) for p in out.index])
    return out


def phenomenon_summary(pair_scores: pd.DataFrame, taxonomy: str = "12") -> pd.DataFrame:
    """Per phenomenon: the mean over its paradigms of accuracy and margin."""
    per_paradigm = paradigm_summary(pair_scores, taxonomy)
    return per_paradigm.groupby("phenomenon", sort=True).agg(
        n_paradigms=("n_pairs", "size"), n_pairs=("n_pairs", "sum"),
        accuracy=("accuracy", "mean"), mean_margin=("mean_margin", "mean"),
    )
