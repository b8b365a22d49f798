"""Replicates: one number measured on several runs that differ only by chance, and its band.

A task space depends on chances that have nothing to do with the question asked of it: the
pretraining seed (initial weights, batch order), the data split (which BLiMP pairs train the
fine-tunes, and so which parameters the masks keep), the FTGD batch order. Replicates repeat a
run with only one of those changed. Their spread is the yardstick of every comparison the book
makes: a difference smaller than it could come from a different seed, so it is *inconclusive*,
never evidence for or against a claim.

    Estimate           one quantity over replicate runs: the values, their mean and their band
    band_for           the band of one estimate, or the widest band measured where it has none
    difference_status  a difference against a band: above it, below it, or inside it

The band is the range (max − min) over the replicates: with three runs it is wider than one
standard deviation and makes no assumption about the distribution. It is a yardstick, not a
confidence interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np


@dataclass(frozen=True)
class Estimate:
    """One quantity measured on replicate runs (one value per run, in run order)."""

    values: tuple[float, ...]

    @property
    def mean(self) -> float:
        return float(np.mean(self.values)) if self.values else float("nan")

    @property
    def band(self) -> float:
        """max − min over the runs; NaN with fewer than two (no spread measured)."""
        return float(max(self.values) - min(self.values)) if len(self.values) > 1 else float("nan")

    def describe(self, fmt: str = "{:+.3f}") -> str:
        """``+0.181`` for one run, ``+0.181 (range +0.170 … +0.195, 3 runs)`` for several."""
        if len(self.values) < 2:
            return fmt.format(self.mean)
        return (f"{fmt.format(self.mean)} (range {fmt.format(min(self.values))} … "
                f"{fmt.format(max(self.values))}, {len(self.values)} runs)")


def band_for(estimate: Estimate, measured: list[Estimate]) -> float:
    """The band of ``estimate``; for a quantity measured on one run only, the widest band among
    ``measured`` (the same quantity on other sizes or checkpoints that do have replicates): the
    stated assumption that a run without replicates varies at least as much as those that have
    them. NaN if no band was measured anywhere."""
    if not math.isnan(estimate.band):
        return estimate.band
    bands = [e.band for e in measured if not math.isnan(e.band)]
    return max(bands) if bands else float("nan")


class Difference(StrEnum):
    """Where a difference lies against the replicate band."""

    ABOVE = "above the band"  # larger than +band: a real increase
    BELOW = "below the band"  # smaller than −band: a real decrease
    INSIDE = "inside the band"  # could be a different seed
    UNKNOWN = "no band"  # no replicates were measured


def difference_status(difference: float, band: float) -> Difference:
    """``difference`` (b − a) against ``band``: ABOVE, BELOW, INSIDE, or UNKNOWN when the band is NaN."""
    if math.isnan(band) or math.isnan(difference):
        return Difference.UNKNOWN
    if difference > band:
        return Difference.ABOVE
    return Difference.BELOW if difference < -band else Difference.INSIDE
