"""From a computed task space to the numbers the book and the CLI report.

:func:`analyse` builds the similarity matrices (transfer, mask overlap, lexical overlap),
compares them with the hypothesis space, and :func:`write_report` stores the tables next to
the job results, each file carrying the config and store key it came from.
"""

from __future__ import annotations

import functools
import gzip
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Config, to_dict
from ..corpora import benchmarks
from ..provenance import atomic_write_bytes, atomic_write_json, provenance
from .hypothesis import Comparison, compare, hypothesis_matrix, within_between, within_phenomenon
from .memo import Memo
from .similarity import critical_overlap, lexical_overlap, offdiag_pearson, transfer_similarity
from .space import TaskSpace


@dataclass(frozen=True)
class Headline:
    """The few numbers of one task space that the CLI prints and the book quotes."""

    n_paradigms: int
    eval1_accuracy: float  # mean over paradigms of the base model's test accuracy
    mask_share_mean: float  # share of parameters in a source's FTGD mask: mean, min, max over sources
    mask_share_min: float
    mask_share_max: float
    mask_union_share: float  # share of parameters in at least one mask
    diagonal_transfer: dict[str, float]  # metric -> mean self-transfer T[p, p]
    off_diagonal_transfer: dict[str, float]  # metric -> mean T[p, q], p != q
    hypothesis_pearson: float  # transfer similarity vs the hypothesis space
    hypothesis_spearman: float
    mantel_p: float
    partial_mantel_r: float  # ... controlling for lexical overlap
    partial_mantel_p: float
    partial_mantel_both_r: float  # ... controlling for lexical and critical-word overlap together
    partial_mantel_both_p: float
    within_mean: float  # mean similarity within phenomena, and between them
    between_mean: float
    mask_overlap_pearson: float  # mask overlap (Jaccard) vs the hypothesis space
    mask_overlap_mantel_p: float


@dataclass(frozen=True)
class Analysis:
    """Similarity matrices of one task space and their comparison with the hypothesis space."""

    similarity: np.ndarray  # (n, n) from transfers, per config.space (metric, similarity)
    mask_overlap: np.ndarray  # (n, n) Jaccard of FTGD masks
    lexical: np.ndarray  # (n, n) Jaccard of word types (the control)
    critical: np.ndarray  # (n, n) weighted Jaccard of the words the pairs differ in (the second control)
    hypothesis: np.ndarray  # (n, n) same phenomenon = 1
    within: pd.DataFrame  # per phenomenon: mean/std of ``similarity`` over its pairs of paradigms
    within_summary: pd.DataFrame  # rows "within" and "between": all same-phenomenon pairs, all others
    mask_within: pd.DataFrame  # the same two tables for ``mask_overlap``
    mask_within_summary: pd.DataFrame
    comparison: Comparison  # transfer similarity vs hypothesis space (with both controls)
    mask_comparison: Comparison  # mask overlap vs hypothesis space
    headline: Headline
    # the sensitivity variant: per phenomenon, the row-profile and the column-profile similarity
    # of each pair pooled (two values a pair, so a two-paradigm phenomenon has a std too)
    directional_within: pd.DataFrame

    def within_table(self) -> pd.DataFrame:
        """The per-phenomenon table with the ``within`` and ``between`` rows under it (the files' layout)."""
        return pd.concat([self.within, self.within_summary])


def _masked_share(space: TaskSpace, by: list[str]) -> pd.DataFrame:
    """Parameters and masked entries summed over the mask table's rows per ``by``, and their share."""
    grouped = space.mask_tables.groupby(by, as_index=False)[["numel", "n_masked"]].sum()
    return grouped.assign(density=grouped.n_masked / grouped.numel)


def layer_density(space: TaskSpace) -> pd.DataFrame:
    """Per source, layer and component: the share of parameters in the mask."""
    return _masked_share(space, ["source", "layer", "component"])


def depth_profile(space: TaskSpace, n_layers: int) -> pd.DataFrame:
    """Per layer: the share of its parameters in the masks (summed over sources), at a relative depth.

    Blocks sit at (layer + 0.5) / n_layers; the embeddings (layer < 0) at -0.1 and the final
    norm and head (layer >= n_layers) at 1.1, so one axis holds models of any depth.
    """
    dens = _masked_share(space, ["layer"])
    depth = np.where(dens.layer < 0, -0.1, np.where(dens.layer >= n_layers, 1.1, (dens.layer + 0.5) / n_layers))
    return dens.assign(depth=depth)


def component_density(space: TaskSpace) -> pd.DataFrame:
    """Per component (attention, MLP, embeddings, norms): parameters, masked entries (summed over
    sources) and their share."""
    return _masked_share(space, ["component"])


def analyse(space: TaskSpace, config: Config, memo: Memo | None = None) -> Analysis:
    """Every comparison of ``space`` under ``config.space`` (metric, similarity, permutations);
    the Mantel tests are looked up in ``memo`` when one is given (see memo.py), and it is flushed."""
    s, taxonomy = config.space, config.data.taxonomy
    names = space.paradigms
    transfer = space.transfer[s.metric]
    # (2, n, n) row- and column-profile similarity: the directional variant, and their mean is
    # the default "profile" similarity, so each is computed once
    directional = np.stack([transfer_similarity(transfer, kind) for kind in ("rows", "columns")])
    similarity = directional.mean(0) if s.similarity == "profile" else transfer_similarity(transfer, s.similarity)
    lexical, critical = vocabulary_controls(config.data, tuple(names))
    overlap = space.mask_overlap
    comparison = compare(similarity, names, taxonomy, s.permutations, s.seed, control=lexical, second_control=critical,
                         memo=memo)
    mask_comparison = compare(overlap, names, taxonomy, s.permutations, s.seed, control=lexical, memo=memo)
    if memo is not None:
        memo.flush()
    diagonal = {m: float(np.mean(np.diag(space.transfer[m]))) for m in space.transfer}
    off = ~np.eye(len(names), dtype=bool)
    headline = Headline(
        n_paradigms=len(names),
        eval1_accuracy=float(space.eval1.accuracy.mean()),
        mask_share_mean=float(space.mask_share.mean()),
        mask_share_min=float(space.mask_share.min()),
        mask_share_max=float(space.mask_share.max()),
        mask_union_share=space.mask_union_share,
        diagonal_transfer=diagonal,
        off_diagonal_transfer={m: float(space.transfer[m][off].mean()) for m in space.transfer},
        hypothesis_pearson=comparison.pearson,
        hypothesis_spearman=comparison.spearman,
        mantel_p=comparison.mantel_pearson.p,
        partial_mantel_r=comparison.partial_mantel_pearson.r,
        partial_mantel_p=comparison.partial_mantel_pearson.p,
        partial_mantel_both_r=comparison.partial_mantel_both.r,
        partial_mantel_both_p=comparison.partial_mantel_both.p,
        within_mean=comparison.within_mean,
        between_mean=comparison.between_mean,
        mask_overlap_pearson=mask_comparison.pearson,
        mask_overlap_mantel_p=mask_comparison.mantel_pearson.p,
    )
    return Analysis(similarity, overlap, lexical, critical, hypothesis_matrix(names, taxonomy),
                    within_phenomenon(similarity, names, taxonomy), within_between(similarity, names, taxonomy),
                    within_phenomenon(overlap, names, taxonomy), within_between(overlap, names, taxonomy),
                    comparison, mask_comparison, headline, within_phenomenon(directional, names, taxonomy))


@functools.lru_cache(maxsize=4)  # one book build analyses many spaces of the same paradigms
def vocabulary_controls(data, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The two controls of the partial Mantel tests, (n, n) each: lexical and critical-word overlap."""
    paradigms = benchmarks.load_pairs(data, list(names))
    lexical, critical = lexical_overlap(paradigms, list(names)), critical_overlap(paradigms, list(names))
    lexical.flags.writeable = critical.flags.writeable = False  # shared between analyses: read-only
    return lexical, critical


def dynamics_table(spaces: dict[float, tuple[TaskSpace, Analysis]], meta: dict[float, dict]) -> pd.DataFrame:
    """One row per checkpoint of one size (RQ3): tokens seen, the hypothesis correlation, how far the
    similarity matrix moved since the previous checkpoint and from the final one (off-diagonal
    Pearson r), and the masks' share, union and within/between-phenomenon overlap.

    ``spaces`` and ``meta`` (each checkpoint's ``meta.json``) are keyed by epoch.
    """
    epochs = sorted(spaces)
    final = spaces[epochs[-1]][1].similarity
    rows = []
    for i, e in enumerate(epochs):
        an = spaces[e][1]
        rows.append({
            "epoch": e, "tokens seen": meta[e]["tokens_seen"],
            "r with hypothesis": an.headline.hypothesis_pearson, "Mantel p": an.headline.mantel_p,
            "vs previous checkpoint": offdiag_pearson(spaces[epochs[i - 1]][1].similarity, an.similarity) if i else np.nan,
            "vs final checkpoint": offdiag_pearson(final, an.similarity),
            "parameters updated (mean)": an.headline.mask_share_mean,
            "union of masks": an.headline.mask_union_share,
            "mask overlap within": an.mask_within_summary.loc["within", "mean"],
            "mask overlap between": an.mask_within_summary.loc["between", "mean"],
        })
    return pd.DataFrame(rows).set_index("epoch")


def accuracy_by_phenomenon(spaces: dict, column: str) -> pd.DataFrame:
    """eval1 (base-model) accuracy per phenomenon of several spaces, long: ``column``, phenomenon,
    accuracy; ``spaces`` maps a label (a size, an epoch) that fills ``column`` to a :class:`TaskSpace`."""
    return pd.concat([sp.eval1.assign(phenomenon=sp.phenomena).groupby("phenomenon", as_index=False).accuracy.mean()
                      .assign(**{column: label}) for label, sp in spaces.items()], ignore_index=True)


def size_table(analyses: dict[str, Analysis], parameters_m: dict[str, float]) -> pd.DataFrame:
    """RQ2's table, one row per size: parameters (millions) and the headline numbers of its space."""
    rows = []
    for s, an in analyses.items():
        h = an.headline
        rows.append({"size": s, "parameters (M)": parameters_m[s], "r (Pearson)": h.hypothesis_pearson,
                     "Spearman": h.hypothesis_spearman, "Mantel p": h.mantel_p,
                     "partial r | lexical": h.partial_mantel_r, "within mean": h.within_mean,
                     "between mean": h.between_mean, "parameters updated": h.mask_share_mean,
                     "self-transfer (acc)": h.diagonal_transfer["accuracy"]})
    return pd.DataFrame(rows).set_index("size")


def trend(values: pd.Series) -> str:
    """``"rises"``, ``"falls"`` or ``"is not monotonic"``: how ``values`` move in their order."""
    if values.is_monotonic_increasing:
        return "rises"
    return "falls" if values.is_monotonic_decreasing else "is not monotonic"


def setting_table(default: Analysis, settings: dict[str, Analysis]) -> pd.DataFrame:
    """One row per FTGD setting of one checkpoint (the critique's threshold sweep): the share of
    parameters updated, the masks' union, self-transfer, the hypothesis correlation with its Mantel
    p, and the agreement (off-diagonal Pearson r) of the setting's similarity matrix with ``default``'s."""
    rows = []
    for name, an in settings.items():
        h = an.headline
        rows.append({"setting": name, "parameters updated": h.mask_share_mean, "union of masks": h.mask_union_share,
                     "self-transfer (acc)": h.diagonal_transfer["accuracy"],
                     "r with hypothesis": h.hypothesis_pearson, "Mantel p": h.mantel_p,
                     "agreement with default": offdiag_pearson(default.similarity, an.similarity)})
    return pd.DataFrame(rows).set_index("setting")


def scale_trend(analyses: dict[str, Analysis], parameters_m: dict[str, float]) -> pd.DataFrame:
    """One row per model size (from :func:`size_table`): its parameters (millions), the hypothesis
    correlation and the gap between mean within- and between-phenomenon similarity."""
    table = size_table(analyses, parameters_m)
    return pd.DataFrame({"parameters (M)": table["parameters (M)"], "r with hypothesis": table["r (Pearson)"],
                         "within - between": table["within mean"] - table["between mean"]})


def headline_row(method: str, analysis: Analysis) -> dict[str, str]:
    """One row of RQ1's FTGD-against-plain table: a space's headline numbers, formatted for reading."""
    h = analysis.headline
    return {"method": method, "parameters updated": f"{100 * h.mask_share_mean:.1f}%",
            "self-transfer (accuracy)": f"{h.diagonal_transfer['accuracy']:+.3f}",
            "off-diagonal transfer (margin)": f"{h.off_diagonal_transfer['margin']:+.3f}",
            "within mean": f"{h.within_mean:+.3f}", "between mean": f"{h.between_mean:+.3f}",
            "r with hypothesis": f"{h.hypothesis_pearson:+.3f}", "Mantel p": f"{h.mantel_p:.4f}"}


def write_report(space: TaskSpace, analysis: Analysis, config: Config) -> dict[str, Path]:
    """Write ``transfer.csv.gz``, ``within.csv``, ``masks.csv.gz`` and ``summary.json`` into the store."""
    files = {
        "transfer.csv.gz": space.table().to_csv(index=False, float_format="%.6g"),
        "within.csv": analysis.within_table().to_csv(float_format="%.6g"),
        "masks.csv.gz": layer_density(space).to_csv(index=False, float_format="%.6g"),
    }
    paths = {}
    for filename, text in files.items():
        data = text.encode()
        paths[filename] = space.store_dir / filename
        atomic_write_bytes(paths[filename], gzip.compress(data, mtime=0) if filename.endswith(".gz") else data)
    summary = provenance(kind="task_space_summary", key=space.meta.get("key"), key_hash=space.meta.get("key_hash"),
                         space=asdict(config.space), config=to_dict(config), headline=asdict(analysis.headline),
                         comparison=asdict(analysis.comparison), mask_comparison=asdict(analysis.mask_comparison),
                         run=space.meta)
    paths["summary.json"] = space.store_dir / "summary.json"
    atomic_write_json(paths["summary.json"], summary)
    return paths


def describe(space: TaskSpace, analysis: Analysis, config: Config) -> str:
    """The headline numbers of one task space as a few lines of text (what ``taskspace space`` prints)."""
    h = analysis.headline
    d, o = h.diagonal_transfer, h.off_diagonal_transfer
    lines = [
        f"{h.n_paradigms} paradigms; {space.meta['jobs_computed']} jobs computed, "
        f"{space.meta['jobs_reused']} reused, {space.meta['wall_time_s']:.1f}s",
        f"  method {config.ftgd.method}, mask {config.ftgd.mask_rule} "
        f"(threshold {config.ftgd.threshold:g}, top_fraction {config.ftgd.top_fraction:g}); "
        f"similarity {config.space.similarity} of {config.space.metric} transfers",
        f"  eval1 accuracy {h.eval1_accuracy:.3f}; parameters updated {h.mask_share_mean:.2%} on average "
        f"({h.mask_share_min:.2%}-{h.mask_share_max:.2%}), union {h.mask_union_share:.2%}",
        f"  mean diagonal transfer: accuracy {d['accuracy']:+.3f}, margin {d['margin']:+.3f}, "
        f"effect {d['effect']:+.3f}; off-diagonal: accuracy {o['accuracy']:+.4f}, margin {o['margin']:+.4f}",
        f"  vs hypothesis space: pearson {h.hypothesis_pearson:+.3f}, spearman {h.hypothesis_spearman:+.3f}, "
        f"Mantel p {h.mantel_p:.4f}; controlling for lexical overlap: r {h.partial_mantel_r:+.3f}, "
        f"p {h.partial_mantel_p:.4f}",
    ]
    if config.ftgd.method == "ftgd":  # plain fine-tuning frees every parameter: no masks to compare
        lines.append(f"  mask overlap vs hypothesis space: pearson {h.mask_overlap_pearson:+.3f}, "
                     f"Mantel p {h.mask_overlap_mantel_p:.4f}")
    lines += ["  within-phenomenon similarity:", analysis.within_table().to_string(float_format=lambda x: f"{x:+.3f}")]
    return "\n".join(lines)
