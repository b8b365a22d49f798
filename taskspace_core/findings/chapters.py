"""What the chapters show beside the claims, built from the plan's spaces by role.

Each function takes the plan (:mod:`taskspace_core.plan.requests`) and a space source
(``spaces(request) -> (space, analysis)``, see :mod:`.evidence`) and returns the tables a chapter
shows, so that a notebook only loads, shows and glues.

    size_steps          RQ2: each size's r and within-similarity over seeds, and each step between sizes
    dynamics_yardsticks RQ3: the noise and band each change over training is read against
    threshold_sweep     the critique: the space under every swept mask rule, by the rule's label
    ftgd_seed_runs      the critique: the space under every FTGD seed, by seed
    depth_profiles      the critique: mask density by depth, per size and over training
    preset_sizes        the critique: every shipped preset's model sizes
    value_range         a column's range in words ("+0.33 to +0.75")
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import PRESETS, load_preset
from ..lm.models import spec_parameters
from ..plan.requests import Plan, Role, SpaceRequest
from ..analysis.claims import mean_over_phenomena, replicate_change, step_statuses
from .evidence import SpaceSource, seed_replicates, split_replicates
from ..analysis.replicates import Estimate
from ..analysis.report import Analysis, depth_profile


def size_steps(replicates: dict[str, list[Analysis]]) -> tuple[dict[str, dict[str, Estimate]], pd.DataFrame]:
    """RQ2: per quantity (r with the hypothesis space, mean within-phenomenon similarity) each
    size's estimate over its pretraining seeds, and one row per quantity and step between
    neighbouring sizes: the difference, the band it is read against and the reading."""
    estimates = {
        "r with hypothesis": {s: Estimate(tuple(an.headline.hypothesis_pearson for an in runs))
                              for s, runs in replicates.items()},
        "mean within-phenomenon similarity": {s: Estimate(tuple(mean_over_phenomena(an.within) for an in runs))
                                              for s, runs in replicates.items()},
    }
    rows = [{"quantity": quantity, "step": f"{a} → {b}", "difference": d, "band": band, "reading": status.value}
            for quantity, by in estimates.items() for a, b, d, band, status in step_statuses(by)]
    return estimates, pd.DataFrame(rows, columns=["quantity", "step", "difference", "band", "reading"])


@dataclass(frozen=True)
class DynamicsYardsticks:
    """What RQ3's changes are read against."""

    split_size: str
    noise: float  # mean Δ between the data-split replicates (claim 3's noise); NaN without them
    splits: int  # how many data splits the noise is measured over
    union_band: float  # range of the masks' union over the size's pretraining seeds (final checkpoint)
    seeds: int  # how many pretraining seeds that band spans


def dynamics_yardsticks(plan: Plan, spaces: SpaceSource, size: str) -> DynamicsYardsticks:
    """RQ3's yardsticks for ``size``: the data-split noise and the union's band over pretraining seeds."""
    splits = [an for _, an in split_replicates(plan, spaces)]
    seeds = [sp for sp, _ in seed_replicates(plan, spaces, size)]
    return DynamicsYardsticks(plan.split_size, replicate_change(splits), len(splits),
                              Estimate(tuple(sp.mask_union_share for sp in seeds)).band, len(seeds))


def threshold_sweep(plan: Plan, spaces: SpaceSource) -> dict[str, tuple]:
    """The critique's mask rules (every swept threshold, then the fixed share): label -> (space, analysis)."""
    return {r.masks.label: spaces(r) for r in plan.find(Role.THRESHOLD_SWEEP) + plan.find(Role.SHARE_SWEEP)}


def ftgd_seed_runs(plan: Plan, spaces: SpaceSource) -> dict[int, tuple]:
    """The critique's FTGD seeds: seed -> (space, analysis)."""
    return {r.ftgd_seed: spaces(r) for r in plan.find(Role.FTGD_SEED)}


def depth_profiles(plan: Plan, spaces: SpaceSource) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Mask density by relative depth: every size's final space (column ``model``: the size), and
    the dynamics size over its checkpoints (``model``: ``epoch E``), with that size's name."""
    config = plan.config
    by_size = pd.concat([depth_profile(spaces(SpaceRequest(Role.FINAL, s))[0], config.size(s).n_layers).assign(model=s)
                         for s in config.sizes])
    tracked = config.chapter_size("dynamics")
    layers = config.size(tracked).n_layers
    over_training = pd.concat([depth_profile(spaces(r)[0], layers).assign(model=f"epoch {float(r.checkpoint):g}")
                               for r in plan.find(Role.DYNAMICS)])
    return by_size, over_training, tracked


def preset_sizes(also: str | None = None) -> pd.DataFrame:
    """One row per size of every shipped preset but ``ci`` (and ``also``, if given): preset, size,
    parameters (M)."""
    names = [p for p in PRESETS if p != "ci"]
    names += [also] if also and also not in names else []
    rows = []
    for name in names:
        config = load_preset(name)
        rows += [{"preset": name, "size": s, "parameters (M)": spec_parameters(spec, config.tokenizer.vocab_size) / 1e6}
                 for s, spec in config.sizes.items()]
    return pd.DataFrame(rows)


def value_range(values: pd.Series) -> str:
    """``+0.33 to +0.75`` (one value: ``+0.33``; none: ``not computed``)."""
    if not len(values):
        return "not computed"
    low, high = float(np.min(values)), float(np.max(values))
    return f"{low:+.2f}" if low == high else f"{low:+.2f} to {high:+.2f}"
