"""The paper's four claims, each held against our task spaces by a rule stated in advance.

Each function takes numbers from analysed task spaces and returns a :class:`Verdict`: the
claim, what the paper reports, its primary statistic with our value and band, the verdict, and
marks (a declared alternative statistic that reads differently, a borrowed band, a step that
could not be judged). Every number is read against the untrained network and against replicate
runs measured where the rule applies them (replicates.py). The verdict is one of four words:
"holds", "does not hold", "inconclusive" (the difference lies inside the band) and "not
testable" (a precondition fails: no band measured where it is needed, or a larger model that is
not the better language model). The rules were written before the runs they judge existed and
are never adjusted to make a verdict come out one way (see the claims chapter).

1. :func:`beats_untrained`: the task space resembles the hypothesis space, beyond the untrained
   network (marked where another similarity definition reads differently).
2. :func:`grows_with_size_beyond_band`: larger models show more within-phenomenon similarity,
   judged only on size steps where the larger model is the better language model.
3. :func:`settles_beyond_noise`: the space changes a lot early in training, then little, against
   the pretraining-seed noise at the checkpoints compared; :func:`settling_table` reads it for
   every choice of "early".
4. :func:`sharing_grows_beyond_band`: masks of paradigms of one phenomenon overlap more than masks
   of different phenomena, increasingly over training (the paper's "increased parameter
   sharing between related linguistic tasks"); :func:`region_grows_beyond_band`, the union of
   the masks, is its secondary reading.

:func:`resembles_hypothesis` is the Mantel half of claim 1 on one run (the precision benchmark
compares two precisions of one run with it). ``evidence.py`` loads a preset's spaces and
applies the rules.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from .replicates import Difference, Estimate, band_for, difference_status
from .report import Analysis
from .statistics import similarity_change


class Status(StrEnum):
    """A claim's verdict under its rule."""

    HOLDS = "holds"
    FAILS = "does not hold"
    INCONCLUSIVE = "inconclusive"  # the difference lies inside the replicate band
    UNTESTABLE = "not testable"  # a precondition fails (no band where it is needed, a confounded step)


HOLDS, FAILS, UNTESTABLE = Status.HOLDS, Status.FAILS, Status.UNTESTABLE
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
    statistic: str = ""  # the primary statistic, in a few words
    value: str = ""  # its value, with the band it is read against
    marks: tuple[str, ...] = ()  # declared alternatives that read differently, borrowed bands, steps not judged
    primary: bool = True  # False for a secondary reading of a claim (claim 4's union of masks)


def verdict_table(verdicts: list[Verdict]) -> pd.DataFrame:
    """One row per claim: the paper's evidence, our rule, our numbers, the verdict (as text) and
    its marks (joined by "; ")."""
    rows = [{**asdict(v), "verdict": v.verdict.value, "marks": "; ".join(v.marks)} for v in verdicts]
    return pd.DataFrame(rows).set_index("claim")


def _reads_differently(primary: Status, alternatives: dict[str, Status]) -> tuple[str, ...]:
    """A mark for each declared alternative whose verdict differs from the primary one."""
    return tuple(f"{name}: {status.value}" for name, status in alternatives.items() if status is not primary)


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


def _arrow(values: dict, fmt: str) -> str:
    return " → ".join(f"{fmt.format(v)} ({k})" for k, v in values.items())


# --------------------------------------------------------------------------- the rules against replicates
#
# Every number is read against the spread of replicate runs (replicates.py); a difference inside
# the band is "inconclusive".


def _band(band: float, fmt: str) -> str:
    """``band 0.012``, or ``no band (no replicates)`` where none was measured."""
    return "no band (no replicates)" if np.isnan(band) else f"band {fmt.format(band)}"


def beats_untrained(trained_r: Estimate, trained_p: Estimate, untrained_r: Estimate, band: float, label: str,
                    band_borrowed: bool = False,
                    alternatives: dict[str, tuple[Estimate, Estimate, float]] | None = None) -> Verdict:
    """Claim 1 against the null. Holds if the Mantel test is positive at p < ALPHA in every trained
    replicate and the trained r exceeds the untrained model's (same size, epoch 0) by more than
    ``band``; does not hold if a replicate is not significant or the untrained r is higher by more
    than the band; inconclusive inside the band; not testable without a trained and an untrained
    space, or without a band. ``alternatives``: for each declared other similarity definition, its
    (trained r, untrained r, band); each is read by the difference alone and marked where its
    verdict differs from the primary one."""
    claim = "1. The task space resembles the hypothesis space, beyond what an untrained network shows"
    paper = '"fairly similar" (no statistic given, no untrained baseline)'
    rule = (f"Mantel r > 0 with p < {ALPHA} in every trained replicate, and r(trained) − r(untrained) "
            "larger than the replicate band")
    statistic = "r(trained) − r(untrained) with the hypothesis space"
    if not trained_r.values or not untrained_r.values:
        return Verdict(claim, paper, rule, f"{label}: no trained or no untrained space", UNTESTABLE, 1, statistic)
    difference = trained_r.mean - untrained_r.mean
    ours = (f"{label}: r = {trained_r.describe()} trained, {untrained_r.describe()} untrained; "
            f"difference {difference:+.3f}, {_band(band, '{:.3f}')}; Mantel p ≤ {max(trained_p.values):.4f}")
    value = f"{difference:+.3f} ({_band(band, '{:.3f}')}{', borrowed' if band_borrowed else ''})"
    marks = ("band borrowed from another size",) if band_borrowed and not np.isnan(band) else ()
    significant = all(r > 0 for r in trained_r.values) and all(p < ALPHA for p in trained_p.values)
    verdict = _against_band(difference, band) if significant else FAILS
    readings = {}
    for name, (trained, untrained, alternative_band) in (alternatives or {}).items():
        d = trained.mean - untrained.mean
        readings[f"{name} {d:+.3f} ({_band(alternative_band, '{:.3f}')})"] = _against_band(d, alternative_band)
    return Verdict(claim, paper, rule, ours, verdict, 1, statistic, value, marks + _reads_differently(verdict, readings))


def _against_band(difference: float, band: float) -> Status:
    """A difference that should be positive, against its band: holds above it, does not hold below
    −band, inconclusive inside; not testable where no band was measured."""
    status = difference_status(difference, band)
    return {Difference.ABOVE: HOLDS, Difference.BELOW: FAILS, Difference.INSIDE: INCONCLUSIVE,
            Difference.UNKNOWN: UNTESTABLE}[status]


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


def _size_verdict(steps: list, better_lm: list[bool]) -> Status:
    """Claim 2 over the size steps that may be judged (``better_lm``): does not hold if one falls
    beyond its band, holds if every one rises beyond it, inconclusive otherwise; not testable if
    none may be judged or a judged step has no band."""
    judged = [status for (*_, status), ok in zip(steps, better_lm) if ok]
    if not judged or Difference.UNKNOWN in judged:
        return UNTESTABLE
    if Difference.BELOW in judged:
        return FAILS
    return HOLDS if all(s is Difference.ABOVE for s in judged) else INCONCLUSIVE


def grows_with_size_beyond_band(means: dict[str, Estimate], paper: pd.DataFrame, masks: str,
                                measured: list[Estimate] | None = None, better_lm: list[bool] | None = None,
                                alternatives: dict[str, tuple[dict[str, Estimate], list[Estimate] | None]] | None = None,
                                band_source: str = "") -> Verdict:
    """Claim 2 against replicates, for one mask rule (``masks``: how the spaces were computed).
    ``means``: per size (in size order) the primary statistic, the mean within-phenomenon
    similarity over phenomena, one value per replicate; ``measured``: where a size without
    replicates borrows its band (default: ``means``). ``better_lm``: per size step, whether the
    larger model is the better language model beyond the spread between pretraining seeds (the
    precondition; a step where it is not is "not testable" and is left out of the verdict).
    Judged steps: does not hold if one falls by more than its band, holds if every one rises by
    more than it, inconclusive otherwise. ``alternatives``: the declared other statistics, each as
    (per size in the same form, where a size without replicates borrows its band: None for
    themselves), read by the same rule and marked where they differ. ``band_source``: where
    the bands come from when not from these spaces' own replicates (marked)."""
    paper_means = {m: float(g["mean"].mean()) for m, g in paper.groupby("model", sort=False)}
    claim = f"2. Larger models show more within-phenomenon similarity ({masks})"
    rule = ("every size step where the larger model is the better language model (validation loss, beyond "
            "the pretraining-seed band) rises by more than the replicate band (the wider of its two sizes')")
    statistic = "mean within-phenomenon similarity over phenomena, per size step"
    paper_text = f"mean over phenomena {_arrow(paper_means, '{:+.3f}')}"
    if len(means) < 2:
        return Verdict(claim, paper_text, rule, "one size", UNTESTABLE, 2, statistic)
    steps = step_statuses(means, measured)
    better_lm = [True] * len(steps) if better_lm is None else list(better_lm)
    parts, marks = [], []
    for (a, b, d, band, status), ok in zip(steps, better_lm):
        reading = status.value if ok else "not testable: the larger model is not the better language model"
        parts.append(f"{a} → {b}: {d:+.3f} ({_band(band, '{:.3f}')}, {reading})")
        if not ok:
            marks.append(f"{a.split()[0]} → {b.split()[0]} not testable (the larger model is not the better language model)")
    ours = f"mean over phenomena {' → '.join(f'{e.describe()} ({s})' for s, e in means.items())}; {'; '.join(parts)}"
    value = "; ".join(f"{a.split()[0]} → {b.split()[0]} {d:+.3f} ({_band(band, '{:.3f}')})"
                      for (a, b, d, band, _), ok in zip(steps, better_lm) if ok) or "no step judged"
    verdict = _size_verdict(steps, better_lm)
    readings = {name: _size_verdict(step_statuses(estimates, borrowed), better_lm)
                for name, (estimates, borrowed) in (alternatives or {}).items()}
    if band_source:
        marks.append(f"band borrowed from {band_source}")
    return Verdict(claim, paper_text, rule, ours, verdict, 2, statistic, value,
                   tuple(marks) + _reads_differently(verdict, readings))


def early_checkpoint(epochs: list[float], share: float = EARLY_SHARE) -> float | None:
    """The first checkpoint after initialisation at or past ``share`` of training (the paper's
    epoch 1 of 20 is 5%); None if there is none before the final one."""
    epochs = sorted(epochs)
    # compared as shares with a tolerance: 0.0375 of 0.75 is 5%, but 0.0375 < 0.05 * 0.75 in floats
    later = [e for e in epochs[1:-1] if e / epochs[-1] >= share or math.isclose(e / epochs[-1], share)]
    return later[0] if later else None


def wider_at(noise: dict[float, float], *epochs: float) -> float:
    """The noise (or band) of a change between ``epochs``: the larger of the values measured at
    them (NaN if either was not measured; a bare ``max`` keeps a NaN only in first place)."""
    values = [noise.get(e, float("nan")) for e in epochs]
    return float("nan") if any(np.isnan(v) for v in values) else max(values)


def _settling(early: float, late: float, noise: float) -> Status:
    """Claim 3 for one choice of "early": not testable without noise, inconclusive if the early
    change is within it, holds if the late change is under half the early one or within the
    noise, does not hold otherwise."""
    if np.isnan(noise):
        return UNTESTABLE
    if early <= noise:
        return INCONCLUSIVE
    return HOLDS if late < 0.5 * early or late <= noise else FAILS


def settling_table(analyses: dict[float, Analysis], noise: dict[float, float]) -> pd.DataFrame:
    """Claim 3 for every choice of "early" (each checkpoint strictly between initialisation and
    the final one): the early change Δ(0 → e), the late one Δ(e → final), the noise each is read
    against (:func:`wider_at` of its two ends, from ``noise``: per epoch, the mean Δ between
    pretraining-seed replicates there), the verdict, and what it would read with the widest noise
    measured on this model borrowed where its own is missing. Indexed by the early epoch."""
    epochs = sorted(analyses)
    final, measured = epochs[-1], [v for v in noise.values() if not np.isnan(v)]
    widest = max(measured) if measured else float("nan")
    rows = []
    for e in epochs[1:-1]:
        early = similarity_change(analyses[0].similarity, analyses[e].similarity)
        late = similarity_change(analyses[e].similarity, analyses[final].similarity)
        own = max(wider_at(noise, 0.0, e), wider_at(noise, e, final))
        missing = [f"{x:g}" for x in (0.0, e, final) if np.isnan(noise.get(x, float("nan")))]
        rows.append({"early epoch": e, "early Δ": early, "late Δ": late, "noise": own,
                     "verdict": _settling(early, late, own).value,
                     "noise not measured at": ", ".join(missing),
                     "with the widest measured noise borrowed": _settling(early, late, widest).value})
    return pd.DataFrame(rows).set_index("early epoch")


def settles_beyond_noise(analyses: dict[float, Analysis], noise: dict[float, float]) -> Verdict:
    """Claim 3 against the measurement noise where it is applied. With Δ = 1 − r between two
    similarity matrices, early = Δ(initialisation → :func:`early_checkpoint`), late = Δ(that →
    final), each read against the pretraining-seed noise at its two ends (``noise``: per epoch,
    the mean Δ between seed replicates of that checkpoint): holds if the early change exceeds its
    noise and the late one is under half the early one or within its noise; does not hold if the
    late change is at least half the early one and above the noise; inconclusive if the early
    change is within its noise; not testable where a noise was not measured. Every other choice
    of "early" is read too (:func:`settling_table`) and marked where it differs."""
    epochs = sorted(analyses)
    early_epoch = early_checkpoint(epochs)
    claim = "3. The task space changes a lot early in training, and little afterwards"
    paper = "epoch 0 → 1 (of 20): large change; epoch 1 → 20: almost none (figures, no statistic given)"
    rule = (f"early = Δ(0 → first checkpoint at ≥ {EARLY_SHARE:.0%} of training), late = Δ(that → final); holds if "
            "early > noise and (late < ½ early or late ≤ noise), noise = Δ between pretraining-seed replicates at "
            "the checkpoints compared")
    statistic = "Δ = 1 − r: early change vs late change"
    if early_epoch is None or epochs[0] != 0:
        return Verdict(claim, paper, rule, f"checkpoints {', '.join(f'{e:g}' for e in epochs)}: none early "
                       "and before the final one", UNTESTABLE, 3, statistic)
    table = settling_table(analyses, noise)
    row = table.loc[early_epoch]
    noise_text = ("noise not measured at epoch " + row["noise not measured at"]
                  if row["noise not measured at"] else f"noise {row['noise']:.2f}")
    ours = (f"Δ(0 → {early_epoch:g}) = {row['early Δ']:.2f}, Δ({early_epoch:g} → {epochs[-1]:g}) = "
            f"{row['late Δ']:.2f}, {noise_text}")
    value = f"{row['early Δ']:.2f} then {row['late Δ']:.2f} ({noise_text})"
    verdict = Status(row["verdict"])
    marks = []
    measured = [v for v in noise.values() if not np.isnan(v)]
    if row["noise not measured at"] and measured:
        marks.append(f"with the widest noise measured on this model ({max(measured):.2f}) borrowed: "
                     f"{row['with the widest measured noise borrowed']}")
    others = {f"early = {e:g}": Status(v) for e, v in table["verdict"].items() if e != early_epoch}
    return Verdict(claim, paper, rule, ours, verdict, 3, statistic, value,
                   tuple(marks) + _reads_differently(verdict, others))


def sharing_grows_beyond_band(gap: dict[float, float], bands: dict[float, float], masks: str,
                              measured_elsewhere: list[float] | None = None) -> Verdict:
    """Claim 4 as the paper words it ("increased parameter sharing between related linguistic
    tasks"), for one mask rule: ``gap`` per checkpoint is the mean Jaccard overlap of the masks of
    two paradigms of the same phenomenon minus that of two of different phenomena; ``bands`` per
    checkpoint the gap's range over pretraining-seed replicates there. Holds if the gap at the
    final checkpoint exceeds the one at initialisation by more than the wider of their bands; does
    not hold if it is smaller by more than that; inconclusive inside it; not testable where a band
    was not measured (marked with what the widest band measured, here or in ``measured_elsewhere``,
    would read)."""
    epochs = sorted(gap)
    claim = f"4. Related tasks share more parameters over training ({masks})"
    paper = "increased parameter sharing between related linguistic tasks (figure, no statistic given)"
    rule = ("mask overlap within minus between phenomena: the final checkpoint's exceeds initialisation's by more "
            "than the pretraining-seed band at both")
    statistic = "mask overlap within − between phenomena, first vs last checkpoint"
    if len(epochs) < 2:
        return Verdict(claim, paper, rule, "one checkpoint", UNTESTABLE, 4, statistic)
    first, last = epochs[0], epochs[-1]
    change = gap[last] - gap[first]
    own = wider_at(bands, first, last)
    measured = [b for b in [*bands.values(), *(measured_elsewhere or [])] if not np.isnan(b)]
    missing = [f"{e:g}" for e in (first, last) if np.isnan(bands.get(e, np.nan))]
    ours = (f"within − between by epoch: {', '.join(f'{e:g}: {gap[e]:+.3f}' for e in epochs)}; change {change:+.3f}, "
            + ("band not measured at epoch " + ", ".join(missing) if missing else _band(own, "{:.3f}")))
    verdict = _against_band(change, own)
    marks = ()
    if np.isnan(own) and measured:
        marks = (f"with the widest band measured ({max(measured):.3f}) borrowed: "
                 f"{_against_band(change, max(measured)).value}",)
    value = f"{change:+.3f} ({'band not measured at epoch ' + ', '.join(missing) if missing else _band(own, '{:.3f}')})"
    return Verdict(claim, paper, rule, ours, verdict, 4, statistic, value, marks)


def region_grows_beyond_band(union_share: dict[float, float], band: float, masks: str,
                             band_source: str = "") -> Verdict:
    """Claim 4's secondary reading, for one mask rule: the union of the masks over checkpoints, and
    ``band`` its range over pretraining-seed replicates. Holds if it ends larger than it starts by
    more than the band; does not hold if it ends smaller by more than the band; inconclusive
    otherwise; not testable without a band. A step that shrinks by more than the band is marked.
    ``band_source``: where the band was measured, when not at these checkpoints under this rule."""
    epochs = sorted(union_share)
    values = [union_share[e] for e in epochs]
    claim = f"4. The region of parameters used (the union of the FTGD masks) grows during training ({masks})"
    paper = "grows gradually (figure, no statistic given)"
    rule = "the union ends larger than it starts by more than the replicate band"
    statistic = "share of parameters in at least one mask, first vs last checkpoint"
    if len(values) < 2:
        return Verdict(claim, paper, rule, "one checkpoint", UNTESTABLE, 4, statistic, primary=False)
    ours = (f"union by epoch: {', '.join(f'{e:g}: {v:.1%}' for e, v in zip(epochs, values))}; "
            f"{_band(band, '{:.1%}')}")
    marks = [f"shrinks {a:g} → {b:g} beyond the band" for a, b, x, y in zip(epochs, epochs[1:], values, values[1:])
             if difference_status(y - x, band) is Difference.BELOW]
    if band_source:
        marks.insert(0, f"band borrowed from {band_source}")
    value = f"{values[-1] - values[0]:+.1%} ({_band(band, '{:.1%}')})"
    return Verdict(claim, paper, rule, ours, _against_band(values[-1] - values[0], band), 4, statistic, value,
                   tuple(marks), primary=False)
