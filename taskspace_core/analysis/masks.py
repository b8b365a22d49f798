"""The FTGD masks of one checkpoint on its own: which parameters each paradigm's fine-tune would
update, without fine-tuning or eval2.

A :class:`MaskSet` is what a task space says about parameters (each paradigm's mask share, the
Jaccard overlap between paradigms' masks, the share in at least one mask, per-tensor counts), for
a fraction of a space's cost: a mask needs only the gradient differential over the paradigm's
training pairs. That makes bands for mask statistics (claim 4: the masks' union, their overlap
within and between phenomena) affordable on replicates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..corpora.benchmarks import phenomenon_of
from .similarity import mask_jaccard
from .space import Origin


@dataclass
class MaskSet:
    """Every paradigm's FTGD mask at one checkpoint: summaries, and the full masks where computed
    here (``None`` when read from committed results)."""

    paradigms: list[str]
    phenomena: list[str]  # per paradigm, under config.data.taxonomy
    mask_share: pd.Series  # per paradigm: share of parameters in its mask
    mask_overlap: np.ndarray  # (n, n) Jaccard |m_p & m_q| / |m_p | m_q|
    mask_union_share: float  # share of parameters in at least one mask
    mask_tables: pd.DataFrame  # per paradigm and parameter tensor: layer, component, numel, n_masked
    store_dir: Path
    origin: Origin = Origin.RUN_STORE
    masks: np.ndarray | None = None  # (n, n_parameters) bool
    meta: dict = field(default_factory=dict)

    @classmethod
    def from_masks(cls, paradigms: list[str], masks: np.ndarray, taxonomy: str, mask_tables: pd.DataFrame,
                   store_dir: Path) -> MaskSet:
        """A mask set from the full masks (n, n_parameters) of the run store."""
        return cls(paradigms, [phenomenon_of(p, taxonomy) for p in paradigms],
                   pd.Series(masks.mean(1), index=paradigms, name="mask_share"), mask_jaccard(masks),
                   float(masks.any(0).mean()), mask_tables, store_dir, Origin.RUN_STORE, masks)


def overlap_within_between(overlap: np.ndarray, phenomena: list[str]) -> tuple[float, float]:
    """Mean Jaccard overlap of the masks of two paradigms of the same phenomenon, and of two of
    different phenomena (each unordered pair once)."""
    labels = np.array(phenomena)
    upper = np.triu_indices(len(labels), k=1)
    same = labels[upper[0]] == labels[upper[1]]
    values = overlap[upper]
    within = float(values[same].mean()) if same.any() else float("nan")
    between = float(values[~same].mean()) if (~same).any() else float("nan")
    return within, between
