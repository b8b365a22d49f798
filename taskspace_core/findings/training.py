"""Claims 3 and 4: the dynamics size over training, read against the spread between pretraining
seeds at the checkpoints each claim compares.

    mask_replicate_bands  claim 4's bands from the plan's mask sets (the seeds' masks alone)
    training_claims       claim 3 (the task space settles early) and claim 4 (related tasks share
                          more parameters; the union of the masks grows), under each mask rule

The spaces come in loaded (``over_training``: epoch -> (space, analysis)); the mask sets through
``mask_set(request)``. Nothing here computes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..analysis.claims import Verdict, region_grows_beyond_band, settles_beyond_noise, sharing_grows_beyond_band, wider_at
from ..analysis.masks import overlap_within_between
from ..analysis.replicates import Estimate
from ..analysis.statistics import mask_sharing_gap, replicate_change
from ..lm.checkpoints import checkpoint_epoch
from ..plan.requests import Masks, Plan
from .marks import also, coincides


def mask_replicate_bands(plan: Plan, mask_set: Callable, seed0: dict[float, tuple],
                         masks: Masks | None = None) -> dict[str, dict]:
    """Claim 4's bands where they are read: per RQ3 checkpoint, the range over pretraining seeds of
    the masks' overlap within minus between phenomena (``"gap"``) and of their union's share
    (``"union"``) under ``masks`` (None: the preset's rule). The preset's seed comes from its space
    at that checkpoint (``seed0``: epoch -> (space, analysis)), the other seeds from the plan's mask
    sets (``mask_set(request)`` -> :class:`~taskspace_core.analysis.masks.MaskSet`); NaN where the
    plan has none there."""
    bands: dict[str, dict] = {"gap": {}, "union": {}}
    for epoch, (space, analysis) in seed0.items():
        sets = [mask_set(r) for r in plan.mask_sets
                if r.masks == masks and checkpoint_epoch(plan.config, r.checkpoint) == epoch]
        gaps = [mask_sharing_gap(analysis)] + [float(np.subtract(*overlap_within_between(m.mask_overlap, m.phenomena)))
                                               for m in sets]
        bands["gap"][epoch] = Estimate(tuple(gaps)).band
        bands["union"][epoch] = Estimate((space.mask_union_share, *(m.mask_union_share for m in sets))).band
    return bands


def _union_band(bands: dict[float, float], over_training: dict) -> float:
    """The wider of the union's bands at the first and the last checkpoint (the two compared); NaN
    (not testable) where either was not measured."""
    return wider_at(bands, min(over_training), max(over_training))


def training_claims(plan: Plan, mask_set: Callable | None, over_training: dict, sparse_over_training: dict,
                    seeds_over_training: dict, final_seeds: list, labels: tuple[str, str],
                    sparse_masks: Masks | None) -> tuple[list[tuple[Verdict, str]], dict[float, float]]:
    """Claims 3 and 4 on the dynamics size: ``[(verdict, scope)]`` and claim 3's noise per epoch.

    ``over_training`` and ``sparse_over_training``: epoch -> (space, analysis) under the preset's
    mask rule and the sparse one ({} when the plan has none); ``seeds_over_training``: epoch -> that
    checkpoint's spaces under every pretraining seed the plan computes there; ``final_seeds``: the
    final checkpoint's; ``labels``: the two rules in words. Claim 4's bands come from the plan's
    mask sets where it has them (measured at every checkpoint, under both rules); without them the
    sharing gap's band is the whole replicate spaces' and the union's is borrowed from the final
    checkpoint's seeds, and the verdicts say so."""
    threshold, sparse_rule = labels
    verdicts = []
    noise = {e: replicate_change([an for _, an in runs]) for e, runs in seeds_over_training.items()}
    verdicts.append((settles_beyond_noise({e: an for e, (_, an) in over_training.items()}, noise), threshold))
    final_epoch = max(over_training) if over_training else None
    if plan.mask_sets and over_training:
        own = mask_replicate_bands(plan, mask_set, over_training)
        sparse = (mask_replicate_bands(plan, mask_set, sparse_over_training, sparse_masks)
                  if sparse_over_training else {"gap": {}, "union": {}})
        gap_bands, sparse_gap_bands = own["gap"], sparse["gap"]
        union_band, union_source = _union_band(own["union"], over_training), ""
        sparse_union = (_union_band(sparse["union"], sparse_over_training), "") if sparse_over_training else None
    else:
        gap_bands = {e: Estimate(tuple(mask_sharing_gap(an) for _, an in runs)).band
                     for e, runs in seeds_over_training.items()}
        sparse_gap_bands = {e: float("nan") for e in sparse_over_training}
        union_band = Estimate(tuple(sp.mask_union_share for sp, _ in final_seeds)).band
        union_source = f"the final checkpoint ({final_epoch:g})" if final_epoch is not None else ""
        sparse_union = (union_band, f"the {threshold} rule's replicates at the final checkpoint")
    verdicts.append((sharing_grows_beyond_band({e: mask_sharing_gap(an) for e, (_, an) in over_training.items()},
                                               gap_bands, threshold), threshold))
    if sparse_over_training:
        ends = (min(sparse_over_training), max(sparse_over_training))
        verdicts.append((also(sharing_grows_beyond_band(
            {e: mask_sharing_gap(an) for e, (_, an) in sparse_over_training.items()}, sparse_gap_bands, sparse_rule,
            measured_elsewhere=list(gap_bands.values())),
            coincides({f"epoch {e:g}": (over_training[e][1], sparse_over_training[e][1]) for e in ends})), sparse_rule))
    verdicts.append((region_grows_beyond_band({e: sp.mask_union_share for e, (sp, _) in over_training.items()},
                                              union_band, threshold, band_source=union_source), f"{threshold}, union"))
    if sparse_over_training:
        band, source = sparse_union
        verdicts.append((region_grows_beyond_band({e: sp.mask_union_share for e, (sp, _) in sparse_over_training.items()},
                                                  band, sparse_rule, band_source=source), f"{sparse_rule}, union"))
    return verdicts, noise
