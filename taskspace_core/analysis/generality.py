"""Generality: does the task space's phenomenon structure reappear on a benchmark built by other
people, with other words and frames (Zorro), or is it BLiMP's own templates?

The rule (committed before the spaces it judges were read):

G1. On another benchmark's own task space, the phenomenon structure **reappears** beyond what an
    untrained network shows: every trained replicate's Mantel r with that benchmark's hypothesis
    space is positive at p < ``ALPHA``, and r(trained) − r(untrained) (same size, epoch 0, same
    benchmark) exceeds the band, the spread (max − min) of the trained r over that benchmark's
    data-split replicates at the same size and checkpoint. Does not hold if a replicate is not
    significant or the difference is below −band; inconclusive inside the band; not testable
    without an untrained space or with fewer than two replicates (no band).

G2. On a cross-benchmark space (paradigms of two or more benchmarks, fine-tuned on each and
    evaluated on all), **same-phenomenon transfer carries across benchmarks**: in the block of
    pairs whose two paradigms come from different benchmarks, the mean similarity of
    same-phenomenon pairs minus that of different-phenomenon pairs (the *cross gap*) is positive
    at p < ``ALPHA`` in every trained replicate (a permutation test that shuffles phenomenon labels
    within each benchmark, so each benchmark keeps its own block structure), and the trained gap
    exceeds the untrained network's by more than the band (spread of the trained gap over data
    splits). Otherwise as G1. The same gap on the residuals of the similarity after lexical and
    critical-word overlap (least squares over the cross block) is the declared control: a verdict
    it reads differently is marked.

G3. CLAMS as a **template check** (committed before any BLiMP→CLAMS space was computed): on the
    space over BLiMP and CLAMS English restricted to the phenomena CLAMS tests (subject-verb
    agreement, reflexive anaphora, NPI licensing), in constructions BLiMP lacks, **transfer
    follows the phenomenon, not the construction**: the mean transfer (eval2 − eval1 in the
    space's metric) from a BLiMP source paradigm to a CLAMS target paradigm of its own phenomenon
    minus that to a CLAMS target of another phenomenon (the *transfer gap*, read on the directed
    BLiMP → CLAMS block of the transfer matrix, not on the symmetric similarity) is positive at
    p < ``ALPHA`` in every trained replicate (labels shuffled within each benchmark), and exceeds
    the untrained network's by more than the band. Otherwise as G1; the control is the gap after
    lexical and critical-word overlap, as in G2.

The band is the data-split band, not the pretraining-seed band of claim 1: another benchmark's
space is cheap to repeat on other splits of its pairs at the same checkpoint, while another
pretraining seed needs another model. It measures the spread from which pairs train and test
the fine-tunes, not from the pretraining run; the chapter says so beside the verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..corpora.benchmarks import benchmark, benchmark_prefix, phenomenon_of
from .claims import ALPHA, Status
from .replicates import Difference, Estimate, difference_status


def structure_reappears(trained: Estimate, trained_p: Estimate, untrained: Estimate) -> Status:
    """Rules G1, G2 and G3 (module docstring) on one benchmark set and size: the statistic (G1: r
    with the hypothesis space; G2: the cross gap; G3: the transfer gap) and its p over the
    data-split replicates (the preset's split first), and the untrained network's statistic."""
    if not untrained.values or len(trained.values) < 2 or math.isnan(trained.band):
        return Status.UNTESTABLE
    if not all(r > 0 and p < ALPHA for r, p in zip(trained.values, trained_p.values, strict=True)):
        return Status.FAILS
    reading = difference_status(trained.mean - untrained.mean, trained.band)
    return {Difference.ABOVE: Status.HOLDS, Difference.BELOW: Status.FAILS,
            Difference.INSIDE: Status.INCONCLUSIVE}.get(reading, Status.UNTESTABLE)


@dataclass(frozen=True)
class CrossGap:
    """G2's statistic on one space: same- minus different-phenomenon similarity across benchmarks."""

    gap: float
    p: float  # permutation p (labels shuffled within each benchmark), one-sided: gap > 0
    n_same: int  # cross-benchmark pairs of paradigms of one phenomenon
    n_different: int


def cross_gap(similarity: np.ndarray, paradigms: list[str], taxonomy: str = "12", permutations: int = 9999,
              seed: int = 0, controls: list[np.ndarray] | None = None,
              direction: tuple[str, str] | None = None) -> CrossGap:
    """G2's cross gap of a (n, n) similarity matrix over ``paradigms`` of several benchmarks, and its
    permutation p. ``controls`` ((n, n) each: lexical, critical-word overlap): the gap of the
    residuals after a least-squares fit on them over the cross block (the declared control).

    ``direction`` (G3's transfer gap): ``(source, target)`` benchmark names (``"blimp"``,
    ``"clams"``); the matrix is then the (n, n) transfer matrix (row: fine-tuned on, column:
    evaluated on), and the block read is every source row's cells in the target's columns."""
    bench = np.array([benchmark_prefix(p) for p in paradigms])
    labels = np.array([phenomenon_of(p, taxonomy) for p in paradigms])
    if direction is None:
        iu = np.triu_indices(len(paradigms), k=1)
        cross = bench[iu[0]] != bench[iu[1]]
        i, j = iu[0][cross], iu[1][cross]  # the cross-benchmark pairs, each once
    else:
        sources, targets = (np.flatnonzero(bench == benchmark(name).prefix) for name in direction)
        i, j = np.repeat(sources, len(targets)), np.tile(targets, len(sources))  # every source x target cell
    values = similarity[i, j]
    if controls:
        design = np.column_stack([np.ones(len(values)), *[c[i, j] for c in controls]])
        values = values - design @ np.linalg.lstsq(design, values, rcond=None)[0]

    def gap(lab: np.ndarray) -> float:
        same = lab[i] == lab[j]
        return float(values[same].mean() - values[~same].mean()) if same.any() and (~same).any() else float("nan")

    observed = gap(labels)
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(bench == b) for b in np.unique(bench)]
    exceed = 0
    for _ in range(permutations):
        shuffled = labels.copy()
        for members in groups:  # shuffle within each benchmark: its own block structure stays
            shuffled[members] = labels[rng.permutation(members)]
        exceed += gap(shuffled) >= observed
    same = labels[i] == labels[j]
    return CrossGap(observed, (1 + exceed) / (1 + permutations), int(same.sum()), int((~same).sum()))
