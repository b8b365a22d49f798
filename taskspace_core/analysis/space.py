"""The task space of one checkpoint: transfers between all paradigms, with their uncertainty.

    T[p, q] = eval2_p[q] - eval1[q]     (accuracy, margin and effect size)

A :class:`TaskSpace` holds a space's per-pair margins and everything computed from them:
:func:`transfers` turns the margins into the transfer matrices, and :func:`bootstrap_intervals`
into their 95% intervals (computed when first asked for: the book never shows them, and the
bootstrap is the slowest part of loading a space). A space assembled from the run store
(:mod:`taskspace_core.engine.compute`) and one read from committed results
(:mod:`taskspace_core.results`) go through the same functions, so both give the same numbers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np
import pandas as pd

from ..corpora.benchmarks import phenomenon_of


class Origin(StrEnum):
    """Where a task space was read from."""

    RUN_STORE = "run store"  # assembled from the per-job files of a run store (masks included)
    COMMITTED = "committed"  # read from committed results (mask summaries only)


METRICS = ("accuracy", "margin", "effect")


@dataclass(frozen=True)
class PairMargins:
    """Per test pair, log p(good) - log p(bad): before fine-tuning and after each source's fine-tune.

    Kept in float32 (the precision of the model that produced them), so a space rebuilt from
    committed results is bit-identical to one assembled from the run store.
    """

    eval1: np.ndarray  # (n_pairs,) float32
    eval2: np.ndarray  # (n_sources, n_pairs) float32, rows in paradigm order
    test_paradigm: np.ndarray  # (n_pairs,) int: index of the pair's paradigm
    test_pair_id: np.ndarray  # (n_pairs,) int: BLiMP pairID


@dataclass
class TaskSpace:
    """Transfers between all paradigms of one checkpoint, with mask summaries and uncertainty.

    Everything the analysis needs is here without the full masks: ``masks`` is the
    ``(n, n_parameters)`` boolean array when the space was assembled from a run store, and
    ``None`` when it was loaded from committed reference results (see :mod:`taskspace_core.results.read`),
    which keep only the summaries (shares, overlaps, union, per-tensor counts).
    """

    paradigms: list[str]
    phenomena: list[str]  # per paradigm, under config.data.taxonomy
    transfer: dict[str, np.ndarray]  # metric -> (n, n): row = fine-tuned source, column = target
    eval1: pd.DataFrame  # per paradigm: accuracy, margin, margin_sd, n_test
    margins: PairMargins  # the per-pair scores every number above is computed from
    mask_share: pd.Series  # per source: share of parameters in its FTGD mask
    mask_overlap: np.ndarray  # (n, n) Jaccard |m_p & m_q| / |m_p | m_q| of the masks
    mask_union_share: float  # share of parameters in at least one mask
    mask_tables: pd.DataFrame  # per source and parameter tensor: layer, component, numel, n_masked
    finetune_log: pd.DataFrame  # per source and step: objective, batch_margin
    store_dir: Path
    origin: Origin = Origin.RUN_STORE
    masks: np.ndarray | None = None  # (n, n_parameters) bool, when assembled from a run store
    meta: dict = field(default_factory=dict)
    bootstrap: int = 0  # resamples of test pairs behind ci_low/ci_high (config.space.bootstrap) ...
    bootstrap_seed: int = 0  # ... and their seed (config.space.seed)

    @functools.cached_property
    def _intervals(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        return bootstrap_intervals(self.margins, len(self.paradigms), self.bootstrap, self.bootstrap_seed)

    @property
    def ci_low(self) -> dict[str, np.ndarray]:
        """metric -> (n, n) lower end of the 95% percentile-bootstrap interval of each transfer (NaN without bootstrap)."""
        return self._intervals[0]

    @property
    def ci_high(self) -> dict[str, np.ndarray]:
        """metric -> (n, n) upper end of the interval."""
        return self._intervals[1]

    @classmethod
    def from_margins(cls, paradigms: list[str], margins: PairMargins, taxonomy: str, *, mask_share: np.ndarray,
                     mask_overlap: np.ndarray, mask_union_share: float, mask_tables: pd.DataFrame,
                     finetune_log: pd.DataFrame, store_dir: Path, origin: Origin, masks: np.ndarray | None = None,
                     bootstrap: int = 0, bootstrap_seed: int = 0) -> TaskSpace:
        """A task space from its per-pair margins (its transfers computed from them) and its mask summaries."""
        eval1, transfer = transfers(paradigms, margins)
        return cls(paradigms=paradigms, phenomena=[phenomenon_of(p, taxonomy) for p in paradigms],
                   transfer=transfer, eval1=eval1, margins=margins,
                   mask_share=pd.Series(mask_share, index=paradigms, name="mask_share"), mask_overlap=mask_overlap,
                   mask_union_share=float(mask_union_share), mask_tables=mask_tables, finetune_log=finetune_log,
                   store_dir=store_dir, origin=origin, masks=masks, bootstrap=bootstrap, bootstrap_seed=bootstrap_seed)

    def table(self) -> pd.DataFrame:
        """Long form: ``source, target, metric, value, ci_low, ci_high``."""
        n = len(self.paradigms)
        src, tgt = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        frames = [pd.DataFrame({
            "source": np.array(self.paradigms)[src.ravel()],
            "target": np.array(self.paradigms)[tgt.ravel()],
            "metric": metric,
            "value": self.transfer[metric].ravel(),
            "ci_low": self.ci_low[metric].ravel(),
            "ci_high": self.ci_high[metric].ravel(),
        }) for metric in METRICS]
        return pd.concat(frames, ignore_index=True)


def _paired_differences(margins: PairMargins):
    """Per-pair float64 margins before fine-tuning, and the per-pair changes (n_src, n_pairs) of
    each metric's quantity: correctness and margin."""
    margin1, margin2 = margins.eval1.astype(np.float64), margins.eval2.astype(np.float64)
    correct1, correct2 = (margin1 > 0).astype(float), (margin2 > 0).astype(float)
    return margin1, correct1, margin2 - margin1, correct2 - correct1


def _margin_sd(margin1: np.ndarray, cols: np.ndarray) -> float:
    """The sd of one target's margins before fine-tuning: the effect size's unit."""
    sd = margin1[cols].std(ddof=1) if len(cols) > 1 else 0.0
    return max(sd, 1e-8)  # a paradigm whose margins are all equal: effect = margin change / tiny


def _metric_differences(margin1, d_margin, d_correct, cols) -> dict[str, np.ndarray]:
    """metric -> (n_src, n_q): each source's change on the test pairs ``cols`` of one target."""
    sd = _margin_sd(margin1, cols)
    return {"accuracy": d_correct[:, cols], "margin": d_margin[:, cols], "effect": d_margin[:, cols] / sd}


def transfers(names: list[str], margins: PairMargins):
    """eval1 per paradigm, and the transfer matrices, from per-pair margins.

    Returns ``(eval1_table, transfer)``; ``transfer`` maps metric -> (n, n).
    """
    n = len(names)
    margin1, correct1, d_margin, d_correct = _paired_differences(margins)
    transfer = {m: np.zeros((n, n)) for m in METRICS}
    rows = []
    for q in range(n):
        cols = np.flatnonzero(margins.test_paradigm == q)
        rows.append({"paradigm": names[q], "accuracy": correct1[cols].mean(), "margin": margin1[cols].mean(),
                     "margin_sd": _margin_sd(margin1, cols), "n_test": len(cols)})
        for metric, diffs in _metric_differences(margin1, d_margin, d_correct, cols).items():
            transfer[metric][:, q] = diffs.mean(1)
    return pd.DataFrame(rows).set_index("paradigm"), transfer


def bootstrap_intervals(margins: PairMargins, n: int, bootstrap: int, seed: int):
    """95% percentile-bootstrap intervals of every transfer: test pairs of each target resampled
    ``bootstrap`` times (the same resamples for every source, so the rows stay paired).

    Returns ``(ci_low, ci_high)``, each metric -> (n, n); all NaN when ``bootstrap`` is 0.
    """
    margin1, _, d_margin, d_correct = _paired_differences(margins)
    rng = np.random.default_rng(seed)
    low = {m: np.full((n, n), np.nan) for m in METRICS}
    high = {m: np.full((n, n), np.nan) for m in METRICS}
    if not bootstrap:
        return low, high
    for q in range(n):
        cols = np.flatnonzero(margins.test_paradigm == q)
        boot = rng.integers(0, len(cols), size=(bootstrap, len(cols)))
        for metric, diffs in _metric_differences(margin1, d_margin, d_correct, cols).items():
            means = diffs[:, boot].mean(-1)  # (n_src, B): bootstrap means over resampled pairs
            low[metric][:, q], high[metric][:, q] = np.percentile(means, [2.5, 97.5], axis=1)
    return low, high


