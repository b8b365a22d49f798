"""Scoring checkpoints (and any model) on BLiMP, kept as per-pair scores.

A checkpoint is scored on every paradigm's test split, exactly (float32, the scorer's 1e-5
contract), and its per-pair log-probs are kept, so that any accuracy is recomputed from them
(:func:`score_checkpoint`, :func:`export_checkpoint_scores`). They are committed beside each
checkpoint's metadata in the results folder (``results/<preset>/models/<run>/epoch-<E>.blimp.csv.gz``),
where :mod:`taskspace_core.analysis.accuracy` reads them beside BLiMP's baselines.
"""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pandas as pd

from ..analysis.accuracy import (
    accuracy_table, load_checkpoint_scores, paradigm_summary, phenomenon_summary, scores_path,
)
from ..config import Config, to_dict
from ..corpora import benchmarks, blimp
from ..corpora.pairs import data_hash, select_pairs
from ..errors import ConfigError
from ..lm.checkpoints import checkpoint_epoch
from ..lm.identity import checkpoint_name, models_dir, run_name
from ..lm.models import load_model, resolve_devices
from ..lm.pretrain import ensure_checkpoint, list_checkpoints
from ..provenance import atomic_write_bytes, atomic_write_json, atomic_write_text, provenance
from ..results.export import export_checkpoints, write_index
from .scoring import score_pairs


def _score_blimp(config: Config, model: str | Path, names: list[str] | None, split: str, precision: str,
                 max_pairs: int = 0, revision: str | None = None):
    """Score the ``split`` pairs of paradigms ``names`` (None: the config's selection, in that order) with the config's
    scoring policy at ``precision``: ``(scores, the loaded paradigms, seconds spent scoring)``."""
    config = resolve_devices(config)
    d, s, device = config.data, config.scoring, config.device
    loaded = benchmarks.load_pairs(d, names)
    chosen = [p for paradigm in loaded.values()
              for p in select_pairs(paradigm, split, d.n_test, d.n_train, d.split_seed, max_pairs)]
    lm, tokenizer = load_model(model, revision=revision, device=device)
    started = time.perf_counter()
    scores = score_pairs(lm, tokenizer, chosen, s.bos, s.batch_tokens, device, s.pack_pairs, precision)
    return scores, loaded, time.perf_counter() - started


def score_checkpoint(config: Config, model_dir: str | Path) -> pd.DataFrame:
    """Per test pair of every selected paradigm: ``paradigm, phenomenon, pair_id, logp_good, logp_bad, ...``.

    Float32 (``scoring.precision`` is ignored here: accuracies are reported exactly), the
    preset's BOS policy and test split.
    """
    d = config.data
    names = sorted(benchmarks.selected_paradigms(d))
    scores, _, _ = _score_blimp(config, model_dir, names, "test", "fp32")
    scores.insert(1, "phenomenon", [benchmarks.phenomenon_of(p, d.taxonomy) for p in scores.paradigm])
    return scores


def score_model(config: Config, model: str | Path, out: str | Path, revision: str | None = None,
                paradigms: list[str] | None = None, split: str = "test", max_pairs: int = 0,
                ) -> tuple[pd.DataFrame, dict]:
    """Score BLiMP pairs with any causal LM (``taskspace score``): ``out`` gets one CSV row per pair, and
    ``<out stem>.meta.json`` its provenance. Returns the scores and that metadata.

    Uses the config's scoring policy (``scoring.*``: BOS, batch tokens, pair packing, precision)
    and split (``data.*``); ``paradigms`` None scores the config's selection (``data.benchmarks``,
    ``data.paradigms``, ``data.phenomena``: BLiMP's 67 by default).
    """
    config = resolve_devices(config)  # the precision recorded below is the one used ("auto" resolved)
    d, s = config.data, config.scoring
    scores, loaded, wall = _score_blimp(config, model, paradigms, split, s.precision, max_pairs, revision)
    scores.insert(2, "phenomenon", [benchmarks.phenomenon_of(p, d.taxonomy) for p in scores.paradigm])
    scores["bos"] = s.bos

    out = Path(out)
    atomic_write_text(out, scores.to_csv(index=False, float_format="%.6f"))
    meta_file = Path(model) / "meta.json"
    model_meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
    meta = provenance(
        kind="pair_scores", model=str(model), revision=revision,
        model_meta={k: model_meta.get(k) for k in ("preset", "size", "epoch", "step", "tokens_seen",
                                                    "pretrain_hash", "git_commit", "data_hash")},
        scoring={"bos": s.bos, "batch_tokens": s.batch_tokens, "pack_pairs": s.pack_pairs, "precision": s.precision,
                 "score": "sum of token log-probs", "accuracy": "logp_good > logp_bad (ties wrong)"},
        split={"split": split, "n_test": d.n_test, "n_train": d.n_train, "seed": d.split_seed, "max_pairs": max_pairs},
        benchmarks=list(d.benchmarks), blimp_dir=str(blimp.blimp_dir(d.blimp_dir or None)), data_hash=data_hash(loaded),
        paradigms=sorted(loaded), n_pairs=len(scores), wall_time_s=round(wall, 3),
        summary=paradigm_summary(scores, d.taxonomy).reset_index().to_dict(orient="records"),
    )
    atomic_write_json(out.with_name(out.stem + ".meta.json"), meta)
    return scores, meta


def export_checkpoint_scores(config: Config, model_dir: Path, root: Path) -> Path:
    """Write ``model_dir``'s per-pair test scores under ``root`` (skipped when already there for
    this very checkpoint and scoring: same pretraining hash, step, BOS policy and split), with a
    ``.json`` of provenance."""
    meta = json.loads((Path(model_dir) / "meta.json").read_text())
    target = scores_path(root, Path(model_dir).parent.name, Path(model_dir).name)  # models/<run>/epoch-E
    info = target.with_name(target.name.removesuffix(".csv.gz") + ".json")
    scoring = {"bos": config.scoring.bos, "precision": "fp32", "split": "test", "n_test": config.data.n_test,
               "seed": config.data.split_seed, "accuracy": "logp_good > logp_bad (ties wrong)"}
    if target.is_file() and info.is_file():
        old = json.loads(info.read_text())
        if (old.get("pretrain_hash"), old.get("step"), old.get("scoring")) == (meta["pretrain_hash"], meta["step"], scoring):
            return target
    scores = score_checkpoint(config, model_dir)
    atomic_write_bytes(target, gzip.compress(scores.to_csv(index=False, float_format="%.6f").encode(), mtime=0))
    summary = phenomenon_summary(scores, config.data.taxonomy)
    atomic_write_json(info, provenance(
        kind="blimp_scores", preset=config.preset, size=meta["size"], epoch=meta["epoch"], step=meta["step"],
        pretrain_hash=meta["pretrain_hash"], tokens_seen=meta["tokens_seen"], val_loss=meta["val_loss"],
        scoring=scoring,
        data_hash=data_hash(benchmarks.load_pairs(config.data, sorted(set(scores.paradigm)))),
        n_pairs=len(scores), mean_accuracy=float(paradigm_summary(scores, config.data.taxonomy).accuracy.mean()),
        phenomenon_accuracy=summary.accuracy.round(4).to_dict(), config=to_dict(config)))
    return target


def export_accuracy(config: Config, sizes: list[str], checkpoint: str = "final", log=print) -> pd.DataFrame | None:
    """Score checkpoints of ``sizes`` on the BLiMP test split and commit their per-pair scores
    (``taskspace accuracy``), with every checkpoint's metadata and training curve.

    ``checkpoint`` is ``"all"`` (every finished checkpoint in the run directory), ``"final"`` or
    an epoch; the checkpoints must exist (nothing is trained here). Returns the final
    checkpoints' accuracy table beside BLiMP's baselines (None if none is scored yet).
    """
    root = config.reference_dir()
    if root is None:
        raise ConfigError("results_dir is empty: there is nowhere to write the scores")
    finals = {}
    for size in sizes:
        if checkpoint == "all":
            paths = list_checkpoints(models_dir(config.run_dir(), config, size))
        else:
            paths = [ensure_checkpoint(config, size, checkpoint, train_if_missing=False)]
        for path in paths:
            target = export_checkpoint_scores(config, path, root)
            log(f"{config.preset}/{size}/{path.name}: {target}")
        final = checkpoint_name(checkpoint_epoch(config, "final" if checkpoint == "all" else checkpoint))
        scores = load_checkpoint_scores(root, run_name(config, size), final)
        if scores is not None:
            finals[f"{size} {final}"] = scores
    export_checkpoints(config, root)
    write_index(config, root)
    return accuracy_table(finals, config.data.taxonomy) if finals else None
