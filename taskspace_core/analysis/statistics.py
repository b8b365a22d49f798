"""The numbers the claims read from analysed task spaces, and their declared alternatives.

    mean_over_phenomena   claim 2's primary statistic: the per-phenomenon means, averaged
    phenomenon_weightings claim 2's declared alternatives (phenomena with ≥ 3 paradigms; pair-weighted)
    n_high                how many phenomena reach the high-similarity line
    similarity_change     Δ = 1 − r between two similarity matrices (claim 3's measure)
    replicate_change      the mean Δ between replicate spaces of one checkpoint (claim 3's noise)
    hypothesis_r_by_definition  claim 1's r under each declared similarity definition
    mask_sharing_gap      claim 4's statistic: mask overlap within minus between phenomena
    seed_spread           how far a space moves when only the FTGD seed changes
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .hypothesis import HIGH_WITHIN, correlations
from .report import Analysis
from .similarity import offdiag_pearson, transfer_similarity
from .space import TaskSpace

# claim 1's declared alternatives to the chosen similarity (config.space.similarity), by name
SIMILARITY_DEFINITIONS = {"raw symmetrised transfers": "mutual", "double-centred transfers": "centred"}
MIN_PARADIGMS = 3  # claim 2's alternative keeps phenomena with at least this many paradigms


def mean_over_phenomena(within: pd.DataFrame) -> float:
    """The average of the per-phenomenon mean similarities (the paper's table, averaged over its columns)."""
    return float(within["mean"].mean())


def n_high(within: pd.DataFrame, high: float = HIGH_WITHIN) -> int:
    """How many phenomena have a mean within-phenomenon similarity of at least ``high``."""
    return int((within["mean"] >= high).sum())


def similarity_change(a: np.ndarray, b: np.ndarray) -> float:
    """1 − Pearson r of the off-diagonal entries of two similarity matrices (0: unchanged)."""
    return 1 - offdiag_pearson(a, b)


def replicate_change(analyses: list[Analysis]) -> float:
    """The mean Δ = 1 − r between the similarity matrices of replicate spaces of one checkpoint
    (e.g. data-split seeds), over every pair of them: claim 3's noise. NaN with fewer than two."""
    changes = [similarity_change(a.similarity, b.similarity) for a, b in itertools.combinations(analyses, 2)]
    return float(np.mean(changes)) if changes else float("nan")


def phenomenon_weightings(within: pd.DataFrame) -> dict[str, float]:
    """Claim 2's declared alternatives to :func:`mean_over_phenomena`: the mean over phenomena with
    at least ``MIN_PARADIGMS`` paradigms (a two-paradigm phenomenon's "mean" is one pair's value),
    and the mean weighted by each phenomenon's pairs of paradigms (every same-phenomenon pair counts
    once, as in the headline's ``within_mean``)."""
    big = within[within["n_paradigms"] >= MIN_PARADIGMS]
    return {f"phenomena with ≥ {MIN_PARADIGMS} paradigms": float(big["mean"].mean()),
            "pair-weighted": float(np.average(within["mean"], weights=within["n_pairs"]))}


def hypothesis_r_by_definition(space: TaskSpace, analysis: Analysis, metric: str) -> dict[str, float]:
    """Pearson r of the off-diagonal entries with the hypothesis space, for each declared
    alternative similarity definition of ``space``'s transfers in ``metric``."""
    transfer = space.transfer[metric]
    return {name: correlations(transfer_similarity(transfer, kind), analysis.hypothesis)["pearson"]
            for name, kind in SIMILARITY_DEFINITIONS.items()}


def mask_sharing_gap(analysis: Analysis) -> float:
    """Mean Jaccard overlap of the masks of two paradigms of the same phenomenon minus that of two
    of different phenomena (claim 4)."""
    summary = analysis.mask_within_summary["mean"]
    return float(summary["within"] - summary["between"])


@dataclass(frozen=True)
class SeedSpread:
    """How far one checkpoint's task space moves when only the FTGD seed (batch order) changes."""

    agreement: float  # mean off-diagonal Pearson r between the seeds' similarity matrices (nan with one seed)
    change: float  # mean Δ = 1 − r between two seeds' matrices: the noise floor of claim 3's measure
    hypothesis_r_mean: float  # the hypothesis correlation, mean over seeds
    hypothesis_r_std: float  # ... and its population std (ddof=0) over seeds
    within_mean_sd: float  # sample std (ddof=1) over seeds of the mean within-phenomenon similarity
    within: pd.DataFrame  # phenomenon x "seed <s>" mean within-similarity, plus "std over seeds" (ddof=0)


def seed_spread(by_seed: dict[int, Analysis]) -> SeedSpread:
    """The :class:`SeedSpread` of the analyses of one checkpoint fine-tuned with different FTGD seeds."""
    analyses = list(by_seed.values())
    pairs = [offdiag_pearson(a.similarity, b.similarity) for a, b in itertools.combinations(analyses, 2)]
    r_h = [an.headline.hypothesis_pearson for an in analyses]
    within = pd.DataFrame({f"seed {s}": an.within_table()["mean"] for s, an in by_seed.items()})
    within["std over seeds"] = within.std(axis=1, ddof=0)
    means = [mean_over_phenomena(an.within) for an in analyses]
    return SeedSpread(agreement=float(np.mean(pairs)) if pairs else float("nan"),
                      change=float(np.mean([1 - r for r in pairs])) if pairs else float("nan"),
                      hypothesis_r_mean=float(np.mean(r_h)), hypothesis_r_std=float(np.std(r_h)),
                      within_mean_sd=float(np.std(means, ddof=1)) if len(means) > 1 else float("nan"),
                      within=within)
