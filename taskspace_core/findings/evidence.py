"""The evidence behind the claims: a preset's task spaces, loaded and held against the rules.

The rules themselves are pure functions of numbers (``claims.py``); this module looks up the
spaces by their role in a preset's plan (:mod:`taskspace_core.plan.requests`), takes them from a
space source (``spaces(request) -> (space, analysis)``: a reader of committed results, or one
that computes what is missing) and applies the rules. It computes nothing itself.

    seed_replicates    one size's space at a checkpoint under every pretraining seed the plan computes
    split_replicates   the split size's final space under every data split the plan computes
    validation_losses  each size's validation loss over the same pretraining seeds
    size_confound      the sentence that says whether a larger model is also the better-trained one
    replicated_claims  the null baselines, replicates and sparse masks of ``book.*``, read
                       against the replicate band: the verdicts and the spaces behind them
    definition_readings claim 1 under each declared alternative similarity definition
    inventory          how many spaces of each kind stand behind the verdicts
    hypothesis_table   claim 1: each size's r with the hypothesis space, trained and untrained
    size_estimates     claim 2: each size's mean within-phenomenon similarity, per mask rule
    training_steps     claims 3 and 4: the change, the masks' sharing gap and union at each checkpoint
    agreement          our per-phenomenon means against the paper's, for every space
    verdicts_beside    two presets' verdicts side by side, matched by claim and scope
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..lm.checkpoints import checkpoint_epoch, load_checkpoint_meta
from ..lm.models import spec_parameters
from ..plan.requests import Plan, Role, SpaceRequest, mask_label
from ..analysis.claims import (
    Status, Verdict, beats_untrained, grows_with_size_beyond_band, step_statuses,
)
from ..analysis.statistics import (
    SIMILARITY_DEFINITIONS, hypothesis_r_by_definition, mask_sharing_gap, mean_over_phenomena,
    phenomenon_weightings, replicate_change, similarity_change,
)
from ..analysis.paper import agreement_table, paper_within_table
from ..analysis.replicates import Difference, Estimate, band_for
from .marks import also, coincides
from .training import training_claims

# a space source: (space, analysis) of a request (results.read.Reader, or plan.ensure.Ensurer)
SpaceSource = Callable[[SpaceRequest], tuple]


@dataclass
class ReplicatedEvidence:
    """The claims read against the untrained network and replicates, and the spaces behind them.
    Spaces are ``(TaskSpace, Analysis)``; lists hold seed 0 first, then the replicates."""

    verdicts: list  # of Verdict
    scopes: list  # of str, one per verdict: the size (claim 1) or the mask rule (claims 2 to 4) it judges
    parameters_m: dict[str, float]
    final: dict[str, list]  # size -> its final spaces, one per pretraining seed
    untrained: dict[str, tuple]  # size -> its epoch-0 space
    sparse_final: dict[str, tuple]  # size -> its final space under the top-fraction mask rule
    splits: list  # the split size's final spaces, one per data-split seed
    over_training: dict[float, tuple]  # the dynamics size at the chapter's checkpoints
    sparse_over_training: dict[float, tuple]
    dynamics_size: str = ""
    split_size: str = ""
    masks: str = ""  # the preset's mask rule, in words ("threshold 0.001")
    sparse_masks: str = ""  # the sparse rule, in words ("top 5%"); "" when the plan has none
    split_noise: float = float("nan")  # mean Δ between the data-split replicates (context for claim 3)
    seed_noise: dict = dataclasses.field(default_factory=dict)  # epoch -> mean Δ between pretraining seeds there (claim 3's noise)

    def claim(self, number: int) -> list[tuple[str, Verdict]]:
        """The verdicts of claim ``number`` (1 to 4), each with its scope."""
        return [(scope, v) for scope, v in zip(self.scopes, self.verdicts) if v.number == number]

    def summary(self, number: int) -> str:
        """Claim ``number``'s verdict in a few words: ``"inconclusive"`` when every scope agrees,
        else each verdict with its scopes (``"holds (small); inconclusive (medium, large)"``)."""
        by_status: dict[Status, list[str]] = {}
        for scope, v in self.claim(number):
            if v.primary:
                by_status.setdefault(v.verdict, []).append(scope)
        if len(by_status) == 1:
            return next(iter(by_status)).value
        return "; ".join(f"{status.value} ({', '.join(scopes)})" for status, scopes in by_status.items())


def seed_replicates(plan: Plan, spaces: SpaceSource, size: str, checkpoint: str | float = "final") -> list[tuple]:
    """``size``'s analysed space at ``checkpoint`` under every pretraining seed the plan computes
    there, the preset's seed first: a list of one where the plan has no replicates of it."""
    return [spaces(request) for request in plan.seeds(size, checkpoint)]


def validation_losses(plan: Plan, checkpoint: str | float = "final") -> dict[str, Estimate]:
    """Each size's validation loss (nats per token on the held-out books) at ``checkpoint``, over the
    pretraining seeds :func:`seed_replicates` reads, the preset's seed first. From the checkpoints'
    records: nothing is scored again."""
    config = plan.config
    return {size: Estimate(tuple(float(load_checkpoint_meta(r.config(config), size, checkpoint)["val_loss"])
                                 for r in plan.seeds(size, checkpoint))) for size in config.sizes}


def size_confound(losses: dict[str, Estimate]) -> str:
    """One to three sentences on whether each larger model is also the better language model, each
    step between neighbouring sizes read against the spread between pretraining seeds (the wider
    of the two sizes' bands; a size with one run borrows the widest measured, as
    :func:`~.replicates.band_for` does). Where the larger size's loss is higher by more than that
    spread, the step compares size and training at once; where the difference lies inside it, the
    two are about equally good language models. Without any replicate the means decide."""
    shown = "; ".join(f"{size} {loss.describe('{:.3f}')}" for size, loss in losses.items())
    worse, level = [], []
    for a, b, difference, _, status in step_statuses(losses):
        if status is Difference.ABOVE or (status is Difference.UNKNOWN and difference >= 0):
            worse.append(f"{a} → {b}")
        elif status is Difference.INSIDE:
            level.append(f"{a} → {b}")
    text = f"Validation loss on the held-out books (nats per token): {shown}."
    if not worse and not level:
        return text + " It falls with size, so each larger model is also the better language model."
    if level:
        text += (f" At {', '.join(level)} the difference lies inside the spread between pretraining seeds: the two "
                 "are about equally good language models.")
    if worse:
        text += (f" It does not fall at every step: at {', '.join(worse)} the larger model is the worse language "
                 "model at this token budget, so that step compares a larger model with a less well trained one, "
                 "and its reading says as much about training as about size (the methods chapter discusses the recipe).")
    return text


def split_replicates(plan: Plan, spaces: SpaceSource, size: str | None = None) -> list[tuple]:
    """The split size's final space under every data split the plan computes, the preset's split
    first: a list of one where the plan has no split replicates, and ``[]`` when ``size`` is given
    and is not the split size."""
    if size is not None and size != plan.split_size:
        return []
    return [spaces(request) for request in plan.splits()]


def _estimate(spaces: list, value) -> Estimate:
    return Estimate(tuple(float(value(space, analysis)) for space, analysis in spaces))


def replicated_claims(plan: Plan, spaces: SpaceSource) -> ReplicatedEvidence:
    """Hold the paper's claims against the plan's null baselines, replicates and sparse masks, by
    the rules against replicates (claims.py). Every band is the range over pretraining seeds
    (replicates.py), measured where it is applied; where a rule borrows one (a size without
    replicates, a mask rule computed once), its verdict is marked so. Claim 2 judges only the size
    steps where the larger model is the better language model. Claims 3 and 4 are read by
    :func:`~.training.training_claims` (claim 4's bands from the plan's mask sets where it has
    them, read through ``spaces.mask_set``)."""
    config = plan.config
    params = {s: spec_parameters(config.size(s), config.tokenizer.vocab_size) / 1e6 for s in config.sizes}
    split_size, dynamics_size = plan.split_size, config.chapter_size("dynamics")
    final = {s: seed_replicates(plan, spaces, s) for s in config.sizes}
    untrained = {r.size: spaces(r) for r in plan.find(Role.NULL)}
    sparse_final = {r.size: spaces(r) for r in plan.find(Role.SPARSE)}
    splits = split_replicates(plan, spaces)
    over_training = {checkpoint_epoch(config, r.checkpoint): spaces(r) for r in plan.find(Role.DYNAMICS)}
    sparse_over_training = {checkpoint_epoch(config, r.checkpoint): spaces(r) for r in plan.find(Role.SPARSE_DYNAMICS)}
    seeds_over_training = {e: seed_replicates(plan, spaces, dynamics_size, e) for e in over_training}
    threshold = mask_label(config.ftgd)
    sparse_requests = plan.find(Role.SPARSE)
    sparse_rule = sparse_requests[0].masks.label if sparse_requests else ""
    verdicts, scopes = [], []

    def judge(verdict: Verdict, scope: str) -> None:
        verdicts.append(verdict)
        scopes.append(scope)

    for size, verdict in _claim1(config, final, untrained, params).items():
        judge(verdict, size)
    losses = validation_losses(plan)
    better_lm = [status is Difference.BELOW for *_, status in step_statuses(losses)]
    by_size = {f"{s} {params[s]:.2f}M": runs for s, runs in final.items()}
    within = {name: _estimate(runs, lambda sp, an: mean_over_phenomena(an.within)) for name, runs in by_size.items()}
    weighting_names = list(phenomenon_weightings(next(iter(final.values()))[0][1].within))
    weightings = {k: {name: _estimate(runs, lambda sp, an, k=k: phenomenon_weightings(an.within)[k])
                      for name, runs in by_size.items()} for k in weighting_names}
    paper = paper_within_table()
    judge(grows_with_size_beyond_band(within, paper, threshold, better_lm=better_lm,
                                      alternatives={k: (v, None) for k, v in weightings.items()}), threshold)
    if sparse_final:
        sparse_by_size = {f"{s} {params[s]:.2f}M": [sparse_final[s]] for s in config.sizes}
        sparse_within = {n: _estimate(runs, lambda sp, an: mean_over_phenomena(an.within)) for n, runs in sparse_by_size.items()}
        sparse_weightings = {k: ({n: _estimate(runs, lambda sp, an, k=k: phenomenon_weightings(an.within)[k])
                                  for n, runs in sparse_by_size.items()}, list(weightings[k].values())) for k in weightings}
        judge(also(grows_with_size_beyond_band(sparse_within, paper, sparse_rule, measured=list(within.values()),
                                                better_lm=better_lm, alternatives=sparse_weightings,
                                                band_source=f"the {threshold} rule's pretraining-seed replicates"),
                    coincides({s: (final[s][0][1], sparse_final[s][1]) for s in sparse_final})), sparse_rule)
    claims, noise = training_claims(plan, getattr(spaces, "mask_set", None), over_training, sparse_over_training,
                                    seeds_over_training, final[dynamics_size], (threshold, sparse_rule),
                                    sparse_requests[0].masks if sparse_requests else None)
    for verdict, scope in claims:
        judge(verdict, scope)
    return ReplicatedEvidence(verdicts, scopes, params, final, untrained, sparse_final, splits, over_training,
                              sparse_over_training, dynamics_size, split_size, threshold, sparse_rule,
                              replicate_change([an for _, an in splits]), noise)


def _claim1(config, final: dict, untrained: dict, params: dict) -> dict[str, Verdict]:
    """Claim 1 per size: the chosen similarity's r against the untrained network's, and each declared
    alternative definition beside it (marked where it reads differently)."""
    def r(space, analysis):
        return analysis.headline.hypothesis_pearson

    trained_r = {s: _estimate(runs, r) for s, runs in final.items()}
    alternatives = definition_readings(config.space.metric, final, untrained)
    return {s: beats_untrained(trained_r[s], _estimate(final[s], lambda sp, an: an.headline.mantel_p),
                               _estimate([untrained[s]], r) if s in untrained else Estimate(()),
                               band_for(trained_r[s], list(trained_r.values())), f"{s} ({params[s]:.2f}M)",
                               band_borrowed=len(final[s]) < 2,
                               alternatives={name: by_size[s] for name, by_size in alternatives.items() if s in by_size})
            for s in config.sizes}


def definition_readings(metric: str, final: dict, untrained: dict) -> dict[str, dict[str, tuple]]:
    """Claim 1 under each declared alternative similarity definition: ``{definition: {size:
    (trained r over the pretraining seeds, untrained r, band)}}`` for the sizes with an untrained
    space; the band is the trained r's range over seeds, or the widest such range over the sizes."""
    readings = {}
    for name in SIMILARITY_DEFINITIONS:
        trained = {s: _estimate(runs, lambda sp, an, name=name: hypothesis_r_by_definition(sp, an, metric)[name])
                   for s, runs in final.items()}
        readings[name] = {s: (trained[s], Estimate((hypothesis_r_by_definition(*untrained[s], metric)[name],)),
                              band_for(trained[s], list(trained.values()))) for s in final if s in untrained}
    return readings


# --------------------------------------------------------------------------- the numbers behind the verdicts


def spaces_behind(evidence: ReplicatedEvidence) -> list:
    """Every distinct task space the verdicts read, once each (a space can serve several roles:
    the seed-0 final space is also the first data split and the last checkpoint over training)."""
    spaces = [sp for runs in evidence.final.values() for sp, _ in runs]
    spaces += [sp for sp, _ in [*evidence.untrained.values(), *evidence.sparse_final.values(), *evidence.splits,
                                *evidence.over_training.values(), *evidence.sparse_over_training.values()]]
    return list({sp.store_dir: sp for sp in spaces}.values())


def inventory(evidence: ReplicatedEvidence) -> pd.DataFrame:
    """One row per size: how many task spaces of each kind stand behind the verdicts (0: none).
    A space serving two roles is counted in both columns (:func:`spaces_behind` counts it once)."""
    rows = []
    for size in evidence.final:
        rows.append({"size": size, "parameters (M)": evidence.parameters_m[size],
                     "pretraining seeds": len(evidence.final[size]),
                     "untrained (epoch 0)": int(size in evidence.untrained),
                     f"sparse masks{f' ({evidence.sparse_masks})' if evidence.sparse_masks else ''}":
                         int(size in evidence.sparse_final),
                     "data splits": len(evidence.splits) if size == evidence.split_size else 0,
                     "checkpoints over training": len(evidence.over_training)
                     if size == evidence.dynamics_size else 0})
    return pd.DataFrame(rows).set_index("size")


def hypothesis_table(evidence: ReplicatedEvidence) -> pd.DataFrame:
    """Claim 1, one row per size: r with the hypothesis space over the pretraining seeds (mean,
    min, max), the untrained network's r, the partial Mantel r under each control (mean over
    seeds) and the largest Mantel p over the seeds."""
    rows = []
    for size, spaces in evidence.final.items():
        heads = [an.headline for _, an in spaces]
        r = [h.hypothesis_pearson for h in heads]
        rows.append({"size": size, "seeds": len(heads), "r trained": float(np.mean(r)), "r min": min(r),
                     "r max": max(r), "r untrained": evidence.untrained[size][1].headline.hypothesis_pearson
                     if size in evidence.untrained else np.nan,
                     "partial r | lexical": float(np.mean([h.partial_mantel_r for h in heads])),
                     "partial r | lexical + critical": float(np.mean([h.partial_mantel_both_r for h in heads])),
                     "Mantel p (largest)": max(h.mantel_p for h in heads)})
    table = pd.DataFrame(rows).set_index("size")
    return table.assign(**{"trained − untrained": table["r trained"] - table["r untrained"]})


def size_estimates(evidence: ReplicatedEvidence) -> pd.DataFrame:
    """Claim 2, long form: per size and mask rule, the mean within-phenomenon similarity (averaged
    over phenomena) over the pretraining seeds (mean, min, max, runs), with log10 parameters;
    then the paper's three models (source "paper")."""
    rows = []
    for masks, spaces in ((evidence.masks, evidence.final),
                          (evidence.sparse_masks, {s: [sp] for s, sp in evidence.sparse_final.items()})):
        for size, runs in spaces.items():
            values = [mean_over_phenomena(an.within) for _, an in runs]
            rows.append({"source": f"ours, {masks}", "model": size,
                         "log10 parameters": np.log10(evidence.parameters_m[size] * 1e6),
                         "mean over phenomena": float(np.mean(values)), "min": min(values), "max": max(values),
                         "runs": len(values)})
    for model, g in paper_within_table().groupby("model", sort=False):
        value = float(g["mean"].mean())
        rows.append({"source": "paper", "model": model, "log10 parameters": np.log10(g.parameters_m.iloc[0] * 1e6),
                     "mean over phenomena": value, "min": value, "max": value, "runs": 1})
    return pd.DataFrame(rows)


def training_steps(evidence: ReplicatedEvidence) -> pd.DataFrame:
    """Claims 3 and 4, one row per checkpoint of the dynamics size: the change of the similarity
    matrix since the previous checkpoint (Δ = 1 − r), the masks' overlap within minus between
    phenomena, and the masks' mean share and union, under
    the preset's masks and (where computed) the sparse ones."""
    epochs = sorted(evidence.over_training)
    rows = []
    for i, e in enumerate(epochs):
        space, an = evidence.over_training[e]
        row = {"epoch": e, "Δ since previous": similarity_change(evidence.over_training[epochs[i - 1]][1].similarity,
                                                                 an.similarity) if i else np.nan,
               f"mask overlap within − between ({evidence.masks})": mask_sharing_gap(an),
               f"mean mask share ({evidence.masks})": an.headline.mask_share_mean,
               f"union of masks ({evidence.masks})": space.mask_union_share}
        if e in evidence.sparse_over_training:
            sparse_space, sparse_an = evidence.sparse_over_training[e]
            row |= {f"mask overlap within − between ({evidence.sparse_masks})": mask_sharing_gap(sparse_an),
                    f"mean mask share ({evidence.sparse_masks})": sparse_an.headline.mask_share_mean,
                    f"union of masks ({evidence.sparse_masks})": sparse_space.mask_union_share}
        rows.append(row)
    return pd.DataFrame(rows).set_index("epoch")


def agreement(evidence: ReplicatedEvidence) -> pd.DataFrame:
    """Our per-phenomenon means against each of the paper's models (Pearson r, and again without
    the two-paradigm phenomena): one row per space behind the verdicts, labelled by size, seed,
    checkpoint and mask rule, with its ``kind`` (trained, untrained, sparse, over training)."""
    withins, kinds = {}, {}

    def add(label: str, kind: str, analysis) -> None:
        withins[label], kinds[label] = analysis.within, kind

    for size, spaces in evidence.final.items():
        for seed, (_, an) in enumerate(spaces):
            add(f"{size}, seed {seed}", "trained", an)
    for size, (_, an) in evidence.untrained.items():
        add(f"{size}, untrained", "untrained", an)
    for size, (_, an) in evidence.sparse_final.items():
        add(f"{size}, {evidence.sparse_masks}", "sparse masks", an)
    for e, (_, an) in sorted(evidence.over_training.items()):
        if e not in (0, max(evidence.over_training)):  # the ends are the untrained and the seed-0 rows
            add(f"{evidence.dynamics_size}, epoch {e:g}", "over training", an)
    table = agreement_table(withins)
    return table.assign(kind=[kinds[label] for label in table.index])


def verdicts_beside(current: ReplicatedEvidence, earlier: ReplicatedEvidence,
                    names: tuple[str, str] = ("now", "earlier")) -> pd.DataFrame:
    """Two bodies of evidence's verdicts side by side (``names``: what to call each), matched by
    claim number and scope (a size for claim 1, a mask rule for claims 2 to 4). One row per
    (claim, scope) that either has, the current order first; a verdict one side lacks is "".
    ``changed`` says "yes" where both sides give a verdict and the verdicts differ, "no" where they
    agree, and "only in <name>" where one side has none."""
    if names[0] == names[1]:
        raise ValueError(f"verdicts_beside: the two sides need different names, not {names[0]!r} twice")

    def rows(evidence: ReplicatedEvidence) -> dict[tuple[str, str], Verdict]:
        return {(str(v.number), scope): v for scope, v in zip(evidence.scopes, evidence.verdicts)}

    now, before = rows(current), rows(earlier)
    keys = list(now) + [k for k in before if k not in now]
    table = []
    for number, scope in sorted(keys, key=lambda k: int(k[0])):  # stable: keeps each claim's scope order
        verdicts = [side.get((number, scope)) for side in (now, before)]
        statuses = [v.verdict.value if v else "" for v in verdicts]
        table.append({"claim": number, "scope": scope,
                      **{f"verdict ({name})": status for name, status in zip(names, statuses)},
                      "changed": ("yes" if statuses[0] != statuses[1] else "no") if all(statuses)
                      else f"only in {names[0] if statuses[0] else names[1]}",
                      **{f"ours ({name})": v.ours if v else "" for name, v in zip(names, verdicts)}})
    return pd.DataFrame(table)
