"""The paper's four claims, each held against our task spaces by a rule stated in advance.

Each function takes analysed task spaces and returns a :class:`Verdict`: the claim, what the
paper reports, our numbers, and whether the claim holds here under the rule. The rules were
written before the reference results existed and are never adjusted to make a verdict come
out one way (see the claims chapter). A claim the preset cannot test (e.g. no checkpoint at
epoch 1) is ``"not testable"``, never a silent pass.

1. :func:`resembles_hypothesis`: the task space resembles the hypothesis space.
2. :func:`grows_with_size`: larger models show more within-phenomenon similarity.
3. :func:`changes_early_then_settles`: the space changes a lot from epoch 0 to 1, then little.
4. :func:`region_grows`: the region of parameters used (the union of the masks) grows.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from .checkpoints import checkpoint_epochs
from .config import Config
from .hypothesis import HIGH_WITHIN
from .models import spec_parameters
from .paper import paper_within_table
from .report import Analysis
from .results import analysed_space
from .similarity import offdiag_pearson
from .task_space import TaskSpace



class Status(StrEnum):
    """A claim's verdict under its rule."""

    HOLDS = "holds"
    PARTLY = "partly"
    FAILS = "does not hold"
    UNTESTABLE = "not testable"


HOLDS, PARTLY, FAILS, UNTESTABLE = Status.HOLDS, Status.PARTLY, Status.FAILS, Status.UNTESTABLE
ALPHA = 0.05
UNION_TOLERANCE = 0.01  # a change in the masks' union (a share of all parameters) smaller than this is no change


@dataclass(frozen=True)
class Verdict:
    claim: str  # the paper's claim, in one line
    paper: str  # what the paper reports for it
    rule: str  # the test we apply
    ours: str  # our numbers, in one line
    verdict: Status


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


def largest_size_step(final: dict[str, Analysis]) -> float:
    """The largest change of the mean within-phenomenon similarity between neighbouring sizes
    (``final`` in size order; nan with one size)."""
    means = [mean_over_phenomena(an.within) for an in final.values()]
    return max((abs(b - a) for a, b in zip(means, means[1:])), default=float("nan"))


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
    )


def mean_over_phenomena(within: pd.DataFrame) -> float:
    """The average of the per-phenomenon mean similarities (the paper's table, averaged over its columns)."""
    return float(within["mean"].mean())


def n_high(within: pd.DataFrame, high: float = HIGH_WITHIN) -> int:
    """How many phenomena have a mean within-phenomenon similarity of at least ``high``."""
    return int((within["mean"] >= high).sum())


def grows_with_size(analyses: dict[str, Analysis], paper: pd.DataFrame) -> Verdict:
    """Claim 2. Two signs, as in the paper: the mean within-phenomenon similarity (averaged over
    phenomena) rises with every size step, and more phenomena reach ``HIGH_WITHIN`` in the largest
    model than in the smallest (never fewer at a step). Both: holds; one: partly; none: fails."""
    means = {s: mean_over_phenomena(a.within) for s, a in analyses.items()}
    highs = {s: n_high(a.within) for s, a in analyses.items()}
    paper_means = {m: float(g["mean"].mean()) for m, g in paper.groupby("model", sort=False)}
    paper_highs = {m: int((g["mean"] >= HIGH_WITHIN).sum()) for m, g in paper.groupby("model", sort=False)}
    if len(analyses) < 2:
        verdict = UNTESTABLE
    else:
        mean_values, high_values = list(means.values()), list(highs.values())
        rises = all(b > a for a, b in zip(mean_values, mean_values[1:]))
        more_high = high_values[-1] > high_values[0] and all(b >= a for a, b in zip(high_values, high_values[1:]))
        verdict = HOLDS if rises and more_high else (PARTLY if rises or more_high else FAILS)
    return Verdict(
        claim="2. Larger models show more within-phenomenon similarity",
        paper=(f"mean over phenomena {_arrow(paper_means, '{:+.3f}')}; phenomena at ≥ {HIGH_WITHIN}: "
               f"{_arrow(paper_highs, '{}')}"),
        rule=(f"the mean over phenomena rises with every size step, and more phenomena reach ≥ {HIGH_WITHIN} "
              "in the largest model than in the smallest (never fewer at a step); both: holds, one: partly"),
        ours=f"mean over phenomena {_arrow(means, '{:+.3f}')}; phenomena at ≥ {HIGH_WITHIN}: {_arrow(highs, '{}')}",
        verdict=verdict,
    )


def _arrow(values: dict, fmt: str) -> str:
    return " → ".join(f"{fmt.format(v)} ({k})" for k, v in values.items())


def similarity_change(a: np.ndarray, b: np.ndarray) -> float:
    """1 − Pearson r of the off-diagonal entries of two similarity matrices (0: unchanged)."""
    return 1 - offdiag_pearson(a, b)


def changes_early_then_settles(analyses: dict[float, Analysis]) -> Verdict:
    """Claim 3. With Δ = 1 − r between two checkpoints' similarity matrices: holds if the change
    after epoch 1 (epoch 1 → final) is less than half the change in epoch 1 (epoch 0 → epoch 1)."""
    epochs = sorted(analyses)
    testable = 0 in epochs and 1 in epochs and epochs[-1] > 1
    claim = "3. The task space changes a lot from epoch 0 to 1, and little afterwards"
    paper = "epoch 0 → 1: large change; epoch 1 → 20: almost none (figures, no statistic given)"
    rule = "Δ = 1 − r of the similarity matrices; holds if Δ(epoch 1 → final) < ½ Δ(epoch 0 → 1)"
    if not testable:
        return Verdict(claim, paper, rule, f"checkpoints {', '.join(f'{e:g}' for e in epochs)}: no epoch-1 "
                       "checkpoint before the final one", UNTESTABLE)
    early = similarity_change(analyses[0].similarity, analyses[1].similarity)
    late = similarity_change(analyses[1].similarity, analyses[epochs[-1]].similarity)
    steps = ", ".join(f"{a:g}→{b:g}: {similarity_change(analyses[a].similarity, analyses[b].similarity):.2f}"
                      for a, b in zip(epochs, epochs[1:]))
    verdict = HOLDS if late < 0.5 * early else FAILS
    return Verdict(claim, paper, rule, f"Δ(0 → 1) = {early:.2f}, Δ(1 → {epochs[-1]:g}) = {late:.2f} "
                   f"(each step: {steps})", verdict)


def union_direction(union_share: dict[float, float], tolerance: float = UNION_TOLERANCE) -> str:
    """``"grows"``, ``"shrinks"`` or ``"stays about the same"``: the union of the masks at the last
    checkpoint against the first, with the tolerance :func:`region_grows` uses."""
    epochs = sorted(union_share)
    change = union_share[epochs[-1]] - union_share[epochs[0]]
    return "grows" if change > tolerance else ("shrinks" if change < -tolerance else "stays about the same")


def region_grows(union_share: dict[float, float], tolerance: float = UNION_TOLERANCE) -> Verdict:
    """Claim 4. The union of all paradigms' masks over checkpoints: holds if it never shrinks by more
    than ``tolerance`` (a share of all parameters) from one checkpoint to the next and ends larger
    than it starts; partly if it ends larger but shrinks somewhere; otherwise fails."""
    epochs = sorted(union_share)
    values = [union_share[e] for e in epochs]
    claim = "4. The region of parameters used (the union of the FTGD masks) grows during training"
    paper = "grows gradually (figure, no statistic given)"
    rule = f"holds if the union ends larger than it starts and never shrinks by more than {tolerance:.0%} a step"
    if len(values) < 2:
        return Verdict(claim, paper, rule, "one checkpoint", UNTESTABLE)
    ours = ", ".join(f"{e:g}: {v:.1%}" for e, v in zip(epochs, values))
    grows = values[-1] > values[0]
    steady = all(b >= a - tolerance for a, b in zip(values, values[1:]))
    verdict = HOLDS if grows and steady else (PARTLY if grows else FAILS)
    return Verdict(claim, paper, rule, f"union of masks by epoch: {ours}", verdict)


# --------------------------------------------------------------------------- all four, on a preset's spaces


@dataclass
class ClaimsEvidence:
    """The four claims' verdicts and the task spaces behind them (the claims chapter and the slides)."""

    verdicts: list  # of Verdict, in the paper's order
    parameters_m: dict[str, float]  # size -> millions of parameters
    final: dict[str, tuple[TaskSpace, Analysis]]  # every size at its final checkpoint
    over_training: dict[float, tuple[TaskSpace, Analysis]]  # the dynamics size at every checkpoint


def paper_claims(config: Config) -> ClaimsEvidence:
    """Hold the paper's four claims against ``config``'s task spaces, by the rules above."""
    rq1_size, dynamics_size = config.chapter_size("rq1"), config.chapter_size("dynamics")
    params = {s: spec_parameters(config.size(s), config.tokenizer.vocab_size) / 1e6 for s in config.sizes}
    final = {s: analysed_space(config, s) for s in config.sizes}
    over_training = {e: analysed_space(config, dynamics_size, e) for e in checkpoint_epochs(config)}
    verdicts = [
        resembles_hypothesis(final[rq1_size][1], f"{rq1_size} ({params[rq1_size]:.2f}M)"),
        grows_with_size({f"{s} {params[s]:.2f}M": an for s, (_, an) in final.items()}, paper_within_table()),
        changes_early_then_settles({e: an for e, (_, an) in over_training.items()}),
        region_grows({e: sp.mask_union_share for e, (sp, _) in over_training.items()}),
    ]
    return ClaimsEvidence(verdicts, params, final, over_training)
