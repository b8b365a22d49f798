"""The critique's generality section: other benchmarks' task spaces, read by rules G1, G2 and G3.

    benchmark_verdicts  one row per benchmark set and size: the rule's statistic (G1: r with the
                        hypothesis space; G2: the cross gap; G3: the BLiMP → CLAMS transfer gap)
                        over data splits, the untrained
                        network's, the difference, the band, the control and the verdict
    benchmark_accuracy  eval1 on that benchmark: per paradigm, accuracy trained and untrained
    benchmark_within    per phenomenon: within-phenomenon similarity on the other benchmark (trained,
                        untrained) beside BLiMP's at the same size
    generality_text     the verdicts in words, a paragraph per rule, with a line for each rule the
                        preset's plan does not compute
"""

from __future__ import annotations

import pandas as pd

from ..analysis.generality import cross_gap, structure_reappears
from ..analysis.replicates import Estimate
from ..plan.requests import BenchmarkSet, Plan, Role, SpaceRequest, benchmark_entry
from .evidence import SpaceSource


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
        parsed = BenchmarkSet.parse(entry)
        for size in plan.config.book.benchmark_sizes:
            trained, untrained = _requests(plan, entry, size)
            runs = [spaces(r) for r in trained]
            statistic = _statistic(plan, parsed)
            measured = [statistic(space, analysis) for space, analysis in runs]
            value, p = Estimate(tuple(v for v, _, _ in measured)), Estimate(tuple(q for _, q, _ in measured))
            null = Estimate((statistic(*spaces(untrained))[0],) if untrained else ())
            rows.append({"benchmark": parsed.title, "size": size, "paradigms": len(runs[0][0].paradigms) if runs else 0,
                         "rule": parsed.rule,
                         "trained": value.mean, "splits": len(value.values), "untrained": null.mean,
                         "difference": value.mean - null.mean, "band": value.band, "p (largest)": max(p.values),
                         "control": measured[0][2], "verdict": structure_reappears(value, p, null).value})
    return pd.DataFrame(rows)


def _statistic(plan: Plan, parsed: BenchmarkSet):
    """``(space, analysis) -> (statistic, p, control)``: G1's r with the hypothesis space (its Mantel
    p; control: the partial r for lexical and critical-word overlap) for one benchmark, G2's cross
    gap (its permutation p; control: the gap after both overlaps) for a cross-benchmark space, G3's
    transfer gap (the same, on the directed block of the transfer matrix in the space's metric)."""
    s, taxonomy = plan.config.space, plan.config.data.taxonomy
    if parsed.rule == "G1":
        return lambda space, an: (an.headline.hypothesis_pearson, an.headline.mantel_p, an.headline.partial_mantel_both_r)
    direction = parsed.direction

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
    title = BenchmarkSet.parse(entry).title
    columns = {f"{title} trained": spaces(trained[0])[1].within["mean"]}
    if untrained is not None:
        columns[f"{title} untrained"] = spaces(untrained)[1].within["mean"]
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


# What each verdict says, per rule; "inconclusive" and "not testable" read the same under every rule.
MEANING = {
    "G1": {
        "holds": "the phenomenon structure reappears on a benchmark built by other people with other words and "
                 "frames, beyond what an untrained network shows",
        "does not hold": "the phenomenon structure does not carry over: on this benchmark the trained model's task "
                         "space is no closer to its hypothesis space than the untrained network's, or not "
                         "significantly close",
    },
    "G2": {
        "holds": "fine-tuning on a paradigm moves the same phenomenon's paradigms of the other benchmark more than "
                 "other phenomena's, beyond what an untrained network shows, so the shared structure is not one "
                 "benchmark's templates",
        "does not hold": "across benchmarks, same-phenomenon paradigms are not moved more than others beyond the "
                         "untrained network, so the structure seen within a benchmark may be its own templates",
    },
    "G3": {
        "holds": "fine-tuning on a BLiMP paradigm moves CLAMS's constructions of the same phenomenon, which BLiMP "
                 "does not contain, more than CLAMS's other phenomena, beyond what an untrained network shows",
        "does not hold": "BLiMP's paradigms do not move CLAMS's constructions of their own phenomenon more than the "
                         "others beyond the untrained network: what they teach may be tied to their own constructions",
    },
}
EVERY_RULE = {
    "inconclusive": "the trained statistic's lead over the untrained network lies inside the spread between data splits",
    "not testable": "an untrained space or a second data split is missing, so there is nothing to read it against",
}


def meaning(rule: str, verdict: str) -> str:
    """What ``verdict`` says under ``rule`` (G1, G2 or G3), in one clause."""
    return MEANING[rule].get(verdict) or EVERY_RULE[verdict]


# the entry of ``book.benchmark_spaces`` that puts each rule in a plan, for a plan without it
ENTRY_OF_RULE = {"G1": "zorro", "G2": "blimp+zorro", "G3": "blimp>clams"}
TEST_OF_RULE = {"G1": "Zorro's own task space", "G2": "the cross-benchmark test", "G3": "the CLAMS template check"}


def _statement(row: dict) -> str:
    """The measured statistic of one :func:`benchmark_verdicts` row, trained and untrained, in words."""
    over = (f"mean over {row['splits']} data splits, largest "
            f"{'Mantel' if row['rule'] == 'G1' else 'permutation'} p {row['p (largest)']:.4f}")
    if row["rule"] == "G1":
        return (f"On {row['benchmark']} ({row['paradigms']} paradigms) the {row['size']} model's task space "
                f"resembles that benchmark's hypothesis space at r = {row['trained']:+.3f} ({over}; partial r "
                f"{row['control']:+.3f} controlling for lexical and critical-word overlap), the untrained network's "
                f"at r = {row['untrained']:+.3f}")
    if row["rule"] == "G2":
        return (f"Across {row['benchmark']} ({row['paradigms']} paradigms, {row['size']} model), the cross gap (the "
                f"mean similarity of same-phenomenon pairs of paradigms from different benchmarks, minus that of "
                f"different-phenomenon pairs) is {row['trained']:+.3f} ({over}; {row['control']:+.3f} after lexical "
                f"and critical-word overlap), the untrained network's {row['untrained']:+.3f}")
    source, target = row["benchmark"].split(" → ")
    return (f"From {source} to {target} ({row['paradigms']} paradigms of the phenomena {target} tests, "
            f"{row['size']} model), the transfer gap (the mean transfer from fine-tuning on a {source} paradigm to "
            f"{target}'s paradigms of its own phenomenon, minus that to {target}'s others) is {row['trained']:+.3f} "
            f"({over}; {row['control']:+.3f} after lexical and critical-word overlap), the untrained network's "
            f"{row['untrained']:+.3f}")


def generality_text(verdicts: pd.DataFrame, plan: Plan | None = None) -> str:
    """:func:`benchmark_verdicts` in Markdown, a paragraph (separated by a blank line) per row: the
    statistic trained and untrained, the difference against its band, the verdict and what it says.
    With ``plan``, a closing line names each rule the plan does not compute and the
    ``book.benchmark_spaces`` entry that would."""
    paragraphs = [
        f"{_statement(row)}: a difference of {row['difference']:+.3f} against a band of {row['band']:.3f} (the "
        f"spread between data splits). The verdict under rule {row['rule']}: **{row['verdict']}**; "
        f"{meaning(row['rule'], row['verdict'])}." for row in verdicts.to_dict("records")]
    if plan is not None:
        if verdicts.empty:
            paragraphs.append("This preset's plan computes no space on another benchmark (`book.benchmark_spaces`), so "
                              "generality stays a question here; `taskspace data` validates Zorro and CLAMS English, "
                              "and `--data.benchmarks=zorro` computes a space on them.")
        planned = {BenchmarkSet.parse(entry).rule for entry in plan.config.book.benchmark_spaces}
        missing = [rule for rule in ENTRY_OF_RULE if rule not in planned]
        if missing and not verdicts.empty:
            paragraphs.append("Not in this preset's plan yet: " + "; ".join(
                f"{TEST_OF_RULE[rule]} (rule {rule}, `book.benchmark_spaces` entry `{ENTRY_OF_RULE[rule]}`)"
                for rule in missing) + f". `taskspace space` computes {'its space' if len(missing) == 1 else 'their spaces'} "
                f"for any checkpoint; `taskspace reproduce` computes {'it' if len(missing) == 1 else 'them'} "
                "once the entry is in the plan.")
    return "\n\n".join(paragraphs)
