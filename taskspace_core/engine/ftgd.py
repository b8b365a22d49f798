"""FTGD: fine-tuning via gradient differentials (Weber et al., 2024), and the plain baseline.

For a minimal pair (good, bad) the *gradient differential* is

    g_diff = grad[nll(good)] - grad[nll(bad)] = -(g+ - g-)      with g± = grad log p(sentence±)

What the two sentences share (vocabulary, most of the syntax) cancels, and what remains is the
phenomenon the pair was built to test. FTGD updates only the parameters whose |g_diff| is at
least a threshold (1e-3 in the paper, where about 5% of parameters passed), so the fine-tuned
model differs from the base in the region of parameters the phenomenon uses.

Choices the paper leaves open are fields of :class:`~taskspace_core.config.FTGDConfig`, each
discussed in book/methods.md:

- the mask: ``threshold`` or ``top_fraction`` rule (or, as a control, as many coordinates drawn at
  random: ``mask_selection="random"``); taken from the differential over the whole
  training split (``mask_from="train"``, default), the first batch, or recomputed every step;
  the per-pair differentials are averaged (``mask_reduction="mean"``, so the threshold does not
  depend on how many training pairs there are) or summed;
- the objective. ``-margin`` (margin = log p(good) - log p(bad)) is unbounded below: a few steps
  can push one paradigm's margin up by hundreds of nats. The default ``logistic`` objective,
  ``-log sigmoid(margin)``, has gradient ``sigmoid(-margin) * g_diff`` per pair: the same
  differential, weighted down as a pair becomes clearly right, and bounded below by 0;
- the optimizer (SGD without momentum by default), learning rate and number of steps.

Whatever the optimizer (momentum, Adam moments, weight decay), coordinates outside the mask are
restored bit for bit after every step, so they never move.

``method="plain"`` is the baseline the paper argues against: the LM loss on the good sentences
only, every parameter free. Linguistic entanglement then spreads each fine-tune over everything
the sentences contain.
"""

from __future__ import annotations

import math
import hashlib
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..config import FTGDConfig
from ..lm.precision import autocast
from .scoring import pad_batch, token_logprobs


@dataclass(frozen=True)
class PairIds:
    """Token ids of minimal pairs (BOS already prepended): ``good[i]`` and ``bad[i]`` form pair i."""

    good: list[list[int]]
    bad: list[list[int]]

    def __len__(self) -> int:
        return len(self.good)

    def subset(self, idx) -> PairIds:
        return PairIds([self.good[i] for i in idx], [self.bad[i] for i in idx])


@dataclass
class FineTuneResult:
    """What one fine-tune did: its mask (coordinates allowed to move) and a per-step log."""

    names: list[str]  # parameter names, in model.named_parameters() order
    mask: list[torch.Tensor]  # bool, one per parameter: the union of the masks of all steps
    log: list[dict]  # per step: objective, mean margin of the batch, masked share

    @property
    def n_parameters(self) -> int:
        return sum(m.numel() for m in self.mask)

    @property
    def n_masked(self) -> int:
        return int(sum(int(m.sum()) for m in self.mask))

    @property
    def mask_share(self) -> float:
        return self.n_masked / self.n_parameters

    def flat_mask(self) -> np.ndarray:
        """(n_parameters,) bool, parameters concatenated in model order."""
        return torch.cat([m.flatten() for m in self.mask]).cpu().numpy()  # on the host, wherever the model is

    def mask_table(self) -> pd.DataFrame:
        """One row per parameter tensor: name, layer, component, numel, n_masked."""
        rows = []
        for name, m in zip(self.names, self.mask):
            layer, component = parameter_group(name)
            rows.append({"parameter": name, "layer": layer, "component": component,
                         "numel": m.numel(), "n_masked": int(m.sum())})
        return pd.DataFrame(rows)


_LAYER = re.compile(r"(?:^|\.)(?:layers|layer|h|blocks)\.(\d+)\.")


def parameter_group(name: str) -> tuple[int, str]:
    """(layer, component) of a parameter name, for Llama, GPT-2 and GPT-NeoX (Pythia) models.

    ``layer`` is -1 for the embeddings and 10_000 for parameters after the last block (final
    norm, untied output head); ``component`` is ``embed``, ``attn``, ``mlp``, ``norm`` or ``head``.
    """
    match = _LAYER.search(name)
    lowered = name.lower()
    if match:
        layer = int(match.group(1))
        if "norm" in lowered or ".ln" in lowered:
            return layer, "norm"
        if "attn" in lowered or "attention" in lowered:
            return layer, "attn"
        return layer, "mlp"
    if "embed" in lowered or "wte" in lowered or "wpe" in lowered:
        return -1, "embed"
    if "norm" in lowered or "ln_f" in lowered:
        return 10_000, "norm"
    return 10_000, "head"


def pair_margins(model, pairs: PairIds, pad_id: int, device: str | torch.device) -> torch.Tensor:
    """(n_pairs,) log p(good) - log p(bad), differentiable; one forward pass over 2 x n_pairs rows."""
    input_ids, attention = pad_batch(pairs.good + pairs.bad, pad_id, device)
    logp = token_logprobs(model, input_ids, attention).sum(1)  # (2n,)
    n = len(pairs)
    return logp[:n] - logp[n:]


def good_nll(model, pairs: PairIds, pad_id: int, device: str | torch.device) -> torch.Tensor:
    """(n_pairs,) negative log-likelihood of the good sentences (the plain fine-tuning loss)."""
    input_ids, attention = pad_batch(pairs.good, pad_id, device)
    return -token_logprobs(model, input_ids, attention).sum(1)


def objective(margins: torch.Tensor, cfg: FTGDConfig) -> torch.Tensor:
    """The (bounded, by default) FTGD objective, averaged over pairs."""
    if cfg.objective == "logistic":
        return torch.nn.functional.softplus(-margins).mean()  # -log sigmoid(margin) >= 0
    if cfg.objective == "hinge":
        return torch.relu(cfg.hinge_margin - margins).mean()  # 0 once every margin >= hinge_margin
    return (-margins).mean()  # "differential": unbounded below


def differential_gradient(model, params: list[torch.Tensor], pairs: PairIds, cfg: FTGDConfig,
                          pad_id: int) -> list[torch.Tensor]:
    """grad of sum_i [nll(good_i) - nll(bad_i)] (``/ n`` if mask_reduction == "mean"), per parameter."""
    for p in params:
        p.grad = None
    scale = 1.0 / len(pairs) if cfg.mask_reduction == "mean" else 1.0
    for start in range(0, len(pairs), cfg.batch_size):  # chunks bound memory; gradients accumulate
        chunk = pairs.subset(range(start, min(start + cfg.batch_size, len(pairs))))
        loss = -pair_margins(model, chunk, pad_id, params[0].device).sum() * scale
        loss.backward()
    grads = [p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p) for p in params]
    for p in params:
        p.grad = None
    return grads


def select_mask(grads: list[torch.Tensor], cfg: FTGDConfig, pairs: PairIds | None = None) -> list[torch.Tensor]:
    """Boolean masks: |g| >= threshold, or the ``top_fraction`` largest |g| over all parameters;
    with ``mask_selection="random"``, as many coordinates drawn at random (:func:`random_mask`,
    seeded by ``cfg.seed`` and ``pairs``, the pairs the gradient was taken over)."""
    if cfg.mask_rule == "threshold":
        masks = [g.abs() >= cfg.threshold for g in grads]
    else:
        flat = torch.cat([g.abs().flatten() for g in grads])
        k = max(1, math.ceil(cfg.top_fraction * flat.numel()))
        cutoff = torch.topk(flat, k, sorted=False).values.min()
        masks = [(g.abs() >= cutoff) & (g != 0) for g in grads]  # ties at the cutoff may add a few
    if cfg.mask_selection == "random":
        return random_mask(masks, _pairs_seed(cfg.seed, pairs))
    return masks


def random_mask(masks: list[torch.Tensor], seed: int) -> list[torch.Tensor]:
    """Masks of the same shapes holding as many coordinates in all as ``masks``, drawn uniformly
    without replacement over every parameter (a fixed ``seed`` draws the same ones)."""
    sizes = [m.numel() for m in masks]
    k = int(sum(int(m.sum()) for m in masks))
    generator = torch.Generator().manual_seed(seed)
    chosen = torch.randperm(sum(sizes), generator=generator)[:k]
    flat = torch.zeros(sum(sizes), dtype=torch.bool)
    flat[chosen] = True
    return [part.view_as(m).to(m.device) for part, m in zip(torch.split(flat, sizes), masks)]


def _pairs_seed(seed: int, pairs: PairIds | None) -> int:
    """A seed from ``seed`` and the token ids of ``pairs``: each paradigm draws its own random mask."""
    digest = hashlib.sha256(repr((seed, pairs.good, pairs.bad) if pairs is not None else seed).encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def _make_optimizer(params: list[torch.Tensor], cfg: FTGDConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr)
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def batch_schedule(n_pairs: int, steps: int, batch_size: int, seed: int) -> list[np.ndarray]:
    """Pair indices per step: seeded shuffles of the training pairs, concatenated as needed."""
    rng = np.random.default_rng(seed)
    size = min(batch_size, n_pairs)
    order: list[int] = []
    while len(order) < steps * size:
        order.extend(rng.permutation(n_pairs).tolist())
    return [np.array(order[i * size : (i + 1) * size]) for i in range(steps)]


def finetune(model, train: PairIds, cfg: FTGDConfig, pad_id: int) -> FineTuneResult:
    """Fine-tune ``model`` in place on one paradigm's training pairs; return the mask and log.

    The model is kept in eval mode (no dropout), so a fine-tune is a deterministic function of
    the base weights, the pairs and ``cfg``; it runs on the device the model is on.
    ``cfg.precision`` must be resolved (``fp32`` or ``bf16``); the mask is always taken from
    float32 gradients.
    """
    if len(train) == 0:
        raise ValueError("FTGD needs at least one training pair (data.n_train is 0?)")
    model.eval()
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    names, params = [n for n, _ in named], [p for _, p in named]
    device = params[0].device  # fine-tuning runs where the model is
    batches = batch_schedule(len(train), cfg.steps, cfg.batch_size, cfg.seed)
    plain = cfg.method == "plain"

    if plain:
        fixed_mask = [torch.ones_like(p, dtype=torch.bool) for p in params]
    elif cfg.mask_from == "train":
        fixed_mask = select_mask(differential_gradient(model, params, train, cfg, pad_id), cfg, train)
    elif cfg.mask_from == "first_batch":
        first = train.subset(batches[0])
        fixed_mask = select_mask(differential_gradient(model, params, first, cfg, pad_id), cfg, first)
    else:  # "step": recomputed from each step's batch below
        fixed_mask = None

    # Only tensors with at least one free coordinate go to the optimizer (fixed masks).
    trainable = list(range(len(params))) if fixed_mask is None else [i for i, m in enumerate(fixed_mask) if m.any()]
    optimizer = _make_optimizer([params[i] for i in trainable], cfg)
    used = [torch.zeros_like(p, dtype=torch.bool) for p in params]
    log = []
    for step, idx in enumerate(batches, start=1):
        batch = train.subset(idx)
        if fixed_mask is None:
            mask = select_mask(differential_gradient(model, params, batch, cfg, pad_id), cfg, batch)
        else:
            mask = fixed_mask
        optimizer.zero_grad(set_to_none=True)
        with autocast(cfg.precision, device):  # the mask above is decided on float32 gradients
            if plain:
                loss = good_nll(model, batch, pad_id, device).mean()
                margin = float("nan")
            else:
                margins = pair_margins(model, batch, pad_id, device)
                loss = objective(margins.float(), cfg)
                margin = float(margins.detach().mean())
        loss.backward()
        # Plain SGD moves a coordinate by -lr * grad, exactly 0 where the gradient is zeroed, so
        # only stateful or decaying optimizers need the copy-and-restore below.
        before = None if cfg.optimizer == "sgd" else [params[i].detach().clone() for i in trainable]
        with torch.no_grad():
            for i in trainable:
                if params[i].grad is not None:
                    params[i].grad.masked_fill_(~mask[i], 0.0)  # masked-out gradients are exactly zero (keeps Adam moments sparse)
        optimizer.step()
        if before is not None:
            with torch.no_grad():  # whatever the optimizer did (momentum, weight decay), masked coordinates are restored
                for i, old in zip(trainable, before):
                    params[i].copy_(torch.where(mask[i], params[i], old))
        for i in trainable:
            used[i] |= mask[i]
        log.append({"step": step, "objective": float(loss.detach()), "batch_margin": margin,
                    "masked_share": sum(int(m.sum()) for m in mask) / sum(m.numel() for m in mask)})
    optimizer.zero_grad(set_to_none=True)
    return FineTuneResult(names, used, log)


def snapshot(model) -> list[torch.Tensor]:
    """Copies of every parameter, to undo fine-tunes in place with :func:`restore`."""
    return [p.detach().clone() for p in model.parameters()]


@torch.no_grad()
def restore(model, state: list[torch.Tensor]) -> None:
    """Put the base weights back (bit for bit) after a fine-tune."""
    for p, saved in zip(model.parameters(), state):
        p.copy_(saved)
