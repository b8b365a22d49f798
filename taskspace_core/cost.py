"""What a preset costs in FLOP: pretraining and every task space the book needs, from first principles.

The usual accounting for a decoder with ``N`` weights in its matrix products:

    forward   2 N FLOP per token          (one multiply-add per weight)
    backward  4 N FLOP per token          (gradients of activations and of weights)
    attention 2 * 2 * n_layers * d_model * t  per token forward, at average causal context t

``N`` is :func:`~taskspace_core.models.spec_parameters`: with tied embeddings the embedding
lookup is free and the output head (vocab x d) is the same matrix, so the parameter count is
exactly the matmul weight count. Per task space:

    eval pass   forward over every scored test token            (eval1, and eval2 after each source)
    FTGD mask   forward + backward over every training pair      (mask_from="train": once per source)
    FTGD steps  forward + backward over steps * batch_size pairs (per source)

These are lower bounds on work, not predictions of wall time: small models on a GPU are bound
by kernel launches and memory traffic long before they reach the FLOP rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .config import Config
from .models import spec_parameters


@dataclass(frozen=True)
class Workload:
    """The data-dependent numbers a budget needs (measured, see the reproducing chapter)."""

    tokens_per_epoch: float  # pretraining tokens in one pass over the corpus
    tokens_per_pair: float  # scored tokens of one minimal pair, both sentences, BOS included


def _per_token(config: Config, size: str, context: float) -> tuple[float, float]:
    """(forward, forward+backward) FLOP per token at average attended context ``context``."""
    spec = config.size(size)
    forward = 2 * spec_parameters(spec, config.tokenizer.vocab_size) + 4 * spec.n_layers * spec.d_model * context
    return forward, 3 * forward


def space_flops(config: Config, size: str, workload: Workload, n_paradigms: int = 67) -> dict[str, float]:
    """FLOP of one task space of ``size`` under ``config``: per stage, and ``total``."""
    sentence = workload.tokens_per_pair / 2
    forward, train = _per_token(config, size, sentence / 2)
    f, d = config.ftgd, config.data
    eval_pass = forward * workload.tokens_per_pair * d.n_test * n_paradigms
    mask = 0.0 if f.method == "plain" else train * workload.tokens_per_pair * d.n_train
    if f.method == "ftgd" and f.mask_from == "step":
        mask = train * workload.tokens_per_pair * f.batch_size * f.steps
    steps = train * workload.tokens_per_pair * f.batch_size * f.steps * (0.5 if f.method == "plain" else 1.0)
    stages = {"eval (eval1 + eval2)": eval_pass * (1 + n_paradigms), "FTGD mask": mask * n_paradigms,
              "fine-tuning steps": steps * n_paradigms}
    return {**stages, "total": sum(stages.values())}


def pretrain_flops(config: Config, size: str, workload: Workload) -> float:
    """FLOP of pretraining ``size`` for ``pretrain.epochs`` epochs."""
    _, train = _per_token(config, size, config.pretrain.seq_len / 2)
    return train * workload.tokens_per_epoch * config.pretrain.epochs


def preset_budget(config: Config, workload: Workload) -> pd.DataFrame:
    """One row per size: pretraining PFLOP and the PFLOP of every task space the book asks for."""
    from .reference import book_spaces

    requests = book_spaces(config)
    rows = []
    for size in config.sizes:
        mine = [r for r in requests if r.size == size]
        spaces = sum(space_flops(r.config(config), size, workload)["total"] for r in mine)
        rows.append({"size": size, "parameters (M)": spec_parameters(config.size(size), config.tokenizer.vocab_size) / 1e6,
                     "pretraining PFLOP": pretrain_flops(config, size, workload) / 1e15,
                     "task spaces": len(mine), "task spaces PFLOP": spaces / 1e15})
    table = pd.DataFrame(rows).set_index("size")
    table["total PFLOP"] = table["pretraining PFLOP"] + table["task spaces PFLOP"]
    return table
