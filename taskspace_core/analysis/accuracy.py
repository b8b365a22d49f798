"""BLiMP accuracy: per-pair scores summarised, and read beside BLiMP's own baselines.

Before a task space says anything about learned grammar, the model must know some: a 5-gram
model scores 0.612 on BLiMP (mean over the 67 paradigms; Warstadt et al. 2020), and a model
below that line mostly measures what its fine-tunes install. This module

- summarises per-pair scores per paradigm and phenomenon (:func:`paradigm_summary`,
  :func:`phenomenon_summary`);
- reads the committed per-pair scores of checkpoints (``results/<preset>/models/<run>/epoch-<E>.blimp.csv.gz``,
  written by :mod:`taskspace_core.engine.blimp_scores`);
- reads BLiMP's published per-paradigm accuracies of a 5-gram model, an LSTM, Transformer-XL
  and GPT-2 (``data/blimp_baselines``, CC BY 4.0) and averages them the same way
  (:func:`baselines`), so the two are compared like for like.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..config import Config
from ..corpora import blimp
from ..corpora.benchmarks import phenomenon_of
from ..lm.checkpoints import checkpoint_epoch
from ..lm.identity import checkpoint_name, models_dir, run_name
from ..paths import DATA_DIR

BASELINES_FILE = DATA_DIR / "blimp_baselines" / "models_summary.jsonl"
BASELINE_MODELS = ("ngram", "lstm", "txl", "gpt2")
SCORES_SUFFIX = ".blimp.csv.gz"


def pair_correct(pair_scores: pd.DataFrame) -> pd.Series:
    """1.0 for each pair whose grammatical sentence scores higher (logp_good > logp_bad), else 0.0:
    a tie counts as wrong."""
    return (pair_scores.logp_good > pair_scores.logp_bad).astype(float)


def paradigm_summary(pair_scores: pd.DataFrame, taxonomy: str = "12") -> pd.DataFrame:
    """Per paradigm: pairs, accuracy (:func:`pair_correct`), mean margin."""
    df = pair_scores.assign(margin=pair_scores.logp_good - pair_scores.logp_bad, correct=pair_correct(pair_scores))
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
def scores_path(root: Path, run: str, checkpoint_name: str) -> Path:
    """Where ``root`` keeps the per-pair scores of one checkpoint of run ``run`` (see ``pretrain.run_name``)."""
    return Path(root) / "models" / run / f"{checkpoint_name}{SCORES_SUFFIX}"


def load_checkpoint_scores(root: Path, run: str, checkpoint_name: str) -> pd.DataFrame | None:
    """Committed per-pair scores of one checkpoint of run ``run``, or None."""
    path = scores_path(root, run, checkpoint_name)
    return pd.read_csv(path) if path.is_file() else None


def final_scores(config: Config) -> dict[str, pd.DataFrame]:
    """Committed per-pair test scores of each size's final checkpoint (sizes still training left out)."""
    final = checkpoint_name(checkpoint_epoch(config, "final"))
    found = {size: load_checkpoint_scores(config.reference_dir(), run_name(config, size), final) for size in config.sizes}
    return {size: scores for size, scores in found.items() if scores is not None}


def learning_curves(config: Config) -> pd.DataFrame:
    """Per size and committed checkpoint that has scores: tokens seen (M), validation loss and mean
    BLiMP test accuracy over paradigms (``size, tokens (M), val_loss, accuracy``)."""
    root = config.reference_dir()
    rows = []
    for size in config.sizes:
        for epoch in config.pretrain.checkpoints:
            name = checkpoint_name(epoch)
            meta_path = models_dir(root, config, size) / f"{name}.json"
            scores = load_checkpoint_scores(root, run_name(config, size), name)
            if scores is None or not meta_path.exists():
                continue
            meta = json.loads(meta_path.read_text())
            rows.append({"size": size, "tokens (M)": meta["tokens_seen"] / 1e6, "val_loss": meta["val_loss"],
                         "accuracy": paradigm_summary(scores, config.data.taxonomy).accuracy.mean()})
    return pd.DataFrame(rows, columns=["size", "tokens (M)", "val_loss", "accuracy"])


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
        per_paradigm = paradigm_summary(scores, taxonomy)
        column = per_paradigm.groupby("phenomenon").accuracy.mean()
        column.loc["overall"] = per_paradigm.accuracy.mean()
        columns[name] = column
    return pd.DataFrame(columns).join(baselines(taxonomy), how="left")


