"""BLiMP accuracy of checkpoints, kept as per-pair scores and read beside BLiMP's own baselines.

Before a task space says anything about learned grammar, the model must know some: a 5-gram
model scores 0.612 on BLiMP (mean over the 67 paradigms; Warstadt et al. 2020), and a model
below that line mostly measures what its fine-tunes install. This module

- scores a checkpoint on every paradigm's test split, exactly (float32, the scorer's 1e-5
  contract) and keeps the per-pair log-probs, so that any accuracy is recomputed from them
  (:func:`score_checkpoint`, :func:`export_checkpoint_scores`);
- summarises them per paradigm and phenomenon (:func:`phenomenon_accuracy`);
- reads BLiMP's published per-paradigm accuracies of a 5-gram model, an LSTM, Transformer-XL
  and GPT-2 (``data/blimp_baselines``, CC BY 4.0) and averages them the same way
  (:func:`baselines`), so the two are compared like for like.

Committed per-pair scores live beside each checkpoint's metadata in the results folder:
``results/<preset>/models/<size>/epoch-<E>.blimp.csv.gz``.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd

from . import blimp
from .config import REPO_ROOT, Config, to_dict
from .provenance import atomic_write_bytes, atomic_write_json, provenance

BASELINES_FILE = REPO_ROOT / "data" / "blimp_baselines" / "models_summary.jsonl"
BASELINE_MODELS = ("ngram", "lstm", "txl", "gpt2")
SCORES_SUFFIX = ".blimp.csv.gz"


def score_checkpoint(config: Config, model_dir: str | Path) -> pd.DataFrame:
    """Per test pair of every selected paradigm: ``paradigm, phenomenon, pair_id, logp_good, logp_bad, ...``.

    Float32 (``scoring.precision`` is ignored here: accuracies are reported exactly), the
    preset's BOS policy and test split.
    """
    from .models import load_model, resolve_device
    from .scoring import score_pairs

    d = config.data
    paradigms = blimp.load_blimp(d.blimp_dir or None, blimp.selected_paradigms(d.paradigms, d.phenomena, d.taxonomy) or None)
    pairs = [p for name in sorted(paradigms)
             for p in blimp.select_pairs(paradigms[name], "test", d.n_test, d.n_train, d.split_seed)]
    device = resolve_device(config.scoring.device)
    model, tokenizer = load_model(model_dir, device=device)
    scores = score_pairs(model, tokenizer, pairs, config.scoring.bos, config.scoring.batch_tokens, device,
                         config.scoring.pack_pairs, "fp32")
    scores.insert(1, "phenomenon", [blimp.phenomenon_of(p, d.taxonomy) for p in scores.paradigm])
    return scores


def scores_path(root: Path, size: str, checkpoint_name: str) -> Path:
    return Path(root) / "models" / size / f"{checkpoint_name}{SCORES_SUFFIX}"


def export_checkpoint_scores(config: Config, model_dir: Path, root: Path) -> Path:
    """Write ``model_dir``'s per-pair test scores under ``root`` (skipped when already there for
    this very checkpoint and scoring: same pretraining hash, step, BOS policy and split), with a
    ``.json`` of provenance."""
    meta = json.loads((Path(model_dir) / "meta.json").read_text())
    target = scores_path(root, meta["size"], Path(model_dir).name)
    info = target.with_name(target.name.removesuffix(".csv.gz") + ".json")
    scoring = {"bos": config.scoring.bos, "precision": "fp32", "split": "test", "n_test": config.data.n_test,
               "seed": config.data.split_seed, "accuracy": "logp_good > logp_bad (ties wrong)"}
    if target.is_file() and info.is_file():
        old = json.loads(info.read_text())
        if (old.get("pretrain_hash"), old.get("step"), old.get("scoring")) == (meta["pretrain_hash"], meta["step"], scoring):
            return target
    scores = score_checkpoint(config, model_dir)
    atomic_write_bytes(target, gzip.compress(scores.to_csv(index=False, float_format="%.6f").encode(), mtime=0))
    summary = phenomenon_accuracy(scores)
    atomic_write_json(info, provenance(
        kind="blimp_scores", preset=config.preset, size=meta["size"], epoch=meta["epoch"], step=meta["step"],
        pretrain_hash=meta["pretrain_hash"], tokens_seen=meta["tokens_seen"], val_loss=meta["val_loss"],
        scoring=scoring,
        data_hash=blimp.data_hash(blimp.load_blimp(config.data.blimp_dir or None, sorted(set(scores.paradigm)))),
        n_pairs=len(scores), mean_accuracy=float(paradigm_accuracy(scores).accuracy.mean()),
        phenomenon_accuracy=summary.accuracy.round(4).to_dict(), config=to_dict(config)))
    return target


def load_checkpoint_scores(root: Path, size: str, checkpoint_name: str) -> pd.DataFrame | None:
    """Committed per-pair scores of one checkpoint, or None."""
    path = scores_path(root, size, checkpoint_name)
    return pd.read_csv(path) if path.is_file() else None


def paradigm_accuracy(scores: pd.DataFrame) -> pd.DataFrame:
    """Per paradigm: phenomenon, pairs, accuracy (ties count as wrong) and mean margin."""
    frame = scores.assign(correct=(scores.logp_good > scores.logp_bad).astype(float),
                          margin=scores.logp_good - scores.logp_bad)
    return frame.groupby("paradigm").agg(phenomenon=("phenomenon", "first"), n_pairs=("pair_id", "size"),
                                         accuracy=("correct", "mean"), mean_margin=("margin", "mean"))


def phenomenon_accuracy(scores: pd.DataFrame) -> pd.DataFrame:
    """Per phenomenon: the mean over its paradigms of accuracy (as BLiMP averages), and how many."""
    per_paradigm = paradigm_accuracy(scores)
    return per_paradigm.groupby("phenomenon").agg(paradigms=("n_pairs", "size"), accuracy=("accuracy", "mean"))


def baselines(taxonomy: str = "12", path: Path = BASELINES_FILE) -> pd.DataFrame:
    """BLiMP's published accuracies (5-gram, LSTM, Transformer-XL, GPT-2): one row per phenomenon
    of ``taxonomy`` (the mean over its paradigms) plus ``overall`` (the mean over all 67)."""
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    per_paradigm = pd.DataFrame([r for r in rows if r["UID"] in blimp.PARADIGM_TERMS]).set_index("UID")
    if len(per_paradigm) != 67:
        raise ValueError(f"{path}: expected 67 paradigm rows, found {len(per_paradigm)}")
    per_paradigm["phenomenon"] = [blimp.phenomenon_of(p, taxonomy) for p in per_paradigm.index]
    table = per_paradigm.groupby("phenomenon")[list(BASELINE_MODELS)].mean()
    table.loc["overall"] = per_paradigm[list(BASELINE_MODELS)].mean()
    return table


def accuracy_table(scores_by_model: dict[str, pd.DataFrame], taxonomy: str = "12") -> pd.DataFrame:
    """Per phenomenon (and ``overall``, the mean over paradigms): our models' accuracies beside BLiMP's baselines."""
    columns = {}
    for name, scores in scores_by_model.items():
        per_paradigm = paradigm_accuracy(scores)
        column = per_paradigm.groupby("phenomenon").accuracy.mean()
        column.loc["overall"] = per_paradigm.accuracy.mean()
        columns[name] = column
    return pd.DataFrame(columns).join(baselines(taxonomy), how="left")
