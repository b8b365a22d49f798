"""The critique's generality section: other benchmarks' task spaces, read by rules G1, G2 and G3.

    benchmark_verdicts  one row per benchmark set and size: the rule's statistic (G1: r with the
                        hypothesis space; G2: the cross gap; G3: the BLiMP → CLAMS transfer gap)
                        over data splits, the untrained
                        network's, the difference, the band, the control and the verdict
    benchmark_accuracy  eval1 on that benchmark: per paradigm, accuracy trained and untrained
    benchmark_within    per phenomenon: within-phenomenon similarity on the other benchmark (trained,
                        untrained) beside BLiMP's at the same size
    generality_text     the verdicts in words, one paragraph
"""

from __future__ import annotations

import pandas as pd

from ..analysis.generality import cross_gap, structure_reappears
from ..analysis.replicates import Estimate
from ..corpora.benchmarks import TITLES
from ..plan.requests import Plan, Role, SpaceRequest, benchmark_entry
from .evidence import SpaceSource


def _title(entry: str) -> str:
    """``zorro`` -> ``Zorro``, ``blimp+zorro`` -> ``BLiMP + Zorro``, ``blimp>clams`` -> ``BLiMP → CLAMS English``."""
    joint = " → " if ">" in entry else " + "
    return joint.join(TITLES.get(name, name) for name in entry.replace(">", "+").split("+"))


def _rule(entry: str) -> str:
    return "G3" if ">" in entry else "G2" if "+" in entry else "G1"


def _requests(plan: Plan, entry: str, size: str) -> tuple[list[SpaceRequest], SpaceRequest | None]:
    """The trained requests of one benchmark set and size (the preset's split first, then the other
    splits) and its untrained request."""
    chosen = benchmark_entry(plan.config, entry)

    def mine(requests: list[SpaceRequest]) -> list[SpaceRequest]:
        return [r for r in requests if (r.benchmarks, r.phenomena, r.paradigms) == chosen]

    trained = mine(plan.find(Role.BENCHMARK, size, "final")) + mine(plan.find(Role.BENCHMARK_SPLIT, size))
    untrained = mine(plan.find(Role.BENCHMARK, size, 0.0))
    return trained, (untrained[0] if untrained else None)


def benchmark_verdicts(plan: Plan, spaces: SpaceSource) -> pd.DataFrame:
    """Rule G1 on every benchmark set (``book.benchmark_spaces``) and size (``book.benchmark_sizes``)
    of the plan. Empty when the plan computes no other benchmark."""
    rows = []
    for entry in plan.config.book.benchmark_spaces:
        for size in plan.config.book.benchmark_sizes:
            trained, untrained = _requests(plan, entry, size)
            runs = [spaces(r) for r in trained]
            statistic = _statistic(plan, entry)
            measured = [statistic(space, analysis) for space, analysis in runs]
            value, p = Estimate(tuple(v for v, _, _ in measured)), Estimate(tuple(q for _, q, _ in measured))
            null = Estimate((statistic(*spaces(untrained))[0],) if untrained else ())
            rows.append({"benchmark": _title(entry), "size": size, "paradigms": len(runs[0][0].paradigms) if runs else 0,
                         "rule": _rule(entry),
                         "trained": value.mean, "splits": len(value.values), "untrained": null.mean,
                         "difference": value.mean - null.mean, "band": value.band, "p (largest)": max(p.values),
                         "control": measured[0][2], "verdict": structure_reappears(value, p, null).value})
    return pd.DataFrame(rows)


def _statistic(plan: Plan, entry: str):
    """``(space, analysis) -> (statistic, p, control)``: G1's r with the hypothesis space (its Mantel
    p; control: the partial r for lexical and critical-word overlap) for one benchmark, G2's cross
    gap (its permutation p; control: the gap after both overlaps) for a cross-benchmark space, G3's
    transfer gap (the same, on the directed block of the transfer matrix in the space's metric)."""
    s, taxonomy = plan.config.space, plan.config.data.taxonomy
    if _rule(entry) == "G1":
        return lambda space, an: (an.headline.hypothesis_pearson, an.headline.mantel_p, an.headline.partial_mantel_both_r)
    direction = tuple(entry.split(">")) if _rule(entry) == "G3" else None

    def gap(space, an):
        matrix = space.transfer[s.metric] if direction else an.similarity
        found = cross_gap(matrix, space.paradigms, taxonomy, s.permutations, s.seed, direction=direction)
        controlled = cross_gap(matrix, space.paradigms, taxonomy, 0, s.seed, controls=[an.lexical, an.critical],
                               direction=direction)
        return found.gap, found.p, controlled.gap
    return gap


def benchmark_within(plan: Plan, spaces: SpaceSource, entry: str, size: str) -> pd.DataFrame:
    """Per phenomenon: mean within-phenomenon similarity on ``entry``'s space (trained at the
    preset's split, and untrained) beside BLiMP's trained space of ``size``; a phenomenon with one
    paradigm on a benchmark has no pair, so no value there."""
    trained, untrained = _requests(plan, entry, size)
    columns = {f"{_title(entry)} trained": spaces(trained[0])[1].within["mean"]}
    if untrained is not None:
        columns[f"{_title(entry)} untrained"] = spaces(untrained)[1].within["mean"]
    columns["BLiMP trained"] = spaces(SpaceRequest(Role.FINAL, size))[1].within["mean"]
    return pd.DataFrame(columns).dropna(how="all")


def benchmark_accuracy(plan: Plan, spaces: SpaceSource, entry: str, size: str) -> pd.DataFrame:
    """Eval1 on another benchmark: per paradigm, the accuracy (good sentence more probable, over its
    test pairs) of ``size``'s final and untrained checkpoints, with the paradigm's phenomenon; the
    last row is the mean over paradigms. From the spaces' eval1, so nothing is scored again."""
    trained, untrained = _requests(plan, entry, size)
    space = spaces(trained[0])[0]
    table = pd.DataFrame({"phenomenon": space.phenomena, "trained": space.eval1.accuracy.to_numpy()},
                         index=pd.Index(space.paradigms, name="paradigm"))
    if untrained is not None:
        table["untrained"] = spaces(untrained)[0].eval1.accuracy.to_numpy()
    table = table.sort_values(["phenomenon", "trained"])
    table.loc["mean over paradigms"] = ["", *table.drop(columns="phenomenon").mean()]
    return table


MEANING = {
    "holds": "the phenomenon structure reappears on a benchmark built by other people with other words and frames, "
             "beyond what an untrained network shows",
    "does not hold": "the phenomenon structure does not carry over: on this benchmark the trained model's task space "
                     "is no closer to its hypothesis space than the untrained network's, or not significantly close",
    "inconclusive": "the trained model's lead over the untrained network lies inside the spread between data splits",
    "not testable": "an untrained space or a second data split is missing, so there is nothing to read it against",
}


CROSS_MEANING = {
    "holds": "fine-tuning on a paradigm moves the same phenomenon's paradigms of the other benchmark more than "
             "other phenomena's, beyond what an untrained network shows, so the shared structure is not one "
             "benchmark's templates",
    "does not hold": "across benchmarks, same-phenomenon paradigms are not moved more than others beyond the "
                     "untrained network, so the structure seen within a benchmark may be its own templates",
    "inconclusive": "the trained gap's lead over the untrained network lies inside the spread between data splits",
    "not testable": "an untrained space or a second data split is missing, so there is nothing to read it against",
}


TEMPLATE_MEANING = {
    "holds": "fine-tuning on a BLiMP paradigm moves CLAMS's constructions of the same phenomenon, which BLiMP "
             "does not contain, more than CLAMS's other phenomena, beyond what an untrained network shows",
    "does not hold": "BLiMP's paradigms do not move CLAMS's constructions of their own phenomenon more than the "
                     "others beyond the untrained network: what they teach may be tied to their own constructions",
    "inconclusive": "the trained gap's lead over the untrained network lies inside the spread between data splits",
    "not testable": "an untrained space or a second data split is missing, so there is nothing to read it against",
}


def generality_text(verdicts: pd.DataFrame) -> str:
    """:func:`benchmark_verdicts` in words, a paragraph (separated by a blank line) per row: the
    statistic trained and untrained, the difference against its band, the control, the verdict."""
    sentences = []
    for row in verdicts.to_dict("records"):
        if row["rule"] == "G1":
            sentences.append(
                f"On {row['benchmark']} ({row['paradigms']} paradigms) the {row['size']} model's task space resembles "
                f"that benchmark's hypothesis space at r = {row['trained']:+.3f} (mean over {row['splits']} data "
                f"splits, largest Mantel p {row['p (largest)']:.4f}; partial r {row['control']:+.3f} controlling "
                f"for lexical and critical-word overlap), the untrained network's at r = {row['untrained']:+.3f}: "
                f"a difference of {row['difference']:+.3f} against a band of {row['band']:.3f} (the spread of r "
                f"between data splits). The verdict under rule G1: {row['verdict']}; {MEANING[row['verdict']]}.")
        elif row["rule"] == "G3":
            sentences.append(
                f"From BLiMP to CLAMS English ({row['paradigms']} paradigms of the phenomena CLAMS tests, "
                f"{row['size']} model), fine-tuning on a BLiMP paradigm moves CLAMS's paradigms of the same "
                f"phenomenon more than those of the others by {row['trained']:+.3f} (transfer, mean over "
                f"{row['splits']} data splits, largest permutation p {row['p (largest)']:.4f}; "
                f"{row['control']:+.3f} after lexical and critical-word overlap), the untrained network by "
                f"{row['untrained']:+.3f}: a difference of {row['difference']:+.3f} against a band of "
                f"{row['band']:.3f}. The verdict under rule G3: {row['verdict']}; {TEMPLATE_MEANING[row['verdict']]}.")
        else:
            sentences.append(
                f"Across {row['benchmark']} ({row['paradigms']} paradigms, {row['size']} model), same-phenomenon "
                f"pairs of paradigms from different benchmarks are more similar than different-phenomenon ones by "
                f"{row['trained']:+.3f} (mean over {row['splits']} data splits, largest permutation p "
                f"{row['p (largest)']:.4f}; {row['control']:+.3f} after lexical and critical-word overlap), the "
                f"untrained network's by {row['untrained']:+.3f}: a difference of {row['difference']:+.3f} against "
                f"a band of {row['band']:.3f}. The verdict under rule G2: {row['verdict']}; {CROSS_MEANING[row['verdict']]}.")
    return "\n\n".join(sentences)
