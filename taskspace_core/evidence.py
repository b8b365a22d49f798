"""The evidence behind the claims: a preset's task spaces, loaded and held against the rules.

The rules themselves are pure functions of numbers (``claims.py``); this module finds the
spaces a preset's plan names (committed results, else the run store) and applies them.

    paper_claims       one run per size: the rules as the paper states them
    replicated_claims  the null baselines, replicates and sparse masks of ``book.*``, read
                       against the replicate band
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .checkpoints import dynamics_epochs
from .claims import (
    beats_untrained, changes_early_then_settles, grows_with_size, grows_with_size_beyond_band, mean_over_phenomena,
    region_grows, region_grows_beyond_band, resembles_hypothesis, settles_beyond_noise, similarity_change,
)
from .config import Config
from .models import spec_parameters
from .paper import paper_within_table
from .replicates import Estimate, band_for
from .report import Analysis
from .results import analysed_space
from .task_space import TaskSpace


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
    over_training = {e: analysed_space(config, dynamics_size, e) for e in dynamics_epochs(config)}
    verdicts = [
        resembles_hypothesis(final[rq1_size][1], f"{rq1_size} ({params[rq1_size]:.2f}M)"),
        grows_with_size({f"{s} {params[s]:.2f}M": an for s, (_, an) in final.items()}, paper_within_table()),
        changes_early_then_settles({e: an for e, (_, an) in over_training.items()}),
        region_grows({e: sp.mask_union_share for e, (sp, _) in over_training.items()}),
    ]
    return ClaimsEvidence(verdicts, params, final, over_training)


@dataclass
class ReplicatedEvidence:
    """The claims read against the untrained network and replicates, and the spaces behind them.
    Spaces are ``(TaskSpace, Analysis)``; lists hold seed 0 first, then the replicates."""

    verdicts: list  # of Verdict
    parameters_m: dict[str, float]
    final: dict[str, list]  # size -> its final spaces, one per pretraining seed
    untrained: dict[str, tuple]  # size -> its epoch-0 space
    sparse_final: dict[str, tuple]  # size -> its final space under the top-fraction mask rule
    splits: list  # the split size's final spaces, one per data-split seed
    over_training: dict[float, tuple]  # the dynamics size at the chapter's checkpoints
    sparse_over_training: dict[float, tuple]


def _estimate(spaces: list, value) -> Estimate:
    return Estimate(tuple(float(value(space, analysis)) for space, analysis in spaces))


def replicated_claims(config: Config) -> ReplicatedEvidence:
    """Hold the paper's claims against ``config``'s plan of null baselines, replicates and sparse
    masks (``book.*``), by the rules against replicates above. Every band is the range over
    pretraining seeds (replicates.py); a size without replicates borrows the widest band
    measured; the noise of claim 3 is the mean Δ between data-split replicates."""
    plan = config.book
    params = {s: spec_parameters(config.size(s), config.tokenizer.vocab_size) / 1e6 for s in config.sizes}
    sparse = {"ftgd_mask_rule": "top_fraction", "ftgd_top_fraction": plan.sparse_fraction}
    final = {s: [analysed_space(config, s)] + ([analysed_space(config, s, pretrain_seed=k) for k in plan.pretrain_seeds]
                                               if s in plan.replicate_sizes else []) for s in config.sizes}
    untrained = {s: analysed_space(config, s, 0.0) for s in config.sizes} if plan.null_baselines else {}
    sparse_final = {s: analysed_space(config, s, **sparse) for s in config.sizes} if plan.sparse_fraction else {}
    split_size, dynamics_size = config.chapter_size("split"), config.chapter_size("dynamics")
    splits = [analysed_space(config, split_size)] + [analysed_space(config, split_size, data_split_seed=k)
                                                     for k in plan.split_seeds]
    epochs = dynamics_epochs(config)
    over_training = {e: analysed_space(config, dynamics_size, e) for e in epochs}
    sparse_over_training = ({e: analysed_space(config, dynamics_size, e, **sparse) for e in epochs}
                            if plan.sparse_fraction else {})

    def r(space, analysis):
        return analysis.headline.hypothesis_pearson

    trained_r = {s: _estimate(spaces, r) for s, spaces in final.items()}
    verdicts = [beats_untrained(trained_r[s], _estimate(final[s], lambda sp, an: an.headline.mantel_p),
                                _estimate([untrained[s]], r) if s in untrained else Estimate(()),
                                band_for(trained_r[s], list(trained_r.values())), f"{s} ({params[s]:.2f}M)")
                for s in config.sizes]
    within = {f"{s} {params[s]:.2f}M": _estimate(spaces, lambda sp, an: mean_over_phenomena(an.within))
              for s, spaces in final.items()}
    paper = paper_within_table()
    threshold = f"threshold {config.ftgd.threshold:g}" if config.ftgd.mask_rule == "threshold" else "the preset's masks"
    verdicts.append(grows_with_size_beyond_band(within, paper, threshold))
    if sparse_final:
        sparse_within = {f"{s} {params[s]:.2f}M": _estimate([sparse_final[s]], lambda sp, an: mean_over_phenomena(an.within))
                         for s in config.sizes}
        verdicts.append(grows_with_size_beyond_band(sparse_within, paper, f"top {plan.sparse_fraction:.0%}",
                                                    measured=list(within.values())))
    noise = float(np.mean([similarity_change(a.similarity, b.similarity)
                           for (_, a), (_, b) in itertools.combinations(splits, 2)])) if len(splits) > 1 else float("nan")
    verdicts.append(settles_beyond_noise({e: an for e, (_, an) in over_training.items()}, noise))
    union_band = _estimate(final[dynamics_size], lambda sp, an: sp.mask_union_share).band
    verdicts.append(region_grows_beyond_band({e: sp.mask_union_share for e, (sp, _) in over_training.items()},
                                             union_band, threshold))
    if sparse_over_training:
        verdicts.append(region_grows_beyond_band({e: sp.mask_union_share for e, (sp, _) in sparse_over_training.items()},
                                                 union_band, f"top {plan.sparse_fraction:.0%}"))
    return ReplicatedEvidence(verdicts, params, final, untrained, sparse_final, splits, over_training,
                              sparse_over_training)
