"""Is a preset's set of sizes a ladder? Each larger model the better language model, and better on BLiMP.

RQ2 compares model sizes. That comparison means something only if each larger size is also the
better language model (else a step compares size and training at once) and knows more grammar.
This module reads a preset's committed pretraining records and per-pair BLiMP test scores, for
every size and every pretraining seed (``pretrain.seed`` and ``book.pretrain_seeds``) that has
them, and checks each step between neighbouring sizes against two targets:

- **validation loss** (nats per token on the held-out books) lower by more than twice the spread
  between pretraining seeds (max − min; the wider of the two sizes', a size with one seed borrowing
  the widest measured, as :func:`~.replicates.band_for` does);
- **BLiMP test accuracy** higher, the paired difference over the test pairs (each pair's accuracy
  averaged over the seeds both sizes have scores for) more than two standard errors above zero.

    ladder_table(config)  one row per size: parameters, tokens, seeds, validation loss (mean, band),
                          BLiMP accuracy (mean, se over pairs, seed range), the step from the next
                          smaller size in both and whether it meets its target, and hours per run
    blimp_per_nat(config) the straight line through every scored run's (validation loss, BLiMP):
                          how much BLiMP a nat of loss buys on this text, across sizes and seeds
    phenomenon_steps(config)  the BLiMP step of each phenomenon: where the larger size gains grammar
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..config import Config, apply_overrides
from ..lm.checkpoints import checkpoint_epoch, find_checkpoint_meta
from ..lm.identity import checkpoint_name, run_name
from ..corpora.benchmarks import phenomenon_of
from .accuracy import load_checkpoint_scores, pair_correct
from .claims import step_statuses
from .replicates import Estimate

LOSS_BANDS = 2.0  # a loss step must exceed this many seed bands
ACCURACY_SE = 2.0  # a BLiMP step must exceed this many standard errors of the paired difference
LADDER_TARGETS = (f"targets: validation loss lower by more than {LOSS_BANDS:g} seed bands, BLiMP paired difference "
                  f"more than {ACCURACY_SE:g} se above zero")


def seeds_of(config: Config) -> list[int]:
    """The preset's pretraining seeds: its own first, then ``book.pretrain_seeds``."""
    return list(dict.fromkeys([config.pretrain.seed, *config.book.pretrain_seeds]))


def _runs(config: Config, size: str, checkpoint: str | float) -> list[tuple[dict, pd.DataFrame | None]]:
    """``(record, per-pair scores or None)`` of every seed of ``size`` that has a record of ``checkpoint``."""
    found = []
    for seed in seeds_of(config):
        seeded = apply_overrides(config, {"pretrain.seed": seed})
        meta = find_checkpoint_meta(seeded, size, checkpoint)
        if meta is not None:
            name = checkpoint_name(checkpoint_epoch(seeded, checkpoint))
            found.append((meta, load_checkpoint_scores(seeded.reference_dir(), run_name(seeded, size), name)))
    return found


def _pair_accuracy(scores: list[pd.DataFrame]) -> pd.Series:
    """Each test pair's accuracy (:func:`~.accuracy.pair_correct`), averaged over ``scores`` (seeds),
    indexed by (paradigm, pair_id)."""
    return pd.concat([pair_correct(s.set_index(["paradigm", "pair_id"])) for s in scores], axis=1).mean(axis=1)


def _standard_error(values: pd.Series) -> float:
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else float("nan")


def _paired_step(smaller: list[pd.DataFrame], larger: list[pd.DataFrame]) -> tuple[float, float]:
    """(mean, se) of the larger minus the smaller size's per-pair accuracy, over the seeds both
    have (by position: seed k of one against seed k of the other)."""
    n = min(len(smaller), len(larger))
    difference = (_pair_accuracy(larger[:n]) - _pair_accuracy(smaller[:n])).dropna()
    return float(difference.mean()), _standard_error(difference)


def ladder_table(config: Config, checkpoint: str | float = "final") -> pd.DataFrame:
    """One row per size of ``config`` (in the preset's order) at ``checkpoint``; see the module
    docstring. Sizes without any record are left out; BLiMP columns are NaN where no seed has scores."""
    rows, losses, scored = [], {}, {}
    for size in config.sizes:
        runs = _runs(config, size, checkpoint)
        if not runs:
            continue
        losses[size] = Estimate(tuple(float(meta["val_loss"]) for meta, _ in runs))
        scored[size] = [scores for _, scores in runs if scores is not None]
        accuracy = Estimate(tuple(float(_pair_accuracy([s]).mean()) for s in scored[size]))
        rows.append({"size": size, "parameters (M)": runs[0][0]["n_parameters"] / 1e6,
                     "tokens (M)": runs[0][0]["tokens_seen"] / 1e6, "seeds": len(runs), "val loss": losses[size].mean,
                     "val loss band": losses[size].band, "BLiMP": accuracy.mean, "BLiMP seeds": len(accuracy.values),
                     "BLiMP se": _standard_error(_pair_accuracy(scored[size])) if scored[size] else np.nan,
                     "BLiMP band": accuracy.band,
                     "hours per run": float(np.mean([meta["wall_time_s"] for meta, _ in runs])) / 3600})
    table = pd.DataFrame(rows).set_index("size") if rows else pd.DataFrame()
    if len(table) < 2:
        return table
    table[["loss step", "loss step band", "BLiMP step", "BLiMP step se"]] = np.nan
    table[["loss target", "BLiMP target"]] = ""
    # the step and its band as claim 2's precondition reads them (the wider band of the two sizes)
    for a, b, step, band, _ in step_statuses(losses):
        table.loc[b, ["loss step", "loss step band"]] = [step, band]
        table.loc[b, "loss target"] = "no band" if math.isnan(band) else ("met" if step < -LOSS_BANDS * band else "missed")
        if scored[a] and scored[b]:
            mean, se = _paired_step(scored[a], scored[b])
            table.loc[b, ["BLiMP step", "BLiMP step se"]] = [mean, se]
            table.loc[b, "BLiMP target"] = "met" if mean > ACCURACY_SE * se else "missed"
        else:
            table.loc[b, "BLiMP target"] = "no scores"
    return table


def blimp_per_nat(config: Config, checkpoint: str | float = "final") -> tuple[float, float, int]:
    """``(slope, intercept, runs)`` of the least-squares line BLiMP = slope · val loss + intercept
    through every run of every size and seed with scores at ``checkpoint`` (one point per run:
    its validation loss and its mean test-pair accuracy). A negative slope: lower loss, more BLiMP."""
    points = [(float(meta["val_loss"]), float(_pair_accuracy([scores]).mean()))
              for size in config.sizes for meta, scores in _runs(config, size, checkpoint) if scores is not None]
    if len(points) < 2:
        return float("nan"), float("nan"), len(points)
    slope, intercept = np.polyfit(*zip(*points), deg=1)  # x: losses, y: accuracies
    return float(slope), float(intercept), len(points)


def phenomenon_steps(config: Config, checkpoint: str | float = "final", taxonomy: str = "12") -> pd.DataFrame:
    """BLiMP test accuracy per phenomenon (rows, then ``overall``) of every size with scores at
    ``checkpoint`` (each pair's accuracy averaged over the size's seeds, then over the phenomenon's
    pairs), and each step between neighbouring sizes as :func:`ladder_table` takes it: the mean
    paired difference over the phenomenon's test pairs (seed k against seed k) with its standard
    error (columns ``"<a> → <b>"`` and ``"<a> → <b> se"``). Empty when no size has scores."""
    scored = {size: [scores for _, scores in _runs(config, size, checkpoint) if scores is not None]
              for size in config.sizes}
    scored = {size: runs for size, runs in scored.items() if runs}
    if not scored:
        return pd.DataFrame()

    def by_phenomenon(per_pair: pd.Series, how) -> pd.Series:  # per_pair: indexed by (paradigm, pair_id)
        phenomena = [phenomenon_of(paradigm, taxonomy) for paradigm in per_pair.index.get_level_values("paradigm")]
        grouped = per_pair.groupby(phenomena).agg(how)
        return pd.concat([grouped, pd.Series({"overall": how(per_pair)})])

    table = pd.DataFrame({size: by_phenomenon(_pair_accuracy(runs), pd.Series.mean) for size, runs in scored.items()})
    for a, b in zip(scored, list(scored)[1:]):
        n = min(len(scored[a]), len(scored[b]))
        difference = (_pair_accuracy(scored[b][:n]) - _pair_accuracy(scored[a][:n])).dropna()
        table[f"{a} → {b}"] = by_phenomenon(difference, pd.Series.mean)
        table[f"{a} → {b} se"] = by_phenomenon(difference, _standard_error)
    return table


def is_ladder(table: pd.DataFrame) -> bool:
    """Every step of :func:`ladder_table` meets both targets."""
    steps = table.iloc[1:]
    return len(steps) > 0 and bool((steps["loss target"] == "met").all() and (steps["BLiMP target"] == "met").all())
