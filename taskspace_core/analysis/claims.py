"""The paper's four claims, each held against our task spaces by a rule stated in advance.

Each function takes numbers from analysed task spaces and returns a :class:`Verdict`: the
claim, what the paper reports, our numbers, and whether the claim holds here under the rule.
Every number is read against the untrained network and against replicate runs (replicates.py):
a difference inside the replicate band is ``"inconclusive"``, and a claim the preset cannot test
is ``"not testable"``, never a silent pass. The rules were written before the runs they judge
existed and are never adjusted to make a verdict come out one way (see the claims chapter).

1. :func:`beats_untrained`: the task space resembles the hypothesis space, beyond the untrained network.
2. :func:`grows_with_size_beyond_band`: larger models show more within-phenomenon similarity.
3. :func:`settles_beyond_noise`: the space changes a lot early in training, then little.
4. :func:`region_grows_beyond_band`: the region of parameters used (the union of the masks) grows.

:func:`resembles_hypothesis` is the Mantel half of claim 1 on one run (the precision benchmark
compares two precisions of one run with it). ``evidence.py`` loads a preset's spaces and
applies the rules.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from .hypothesis import HIGH_WITHIN
from .replicates import Difference, Estimate, band_for, difference_status
from .report import Analysis
from .similarity import offdiag_pearson


class Status(StrEnum):
    """A claim's verdict under its rule."""

    HOLDS = "holds"
    PARTLY = "partly"
    FAILS = "does not hold"
    INCONCLUSIVE = "inconclusive"  # the difference lies inside the replicate band (or none was measured)
    UNTESTABLE = "not testable"


HOLDS, PARTLY, FAILS, UNTESTABLE = Status.HOLDS, Status.PARTLY, Status.FAILS, Status.UNTESTABLE
INCONCLUSIVE = Status.INCONCLUSIVE
ALPHA = 0.05
EARLY_SHARE = 0.05  # claim 3's "early": the paper's epoch 1 of 20, the first 5% of training


@dataclass(frozen=True)
class Verdict:
    claim: str  # the paper's claim, in one line
    paper: str  # what the paper reports for it
    rule: str  # the test we apply
    ours: str  # our numbers, in one line
    verdict: Status
    number: int  # which of the paper's claims (1 to 4)


def verdict_table(verdicts: list[Verdict]) -> pd.DataFrame:
    """One row per claim: the paper's evidence, our rule, our numbers and the verdict (as text)."""
    rows = [{**asdict(v), "verdict": v.verdict.value} for v in verdicts]
    return pd.DataFrame(rows).set_index("claim")


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


def resembles_hypothesis(analysis: Analysis, label: str) -> Verdict:
    """Claim 1. Holds if the Mantel test of task space vs hypothesis space is positive at p < 0.05."""
    h = analysis.headline
    r, p = h.hypothesis_pearson, h.mantel_p
    verdict = HOLDS if r > 0 and p < ALPHA else FAILS
    return Verdict(
        claim="1. The task space resembles the hypothesis space",
        paper='"fairly similar" (no statistic given)',
        rule=f"Mantel test of the similarity matrix against the hypothesis space: r > 0 with p < {ALPHA}",
        ours=(f"{label}: r = {r:+.3f}, Mantel p = {p:.4f}; controlling for lexical overlap, partial "
              f"r = {h.partial_mantel_r:+.3f} (p = {h.partial_mantel_p:.4f})"),
        verdict=verdict,
        number=1,
    )


def mean_over_phenomena(within: pd.DataFrame) -> float:
    """The average of the per-phenomenon mean similarities (the paper's table, averaged over its columns)."""
    return float(within["mean"].mean())


def n_high(within: pd.DataFrame, high: float = HIGH_WITHIN) -> int:
    """How many phenomena have a mean within-phenomenon similarity of at least ``high``."""
    return int((within["mean"] >= high).sum())


def _arrow(values: dict, fmt: str) -> str:
    return " → ".join(f"{fmt.format(v)} ({k})" for k, v in values.items())


def similarity_change(a: np.ndarray, b: np.ndarray) -> float:
    """1 − Pearson r of the off-diagonal entries of two similarity matrices (0: unchanged)."""
    return 1 - offdiag_pearson(a, b)


def replicate_change(analyses: list[Analysis]) -> float:
    """The mean Δ = 1 − r between the similarity matrices of replicate spaces of one checkpoint
    (e.g. data-split seeds), over every pair of them: claim 3's noise. NaN with fewer than two."""
    changes = [similarity_change(a.similarity, b.similarity) for a, b in itertools.combinations(analyses, 2)]
    return float(np.mean(changes)) if changes else float("nan")


# --------------------------------------------------------------------------- the rules against replicates
#
# Every number is read against the spread of replicate runs (replicates.py); a difference inside
# the band is "inconclusive".


def _band(band: float, fmt: str) -> str:
    """``band 0.012``, or ``no band (no replicates)`` where none was measured."""
    return "no band (no replicates)" if np.isnan(band) else f"band {fmt.format(band)}"


def beats_untrained(trained_r: Estimate, trained_p: Estimate, untrained_r: Estimate, band: float,
                    label: str) -> Verdict:
    """Claim 1 against the null. Holds if the Mantel test is positive at p < ALPHA in every trained
    replicate and the trained r exceeds the untrained model's (same size, epoch 0) by more than
    ``band``; does not hold if a replicate is not significant or the untrained r is higher by more
    than the band; inconclusive in between (or with no band)."""
    claim = "1. The task space resembles the hypothesis space, beyond what an untrained network shows"
    paper = '"fairly similar" (no statistic given, no untrained baseline)'
    rule = (f"Mantel r > 0 with p < {ALPHA} in every trained replicate, and r(trained) − r(untrained) "
            "larger than the replicate band")
    if not trained_r.values or not untrained_r.values:
        return Verdict(claim, paper, rule, f"{label}: no trained or no untrained space", UNTESTABLE, 1)
    difference = trained_r.mean - untrained_r.mean
    ours = (f"{label}: r = {trained_r.describe()} trained, {untrained_r.describe()} untrained; "
            f"difference {difference:+.3f}, {_band(band, '{:.3f}')}; Mantel p ≤ {max(trained_p.values):.4f}")
    significant = all(r > 0 for r in trained_r.values) and all(p < ALPHA for p in trained_p.values)
    status = difference_status(difference, band)
    if not significant or status is Difference.BELOW:
        return Verdict(claim, paper, rule, ours, FAILS, 1)
    return Verdict(claim, paper, rule, ours, HOLDS if status is Difference.ABOVE else INCONCLUSIVE, 1)


def step_statuses(estimates: dict[str, Estimate], measured: list[Estimate] | None = None,
                  ) -> list[tuple[str, str, float, float, Difference]]:
    """Each step between neighbouring entries of ``estimates`` (in order): ``(a, b, b − a, band,
    status)``, with the band the wider of the two (:func:`~.replicates.band_for`, borrowing from
    ``measured``, by default ``estimates`` themselves, for a run without replicates)."""
    measured = list(estimates.values()) if measured is None else measured
    names = list(estimates)
    steps = []
    for a, b in zip(names, names[1:]):
        bands = [band for band in (band_for(estimates[a], measured), band_for(estimates[b], measured))
                 if not np.isnan(band)]
        band = max(bands) if bands else float("nan")
        difference = estimates[b].mean - estimates[a].mean
        steps.append((a, b, difference, band, difference_status(difference, band)))
    return steps


def grows_with_size_beyond_band(means: dict[str, Estimate], paper: pd.DataFrame, masks: str,
                                measured: list[Estimate] | None = None) -> Verdict:
    """Claim 2 against replicates, for one mask rule (``masks``: how the spaces were computed).
    ``means``: per size (in size order) the mean within-phenomenon similarity over phenomena, one
    value per replicate; ``measured``: where a size without replicates borrows its band (default:
    ``means``). Holds if every size step rises by more than its band; does not hold if some step
    falls by more than its band; inconclusive otherwise."""
    paper_means = {m: float(g["mean"].mean()) for m, g in paper.groupby("model", sort=False)}
    claim = f"2. Larger models show more within-phenomenon similarity ({masks})"
    rule = "every size step rises by more than the replicate band (the wider of its two sizes')"
    if len(means) < 2:
        return Verdict(claim, _arrow(paper_means, "{:+.3f}"), rule, "one size", UNTESTABLE, 2)
    steps = step_statuses(means, measured)
    ours = "; ".join(f"{a} → {b}: {d:+.3f} ({_band(band, '{:.3f}')}"
                     + ("" if status is Difference.UNKNOWN else f", {status.value}") + ")"
                     for a, b, d, band, status in steps)
    ours = f"mean over phenomena {' → '.join(f'{e.describe()} ({s})' for s, e in means.items())}; {ours}"
    statuses = [status for *_, status in steps]
    if Difference.BELOW in statuses:
        verdict = FAILS
    else:
        verdict = HOLDS if all(s is Difference.ABOVE for s in statuses) else INCONCLUSIVE
    return Verdict(claim, f"mean over phenomena {_arrow(paper_means, '{:+.3f}')}", rule, ours, verdict, 2)


def early_checkpoint(epochs: list[float], share: float = EARLY_SHARE) -> float | None:
    """The first checkpoint after initialisation at or past ``share`` of training (the paper's
    epoch 1 of 20 is 5%); None if there is none before the final one."""
    epochs = sorted(epochs)
    later = [e for e in epochs[1:-1] if e >= share * epochs[-1]]
    return later[0] if later else None


def settles_beyond_noise(analyses: dict[float, Analysis], noise: float) -> Verdict:
    """Claim 3 against the measurement noise. With Δ = 1 − r between two similarity matrices,
    early = Δ(initialisation → :func:`early_checkpoint`), late = Δ(that → final), and ``noise``
    the Δ between replicate spaces of one checkpoint (data-split seeds): holds if the early change
    exceeds the noise and the late one is under half the early one or within the noise; does not
    hold if the late change is at least half the early one and above the noise; inconclusive if
    the early change is within the noise or no noise was measured."""
    epochs = sorted(analyses)
    early_epoch = early_checkpoint(epochs)
    claim = "3. The task space changes a lot early in training, and little afterwards"
    paper = "epoch 0 → 1 (of 20): large change; epoch 1 → 20: almost none (figures, no statistic given)"
    rule = (f"early = Δ(0 → first checkpoint at ≥ {EARLY_SHARE:.0%} of training), late = Δ(that → final); "
            "holds if early > noise and (late < ½ early or late ≤ noise), noise = Δ between split-seed replicates")
    if early_epoch is None or epochs[0] != 0:
        return Verdict(claim, paper, rule, f"checkpoints {', '.join(f'{e:g}' for e in epochs)}: none early "
                       "and before the final one", UNTESTABLE, 3)
    early = similarity_change(analyses[0].similarity, analyses[early_epoch].similarity)
    late = similarity_change(analyses[early_epoch].similarity, analyses[epochs[-1]].similarity)
    ours = (f"Δ(0 → {early_epoch:g}) = {early:.2f}, Δ({early_epoch:g} → {epochs[-1]:g}) = {late:.2f}, "
            + ("no noise measured (no split replicates)" if np.isnan(noise) else f"noise {noise:.2f}"))
    if np.isnan(noise) or early <= noise:
        return Verdict(claim, paper, rule, ours, INCONCLUSIVE, 3)
    return Verdict(claim, paper, rule, ours, HOLDS if late < 0.5 * early or late <= noise else FAILS, 3)


def region_grows_beyond_band(union_share: dict[float, float], band: float, masks: str) -> Verdict:
    """Claim 4 against replicates, for one mask rule: the union of the masks over checkpoints, and
    ``band`` its range over pretraining-seed replicates at one checkpoint. Holds if it ends larger
    than it starts by more than the band and never shrinks by more than the band a step; partly if
    it ends larger but shrinks somewhere; does not hold if it ends smaller by more than the band;
    inconclusive otherwise."""
    epochs = sorted(union_share)
    values = [union_share[e] for e in epochs]
    claim = f"4. The region of parameters used (the union of the FTGD masks) grows during training ({masks})"
    paper = "grows gradually (figure, no statistic given)"
    rule = "the union ends larger than it starts by more than the replicate band, never shrinking by more a step"
    if len(values) < 2:
        return Verdict(claim, paper, rule, "one checkpoint", UNTESTABLE, 4)
    ours = (f"union by epoch: {', '.join(f'{e:g}: {v:.1%}' for e, v in zip(epochs, values))}; "
            f"{_band(band, '{:.1%}')}")
    overall = difference_status(values[-1] - values[0], band)
    shrinks = any(difference_status(b - a, band) is Difference.BELOW for a, b in zip(values, values[1:]))
    if overall is Difference.ABOVE:
        return Verdict(claim, paper, rule, ours, PARTLY if shrinks else HOLDS, 4)
    return Verdict(claim, paper, rule, ours, FAILS if overall is Difference.BELOW else INCONCLUSIVE, 4)
