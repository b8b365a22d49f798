"""Pretraining: AdamW + warm-up/cosine schedule, checkpoints across training, exact resume.

The training stream is cut into non-overlapping blocks of ``seq_len + 1`` tokens (inputs and
shifted targets). One *epoch* is one pass over all blocks in a seeded random order; the order
of epoch ``k`` depends only on ``(seed, k)``, and the learning rate only on the step, so the
whole run is a pure function of the config and a resumed run is bit-identical to an
uninterrupted one on CPU.

Checkpoints are HF model directories named ``epoch-<E>`` (``epoch-0`` is the initialisation),
each with the tokenizer and a ``meta.json`` carrying config, hashes, provenance, tokens seen,
validation loss and wall time. ``meta.json`` is written last, so a directory without it is
not a finished checkpoint. Only the newest checkpoint keeps ``training_state.pt`` (optimizer
state) for resuming. ``meta.json`` also holds the sha256 of every weight, config and tokenizer
file, which :mod:`.checkpoints` checks before a checkpoint is used.

This module writes checkpoints, and trains a missing or damaged one when something needs it
(:func:`ensure_checkpoint`); :mod:`.identity` says what identifies one and :mod:`.checkpoints`
finds and verifies them without training anything.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm
from transformers import AutoTokenizer, LlamaForCausalLM

from ..config import Config, stable_hash, to_dict
from ..corpora.books import prepare_corpus
from ..errors import ConfigError, CorruptResultWarning, forbid_compute
from ..provenance import atomic_dir, atomic_write_json, provenance, sha256_file
from .checkpoints import (
    CURVE_COLUMNS, checkpoint_epoch, checkpoint_problems, find_checkpoint_meta, recorded_preset, refuse_unreproduced,
)
from .fused_loss import linear_cross_entropy
from .identity import PRETRAIN_VERSION, checkpoint_name, models_dir, pretrain_hash, size_recipe
from .models import build_model, count_parameters, decoder_and_head, resolve_devices
from .precision import autocast, compute_dtype
from .shipped import install_shipped
from .snapshots import SNAPSHOT_EVERY_S, drop_snapshot, load_snapshot, save_snapshot

TRAINING_STATE = "training_state.pt"
def learning_rate(step: int, total_steps: int, cfg) -> float:
    """Linear warm-up to ``cfg.lr``, then cosine decay to ``cfg.lr * cfg.min_lr_ratio``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps))
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + 0.5 * (cfg.lr - floor) * (1 + math.cos(math.pi * progress))


def to_blocks(stream: np.ndarray, seq_len: int) -> torch.Tensor:
    """(n_blocks, seq_len + 1) int64 view of a token stream; the ragged tail is dropped."""
    n_blocks = (len(stream) - 1) // seq_len
    idx = np.arange(n_blocks)[:, None] * seq_len + np.arange(seq_len + 1)[None, :]
    return torch.from_numpy(stream[idx].astype(np.int64))


def batch_indices(step: int, n_blocks: int, batch_size: int, seed: int) -> np.ndarray:
    """Block indices of global step ``step``: a slice of epoch ``step // steps_per_epoch``'s order."""
    steps_per_epoch = n_blocks // batch_size
    epoch, j = divmod(step, steps_per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(n_blocks)
    return order[j * batch_size : (j + 1) * batch_size]


def lm_loss(model, blocks: torch.Tensor, precision: str = "fp32") -> torch.Tensor:
    """Mean next-token cross-entropy over a (batch, seq_len + 1) block of tokens.

    ``fp32`` is the exact path: full logits, then ``F.cross_entropy``. ``bf16`` runs the forward
    under autocast and the output projection and loss as one chunked, fused step
    (:func:`~taskspace_core.lm.fused_loss.linear_cross_entropy`), which never holds the
    (B * T, V) logits. (fp32 keeps the full-logits path: the fp32 presets' checkpoints are
    reproduced bit for bit by it.)
    """
    inputs, targets = blocks[:, :-1], blocks[:, 1:].flatten()
    split = decoder_and_head(model)
    if precision == "fp32" or split is None or getattr(split[1], "bias", None) is not None:
        with autocast(precision, blocks.device.type):
            logits = model(input_ids=inputs).logits  # (B, T, V)
        return F.cross_entropy(logits.float().flatten(0, 1), targets)
    decoder, head = split
    with autocast(precision, blocks.device.type):
        hidden = decoder(input_ids=inputs).last_hidden_state  # (B, T, d)
    return linear_cross_entropy(hidden.flatten(0, 1), head.weight, targets, compute_dtype(precision))


def validation_blocks(val_tokens: np.ndarray, cfg) -> torch.Tensor:
    """(cfg.val_blocks, seq_len + 1): blocks spread evenly over the held-out books' stream."""
    all_val = to_blocks(val_tokens, cfg.seq_len)
    return all_val[np.linspace(0, len(all_val) - 1, min(cfg.val_blocks, len(all_val))).astype(int)]


@torch.inference_mode()
def validation_loss(model, val_blocks: torch.Tensor, batch_size: int) -> float:
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(val_blocks), batch_size):
        chunk = val_blocks[i : i + batch_size]
        total += lm_loss(model, chunk).item() * chunk.shape[0]
        count += chunk.shape[0]
    model.train()
    return total / count


def list_checkpoints(out_dir: Path) -> list[Path]:
    """Finished checkpoints in ``out_dir`` (those with meta.json), in training order."""
    done = [d for d in Path(out_dir).glob("epoch-*") if (d / "meta.json").is_file()]
    return sorted(done, key=lambda d: json.loads((d / "meta.json").read_text())["step"])


def pretrain(config: Config, size: str, out_dir: str | Path | None = None, log=print,
             until_epoch: float | None = None, snapshot_every_s: float | None = SNAPSHOT_EVERY_S) -> list[Path]:
    """Train size ``size`` of ``config`` into ``out_dir``, resuming if checkpoints exist.

    ``until_epoch`` (one of ``pretrain.checkpoints``) stops the run once that checkpoint is saved;
    a later call resumes it from there. The learning-rate schedule is the full run's, so the
    checkpoints are the same whether the run stopped on the way or not. Every
    ``snapshot_every_s`` seconds of training between checkpoints the run's state goes to a resume
    snapshot (:mod:`.snapshots`; ``None`` for none), so that a run cut off between two checkpoints
    resumes where it was.
    Returns the finished checkpoint directories in training order.
    """
    forbid_compute(f"pretraining {config.preset}/{size}")
    config = resolve_devices(config)
    spec = config.size(size)
    cfg = size_recipe(config, size)
    out_dir = Path(out_dir) if out_dir else models_dir(config.run_dir(), config, size)
    corpus = prepare_corpus(config, log=log)
    tokenizer = AutoTokenizer.from_pretrained(corpus.tokenizer_dir)
    run_hash = pretrain_hash(config, size, corpus.corpus_hash)

    train_blocks = to_blocks(corpus.train_tokens, cfg.seq_len)
    val_blocks = validation_blocks(corpus.val_tokens, cfg).to(config.device)  # scored where the model is
    steps_per_epoch = len(train_blocks) // cfg.batch_size
    if steps_per_epoch == 0:
        raise ConfigError(f"pretrain.batch_size={cfg.batch_size} exceeds the {len(train_blocks)} training blocks")
    total_steps, schedule, last_step = _schedule(cfg, steps_per_epoch, until_epoch)
    model = build_model(spec, tokenizer, cfg.seed, cfg.init).to(config.device)
    optimizer = _optimizer(model, cfg)
    step, wall, source = _resume(out_dir, run_hash, last_step, model, optimizer, config.device)
    if step:
        log(f"resuming {out_dir} from step {step}/{total_steps}{source}")
    model.train()
    n_params = count_parameters(model)
    tokens_per_step = cfg.batch_size * cfg.seq_len
    context = dict(
        config=config, size=size, corpus=corpus, run_hash=run_hash, n_params=n_params,
        steps_per_epoch=steps_per_epoch, total_steps=total_steps, val_blocks=val_blocks,
    )
    if step in schedule and not (out_dir / checkpoint_name(schedule[step]) / "meta.json").exists():
        _save_checkpoint(out_dir, model, tokenizer, optimizer, step, schedule[step], wall, context, log)

    bar = tqdm(total=last_step, initial=step, desc=f"pretrain {config.preset}/{size}", unit="step",
               disable=None, dynamic_ncols=True)
    started = time.perf_counter() - wall
    snapshot_wall = wall  # training seconds at the last checkpoint or snapshot
    with open(out_dir / "train_log.jsonl", "a") as train_log:
        while step < last_step:
            lr = learning_rate(step, total_steps, cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr
            idx = batch_indices(step, len(train_blocks), cfg.batch_size, cfg.seed)
            loss = lm_loss(model, train_blocks[idx].to(config.device), cfg.precision)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            step += 1
            wall = time.perf_counter() - started
            bar.update(1)
            if step % cfg.log_every == 0 or step == last_step:
                rate = step * tokens_per_step / max(wall, 1e-9)
                bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{lr:.2e}", tok_s=f"{rate:,.0f}")
                if bar.disable and step % max(cfg.log_every, last_step // 20) < cfg.log_every:
                    # no terminal (a log file): a plain line about every 5% instead of the bar
                    log(f"{config.preset}/{size} step {step}/{last_step} loss {loss.item():.3f} "
                        f"lr {lr:.2e} {rate:,.0f} tok/s {wall:.0f}s")
                line = (step, loss.item(), lr, step * tokens_per_step, round(wall, 2))
                train_log.write(json.dumps(dict(zip(CURVE_COLUMNS, line, strict=True))) + "\n")
                train_log.flush()
            if step in schedule:
                _save_checkpoint(out_dir, model, tokenizer, optimizer, step, schedule[step], wall, context, log)
                drop_snapshot(out_dir)  # the checkpoint holds everything it did
                started, snapshot_wall = time.perf_counter() - wall, wall  # checkpoint time is not training time
            elif snapshot_every_s is not None and wall - snapshot_wall >= snapshot_every_s and step < last_step:
                save_snapshot(out_dir, model, optimizer, step, wall, run_hash)
                started, snapshot_wall = time.perf_counter() - wall, wall
    bar.close()
    return list_checkpoints(out_dir)


def _schedule(cfg, steps_per_epoch: int, until_epoch: float | None) -> tuple[int, dict[int, float], int]:
    """``(total steps, checkpoint step -> epoch, the step this call stops at)``."""
    total_steps = math.ceil(cfg.epochs * steps_per_epoch)
    schedule = {round(e * steps_per_epoch): e for e in cfg.checkpoints}
    if max(schedule) > total_steps:
        raise ConfigError(f"pretrain.checkpoints: {max(cfg.checkpoints)} is beyond pretrain.epochs={cfg.epochs}")
    # nothing past the last checkpoint is kept, so training stops there (ceil and round may part by
    # a step: 0.75 of 4523 steps is 3393 in all, the final checkpoint at 3392); the rates stay the full run's
    last_step = min(total_steps, max(schedule))
    if cfg.max_steps > 0:
        last_step = min(last_step, cfg.max_steps)
    if until_epoch is not None:
        if until_epoch not in cfg.checkpoints:
            raise ConfigError(f"until_epoch={until_epoch:g} is not in pretrain.checkpoints "
                              f"({', '.join(f'{e:g}' for e in cfg.checkpoints)})")
        last_step = min(last_step, round(until_epoch * steps_per_epoch))
    return total_steps, schedule, last_step


def _optimizer(model, cfg) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (no decay on norms' gains)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
    )


def _resume(out_dir: Path, run_hash: str, last_step: int, model, optimizer, device: str) -> tuple[int, float, str]:
    """Load the newest checkpoint's state into ``model`` and ``optimizer``, or the resume snapshot's
    where that goes further (:func:`.snapshots.load_snapshot`): ``(step, training wall time, " (snapshot)"
    or "")``; ``(0, 0.0, "")`` for a new run."""
    step, wall = _resume_checkpoint(out_dir, run_hash, last_step, model, optimizer, device)
    snapshot = load_snapshot(out_dir, run_hash, step, last_step)
    if snapshot is None:
        return step, wall, ""
    model.load_state_dict(snapshot["model"])  # (copied to the model's device)
    optimizer.load_state_dict(snapshot["optimizer"])
    return snapshot["step"], snapshot["wall_time_s"], " (snapshot)"


def _resume_checkpoint(out_dir: Path, run_hash: str, last_step: int, model, optimizer, device: str) -> tuple[int, float]:
    """Load the newest checkpoint's weights and optimizer state into ``model`` and ``optimizer``:
    ``(its step, its training wall time)``; ``(0, 0.0)`` for a new run."""
    # never from a checkpoint past this call's end (a shipped final one, see shipped.py, has no
    # optimizer state to go on from): the run up to last_step goes on from the newest one before it
    done = [d for d in list_checkpoints(out_dir) if json.loads((d / "meta.json").read_text())["step"] <= last_step]
    if not done:
        return 0, 0.0
    meta = json.loads((done[-1] / "meta.json").read_text())
    if meta["pretrain_hash"] != run_hash:
        raise ConfigError(
            f"{out_dir} holds checkpoints of another configuration (run hash {meta['pretrain_hash']}, "
            f"this config {run_hash}); choose another --out"
        )
    state_file = done[-1] / TRAINING_STATE
    if meta["step"] < last_step and not state_file.exists():
        raise ConfigError(f"cannot resume: {state_file} is missing")
    if state_file.exists():
        state = torch.load(state_file, map_location=device, weights_only=False)
        model.load_state_dict(LlamaForCausalLM.from_pretrained(done[-1]).state_dict())
        optimizer.load_state_dict(state["optimizer"])
    return meta["step"], meta["wall_time_s"]


def _save_checkpoint(out_dir, model, tokenizer, optimizer, step, epoch, wall, ctx, log) -> None:
    """Write checkpoint ``epoch-<E>`` atomically and drop the previous one's optimizer state."""
    config: Config = ctx["config"]
    val_loss = validation_loss(model, ctx["val_blocks"], config.pretrain.batch_size)
    previous = list_checkpoints(out_dir)
    final = out_dir / checkpoint_name(epoch)
    with atomic_dir(final) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        torch.save({"optimizer": optimizer.state_dict(), "step": step}, tmp / TRAINING_STATE)
        meta = provenance(
            kind="checkpoint",
            files=_file_hashes(tmp),
            preset=recorded_preset(config, ctx["size"], epoch, step, ctx["run_hash"]),
            size=ctx["size"],
            epoch=epoch,
            step=step,
            steps_per_epoch=ctx["steps_per_epoch"],
            total_steps=ctx["total_steps"],
            tokens_seen=step * config.pretrain.batch_size * config.pretrain.seq_len,
            val_loss=val_loss,
            val_ppl=math.exp(val_loss),
            wall_time_s=round(wall, 3),
            n_parameters=ctx["n_params"],
            precision=config.pretrain.precision,
            peak_lr=size_recipe(config, ctx["size"]).lr,
            pretrain_hash=ctx["run_hash"],
            pretrain_version=PRETRAIN_VERSION,
            config=to_dict(config),
            config_hash=stable_hash(config),
            data_hash={"corpus": ctx["corpus"].corpus_hash, "tokenizer": ctx["corpus"].tokenizer_hash},
            corpus_split={"train": list(ctx["corpus"].train_books), "val": list(ctx["corpus"].val_books)},
        )
        atomic_write_json(tmp / "meta.json", meta)
        refuse_unreproduced(config, ctx["size"], meta, final)  # before the checkpoint exists or training goes on
    for old in previous:
        if old != final:
            (old / TRAINING_STATE).unlink(missing_ok=True)
    log(f"checkpoint {final} (step {step}, {meta['tokens_seen']:,} tokens, val loss {val_loss:.3f}, "
        f"ppl {meta['val_ppl']:.1f})")



def _file_hashes(directory: Path) -> dict[str, str]:
    """sha256 of a checkpoint's files, except its optimizer state (dropped later) and meta.json."""
    return {f.name: sha256_file(f) for f in sorted(Path(directory).iterdir())
            if f.is_file() and f.name not in (TRAINING_STATE, "meta.json")}


# --------------------------------------------------------------------------- a checkpoint, trained if missing


def _move_aside(directory: Path) -> Path:
    for n in range(1, 1000):
        aside = directory.with_name(f"{directory.name}.damaged-{n}")
        if not aside.exists():
            directory.rename(aside)
            return aside
    raise RuntimeError(f"too many damaged copies of {directory}")


def ensure_checkpoint(config: Config, size: str, checkpoint: str | float = "final", train_if_missing: bool = True,
                      log=print) -> Path:
    """The directory of one checkpoint of ``size`` (``"final"`` or an epoch such as ``0.5``).

    A damaged checkpoint (files that do not match its ``meta.json``) is moved aside with its run
    and retrained. A missing one is installed from the committed results where the preset ships
    its weights (:mod:`.shipped`), else, if ``train_if_missing``, pretraining runs (or resumes) up to
    that checkpoint first.
    """
    config.size(size)
    epoch = checkpoint_epoch(config, checkpoint)
    path = models_dir(config.run_dir(), config, size) / checkpoint_name(epoch)
    problems = checkpoint_problems(path) if (path / "meta.json").is_file() else []
    if problems:
        # Every checkpoint of a run shares its optimizer history, and only the newest keeps the
        # optimizer state: the honest repair is to retrain the run (deterministic) after moving
        # the damaged one aside, where it can still be inspected.
        aside = _move_aside(path.parent)
        warnings.warn(f"{path}: damaged checkpoint ({'; '.join(problems)}); moved {path.parent} to {aside} "
                      "and retraining it", CorruptResultWarning, stacklevel=2)
    if not (path / "meta.json").is_file() and not install_shipped(config, size, epoch, path, log=log):
        if not train_if_missing:
            raise ConfigError(f"checkpoint {path} does not exist; run `taskspace pretrain --preset {config.preset}`")
        # only as far as this checkpoint (the untrained network needs no training); a later call resumes
        pretrain(config, size, log=log, until_epoch=None if epoch >= max(config.pretrain.checkpoints) else epoch)
    _adopt_recorded_label(config, size, path)
    return path


def _adopt_recorded_label(config: Config, size: str, path: Path) -> None:
    """Give a checkpoint trained before its preset was renamed (labelled ``cpu``, committed as
    ``cpu-next``) its committed record's label in ``meta.json`` (not among the hashed files), so
    that what is computed from it carries the keys the reader looks up."""
    meta = json.loads((path / "meta.json").read_text())
    label = recorded_preset(config, size, meta["epoch"], meta["step"], meta["pretrain_hash"])
    if label != meta.get("preset"):
        atomic_write_json(path / "meta.json", meta | {"preset": label})


def ensure_checkpoint_meta(config: Config, size: str, checkpoint: str | float = "final", log=print) -> dict:
    """:func:`~.checkpoints.find_checkpoint_meta`, pretraining the checkpoint first if it exists nowhere."""
    meta = find_checkpoint_meta(config, size, checkpoint)
    if meta is None:
        meta = json.loads((ensure_checkpoint(config, size, checkpoint, log=log) / "meta.json").read_text())
    return meta
