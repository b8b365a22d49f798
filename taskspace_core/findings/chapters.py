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
    similarity_definitions  claim 1 under the chosen and each declared alternative similarity definition
    method_control      FTGD's masks against random masks of the same share (does the selection matter?)
    method_control_text that table's result in words, one paragraph
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import PRESETS, load_preset
from ..lm.models import spec_parameters
from ..plan.requests import Plan, Role, SpaceRequest, mask_label
from ..analysis.claims import step_statuses
from ..analysis.statistics import mask_sharing_gap, mean_over_phenomena, replicate_change
from ..analysis.similarity import offdiag_pearson
from .evidence import SpaceSource, definition_readings, seed_replicates, split_replicates
from ..analysis.replicates import Difference, Estimate, band_for, difference_status
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
    noise: float  # mean Δ between the data-split replicates (context for claim 3); NaN without them
    splits: int  # how many data splits the noise is measured over
    union_band: float  # range of the masks' union over the size's pretraining seeds (final checkpoint)
    seeds: int  # how many pretraining seeds that band spans
    seed_noise: dict  # epoch -> mean Δ between pretraining-seed replicates there (claim 3's noise; NaN: none)
    gap_bands: dict  # epoch -> range over those seeds of the mask overlap within − between phenomena (claim 4)


def dynamics_yardsticks(plan: Plan, spaces: SpaceSource, size: str, epochs: list[float]) -> DynamicsYardsticks:
    """RQ3's yardsticks for ``size`` at ``epochs``: the noise between pretraining seeds and the band of
    the masks' sharing gap at each checkpoint where the plan has seed replicates, the data-split
    noise, and the union's band over pretraining seeds at the final checkpoint."""
    splits = [an for _, an in split_replicates(plan, spaces)]
    seeds = [sp for sp, _ in seed_replicates(plan, spaces, size)]
    by_epoch = {e: seed_replicates(plan, spaces, size, e) for e in epochs}
    return DynamicsYardsticks(plan.split_size, replicate_change(splits), len(splits),
                              Estimate(tuple(sp.mask_union_share for sp in seeds)).band, len(seeds),
                              {e: replicate_change([an for _, an in runs]) for e, runs in by_epoch.items()},
                              {e: Estimate(tuple(mask_sharing_gap(an) for _, an in runs)).band
                               for e, runs in by_epoch.items()})


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


def similarity_definitions(plan: Plan, spaces: SpaceSource) -> pd.DataFrame:
    """Claim 1's sensitivity to the similarity definition, one row per size with an untrained space
    and per definition (the chosen one first): r with the hypothesis space trained (mean over
    pretraining seeds) and untrained, their difference, the band it is read against (the trained
    r's range over seeds, or the widest over the sizes) and the reading."""
    config = plan.config
    untrained = {r.size: spaces(r) for r in plan.find(Role.NULL)}
    final = {s: seed_replicates(plan, spaces, s) for s in config.sizes if s in untrained}
    chosen = {s: (Estimate(tuple(an.headline.hypothesis_pearson for _, an in runs)),
                  Estimate((untrained[s][1].headline.hypothesis_pearson,))) for s, runs in final.items()}
    chosen = {s: (t, u, band_for(t, [t for t, _ in chosen.values()])) for s, (t, u) in chosen.items()}
    readings = {f"chosen ({config.space.similarity})": chosen,
                **definition_readings(config.space.metric, final, untrained)}
    rows = [{"size": size, "definition": name, "r trained": trained.mean, "r untrained": untrained.mean,
             "difference": trained.mean - untrained.mean, "band": band,
             "reading": difference_status(trained.mean - untrained.mean, band).value}
            for name, by_size in readings.items() for size, (trained, untrained, band) in by_size.items()]
    return pd.DataFrame(rows, columns=["size", "definition", "r trained", "r untrained", "difference", "band", "reading"])


OWN_BAND = "its pretraining seeds"  # method_control's "band from" where the rule and size have replicates


def method_control(plan: Plan, spaces: SpaceSource) -> pd.DataFrame:
    """Does FTGD's choice of parameters matter? One row per size of ``book.random_mask_sizes`` and
    mask rule (the preset's; the sparse one too with ``book.random_mask_sparse``): r with the
    hypothesis space under FTGD's masks of that rule (mean over pretraining seeds: the preset's
    rule has them, the sparse rule one run), under random masks of the same per-paradigm share, and
    of the untrained network; FTGD − random against the band of r over pretraining seeds (the
    widest measured under the preset's rule where the rule and size have one run: ``band from``)
    and its reading; the agreement (off-diagonal r) of the two similarity matrices. Empty when the
    plan has no control."""
    rows = []
    measured = [Estimate(tuple(an.headline.hypothesis_pearson for _, an in seed_replicates(plan, spaces, s)))
                for s in plan.config.sizes]
    for request in plan.find(Role.RANDOM_MASKS):
        runs = ([spaces(plan.one(Role.SPARSE, request.size))] if request.masks
                else seed_replicates(plan, spaces, request.size))
        ftgd = Estimate(tuple(an.headline.hypothesis_pearson for _, an in runs))
        _, random = spaces(request)
        null = plan.one(Role.NULL, request.size)
        band = band_for(ftgd, measured)
        own_band = not np.isnan(ftgd.band)
        difference = ftgd.mean - random.headline.hypothesis_pearson
        rows.append({"size": request.size, "mask rule": request.masks.label if request.masks else mask_label(plan.config.ftgd),
                     "r FTGD masks": ftgd.mean, "r random masks": random.headline.hypothesis_pearson,
                     "r untrained": spaces(null)[1].headline.hypothesis_pearson if null else np.nan,
                     "FTGD − random": difference, "band": band, "reading": difference_status(difference, band).value,
                     "band from": (OWN_BAND if own_band
                                   else "the widest over the sizes' pretraining seeds, under the preset's rule"),
                     "within FTGD": runs[0][1].headline.within_mean, "within random": random.headline.within_mean,
                     "agreement of the two spaces": offdiag_pearson(runs[0][1].similarity, random.similarity),
                     "mask share": random.headline.mask_share_mean})
    return pd.DataFrame(rows)


CONTROL_MEANING = {
    Difference.ABOVE: "FTGD's selection carries resemblance that parameters of the same share, drawn at random, do not",
    Difference.INSIDE: "at this noise level FTGD's selection cannot be told apart from random parameters of the same share",
    Difference.BELOW: "random parameters of the same share give a space closer to the hypothesis space than FTGD's selection",
    Difference.UNKNOWN: "no pretraining-seed band was measured to read the difference against",
}


def method_control_text(control: pd.DataFrame) -> str:
    """:func:`method_control`'s rows in words: each size and rule's three r, the difference, its
    band and what the reading means."""
    sentences = []
    for row in control.to_dict("records"):
        own = row["band from"] == OWN_BAND
        sentences.append(
            f"At the {row['size']} size, under the {row['mask rule']} rule, the task space under FTGD's masks resembles "
            f"the hypothesis space at r = {row['r FTGD masks']:+.3f} ({'mean over pretraining seeds' if own else 'one run'}), "
            f"under random masks of the same per-paradigm share ({row['mask share']:.1%}) at "
            f"r = {row['r random masks']:+.3f}, and the untrained network's at r = {row['r untrained']:+.3f}. "
            f"FTGD − random = {row['FTGD − random']:+.3f}, {row['reading']} of ±{row['band']:.3f} "
            f"({'the spread of r between pretraining seeds' if own else row['band from']}): "
            f"{CONTROL_MEANING[Difference(row['reading'])]}. The two similarity matrices agree at "
            f"r = {row['agreement of the two spaces']:.2f}.")
    return " ".join(sentences)
