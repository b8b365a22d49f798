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

The band is the data-split band, not the pretraining-seed band of claim 1: another benchmark's
space is cheap to repeat on other splits of its pairs at the same checkpoint, while another
pretraining seed needs another model. It measures the spread from which pairs train and test
the fine-tunes, not from the pretraining run; the chapter says so beside the verdict.
"""

from __future__ import annotations

import math

from .claims import ALPHA, Status
from .replicates import Difference, Estimate, difference_status


def structure_reappears(trained_r: Estimate, trained_p: Estimate, untrained_r: Estimate) -> Status:
    """Rule G1 (module docstring) on one benchmark and size: ``trained_r`` and ``trained_p`` over the
    data-split replicates (the preset's split first), ``untrained_r`` of the untrained network."""
    if not untrained_r.values or len(trained_r.values) < 2 or math.isnan(trained_r.band):
        return Status.UNTESTABLE
    if not all(r > 0 and p < ALPHA for r, p in zip(trained_r.values, trained_p.values, strict=True)):
        return Status.FAILS
    reading = difference_status(trained_r.mean - untrained_r.mean, trained_r.band)
    return {Difference.ABOVE: Status.HOLDS, Difference.BELOW: Status.FAILS,
            Difference.INSIDE: Status.INCONCLUSIVE}.get(reading, Status.UNTESTABLE)
