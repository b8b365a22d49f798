"""Marks a verdict carries beside its reading: here, that a sparse mask rule's spaces nearly
coincide with the threshold rule's, so its verdict is no independent check."""

from __future__ import annotations

import dataclasses

from ..analysis.claims import Verdict
from ..analysis.similarity import offdiag_pearson

COINCIDE_R = 0.99  # a sparse rule whose similarity matrices correlate this well with the threshold's is no independent check


def coincides(pairs: dict[str, tuple]) -> str:
    """A mark for a sparse-rule verdict where its similarity matrices nearly equal the threshold
    rule's at the checkpoints it reads (``pairs``: label -> (threshold analysis, sparse analysis);
    off-diagonal r ≥ ``COINCIDE_R``): everywhere, it is not an independent check; at some, the
    mark names them. "" where they differ everywhere."""
    rs = {label: offdiag_pearson(a.similarity, b.similarity) for label, (a, b) in pairs.items()}
    same = [label for label, r in rs.items() if r >= COINCIDE_R]
    if not same:
        return ""
    if len(same) == len(rs):
        return (f"coincides with the threshold rule (similarity matrices r ≥ {min(rs.values()):.3f} at every "
                "checkpoint it reads): not an independent check")
    return f"coincides with the threshold rule at {', '.join(same)} (r ≥ {COINCIDE_R})"


def also(verdict: Verdict, mark: str) -> Verdict:
    """``verdict`` with ``mark`` added to its marks ("" adds nothing)."""
    return dataclasses.replace(verdict, marks=verdict.marks + (mark,)) if mark else verdict
