"""From a computed task space to the numbers the book and the CLI report.

:func:`analyse` builds the similarity matrices (transfer, mask overlap, lexical overlap),
compares them with the hypothesis space, and :func:`write_report` stores the tables next to
the job results, each file carrying the config and store key it came from.
"""

from __future__ import annotations

import gzip
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import blimp
from .config import Config, to_dict
from .hypothesis import compare, hypothesis_matrix, within_phenomenon
from .probing import TaskSpace
from .provenance import atomic_write_bytes, atomic_write_json, provenance
from .similarity import lexical_overlap, transfer_similarity


@dataclass
class Analysis:
    """Similarity matrices of one task space and their comparison with the hypothesis space."""

    similarity: np.ndarray  # (n, n) from transfers, per config.space (metric, similarity)
    mask_overlap: np.ndarray  # (n, n) Jaccard of FTGD masks
    lexical: np.ndarray  # (n, n) Jaccard of word types (the control)
    hypothesis: np.ndarray  # (n, n) same phenomenon = 1
    within: pd.DataFrame  # per phenomenon mean/std of ``similarity``, + within / between rows
    mask_within: pd.DataFrame  # the same for ``mask_overlap``
    comparison: dict  # transfer similarity vs hypothesis space (with the lexical control)
    mask_comparison: dict  # mask overlap vs hypothesis space
    headline: dict  # the few numbers the CLI prints and the book quotes


def layer_density(space: TaskSpace) -> pd.DataFrame:
    """Per source, layer and component: the share of parameters in the mask."""
    grouped = space.mask_tables.groupby(["source", "layer", "component"], as_index=False)[["numel", "n_masked"]].sum()
    return grouped.assign(density=grouped.n_masked / grouped.numel)


def analyse(space: TaskSpace, config: Config) -> Analysis:
    """Every comparison of ``space`` under ``config.space`` (metric, similarity, permutations)."""
    s, taxonomy = config.space, config.data.taxonomy
    names = space.paradigms
    similarity = transfer_similarity(space.transfer[s.metric], s.similarity)
    paradigms = blimp.load_blimp(config.data.blimp_dir or None, names)
    lexical = lexical_overlap(paradigms, names)
    overlap = space.mask_overlap
    comparison = compare(similarity, names, taxonomy, s.permutations, s.seed, control=lexical)
    mask_comparison = compare(overlap, names, taxonomy, s.permutations, s.seed, control=lexical)
    diagonal = {m: float(np.mean(np.diag(space.transfer[m]))) for m in space.transfer}
    off = ~np.eye(len(names), dtype=bool)
    headline = {
        "n_paradigms": len(names),
        "eval1_accuracy": float(space.eval1.accuracy.mean()),
        "mask_share_mean": float(space.mask_share.mean()),
        "mask_share_min": float(space.mask_share.min()),
        "mask_share_max": float(space.mask_share.max()),
        "mask_union_share": space.mask_union_share,
        "diagonal_transfer": diagonal,
        "off_diagonal_transfer": {m: float(space.transfer[m][off].mean()) for m in space.transfer},
        "hypothesis_pearson": comparison["pearson"],
        "hypothesis_spearman": comparison["spearman"],
        "mantel_p": comparison["mantel_pearson"]["p"],
        "partial_mantel_r": comparison["partial_mantel_pearson"]["r"],
        "partial_mantel_p": comparison["partial_mantel_pearson"]["p"],
        "within_mean": comparison["within_mean"],
        "between_mean": comparison["between_mean"],
        "mask_overlap_pearson": mask_comparison["pearson"],
        "mask_overlap_mantel_p": mask_comparison["mantel_pearson"]["p"],
    }
    return Analysis(similarity, overlap, lexical, hypothesis_matrix(names, taxonomy),
                    within_phenomenon(similarity, names, taxonomy), within_phenomenon(overlap, names, taxonomy),
                    comparison, mask_comparison, headline)


def write_report(space: TaskSpace, analysis: Analysis, config: Config) -> dict[str, Path]:
    """Write ``transfer.csv.gz``, ``within.csv``, ``masks.csv.gz`` and ``summary.json`` into the store."""
    files = {
        "transfer.csv.gz": space.table().to_csv(index=False, float_format="%.6g"),
        "within.csv": analysis.within.to_csv(float_format="%.6g"),
        "masks.csv.gz": layer_density(space).to_csv(index=False, float_format="%.6g"),
    }
    paths = {}
    for filename, text in files.items():
        data = text.encode()
        paths[filename] = space.store_dir / filename
        atomic_write_bytes(paths[filename], gzip.compress(data, mtime=0) if filename.endswith(".gz") else data)
    summary = provenance(kind="task_space_summary", key=space.meta.get("key"), key_hash=space.meta.get("key_hash"),
                         space=asdict(config.space), config=to_dict(config), headline=analysis.headline,
                         comparison=analysis.comparison, mask_comparison=analysis.mask_comparison,
                         run=space.meta)
    paths["summary.json"] = space.store_dir / "summary.json"
    atomic_write_json(paths["summary.json"], summary)
    return paths
