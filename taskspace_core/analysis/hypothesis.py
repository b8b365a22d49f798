"""The hypothesis space and how a task space is compared with it.

The hypothesis space H is what a linguist predicts: H[p, q] = 1 if paradigms p and q belong to
the same phenomenon, else 0 (12 phenomena, or BLiMP's 13 labels).

Comparisons use only the off-diagonal entries (each unordered pair once):

- Pearson and Spearman correlation between a similarity matrix S and H;
- a **Mantel test**: the p-value of that correlation under random relabelling of the paradigms
  (rows and columns of S permuted together), which respects the dependence between entries
  that share a paradigm; a plain correlation test would not;
- a **partial Mantel test** of S against H controlling for one or more further matrices
  (lexical overlap; lexical and critical-word overlap together): is the task space organised
  by phenomenon beyond the vocabulary paradigms share?
- **within-phenomenon similarity**: per phenomenon, the mean ± std of S over its pairs of
  paradigms, in the layout of the paper's table, plus the between-phenomenon mean.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..corpora.benchmarks import phenomenon_of
from .memo import Memo, code_fingerprint, memo_key
from .similarity import pearson

# a phenomenon (or a pair of paradigms) at or above this similarity counts as "highly similar": the
# claims' rule for claim 2, RQ1's pattern A/B (its notebook parameter pattern_high defaults to it)
HIGH_WITHIN = 0.3


def hypothesis_matrix(paradigms: list[str], taxonomy: str = "12") -> np.ndarray:
    """(n, n) 1.0 where two paradigms share a phenomenon, else 0.0."""
    labels = np.array([phenomenon_of(p, taxonomy) for p in paradigms])
    return (labels[:, None] == labels[None, :]).astype(float)


def off_diagonal(matrix: np.ndarray) -> np.ndarray:
    """The strict upper triangle as a vector (each unordered pair once)."""
    return matrix[np.triu_indices(matrix.shape[0], k=1)]


def correlations(similarity: np.ndarray, hypothesis: np.ndarray) -> dict[str, float]:
    """Pearson and Spearman correlation of the off-diagonal entries (NaN when either is constant)."""
    s, h = off_diagonal(similarity), off_diagonal(hypothesis)
    return {"pearson": pearson(s, h), "spearman": pearson(rankdata(s), rankdata(h))}


def rankdata(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties given their average rank (as for Spearman's rho)."""
    return pd.Series(values).rank(method="average").to_numpy()


def _ranks(matrix: np.ndarray) -> np.ndarray:
    """The matrix with its off-diagonal entries replaced by their ranks (Spearman-Mantel)."""
    out = np.zeros_like(matrix, dtype=float)
    iu = np.triu_indices(matrix.shape[0], k=1)
    out[iu] = rankdata(matrix[iu])
    return out + out.T


def _residual_rows(rows: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Each row of ``rows`` (k, m) minus its least-squares fit on ``x``, with intercept: ``x`` is one
    control (m,) or several side by side (m, c)."""
    centred = rows - rows.mean(1, keepdims=True)
    if x.ndim == 2:
        xc = x - x.mean(0)
        # (k, c) coefficients; pinv: a constant or duplicated control explains nothing more
        beta = (centred @ xc) @ np.linalg.pinv(xc.T @ xc)
        return centred - beta @ xc.T
    xc = x - x.mean()
    denominator = xc @ xc
    if denominator == 0:  # a constant control explains nothing beyond the intercept
        return centred
    return centred - np.outer(centred @ xc / denominator, xc)


def _standardised_association(rows: np.ndarray, h: np.ndarray, control: np.ndarray | None) -> np.ndarray:
    """(k,) Pearson r of each row of ``rows`` (k, m) with standardised ``h`` (after the control)."""
    scale = rows.std(1)
    if control is not None:
        rows = _residual_rows(rows, control)
    sd = rows.std(1)
    ok = sd > 1e-9 * scale  # no variation left (e.g. all explained by the control): no association
    r = ((rows - rows.mean(1, keepdims=True)) / np.where(ok, sd, 1.0)[:, None] * h).mean(1)
    return np.where(ok, r, 0.0)


@dataclass(frozen=True)
class MantelResult:
    """A Mantel test: the observed statistic, its one-sided p-value and the permutations behind it."""

    r: float
    p: float  # (1 + #{r_perm >= r}) / (1 + permutations); NaN with no permutations
    permutations: int


def mantel(similarity: np.ndarray, hypothesis: np.ndarray, permutations: int = 9999, seed: int = 0,
           method: str = "pearson", control: np.ndarray | list[np.ndarray] | None = None,
           chunk: int = 500) -> MantelResult:
    """Mantel test (one-sided, H1: positive association); partial Mantel if ``control`` is given
    (one (n, n) matrix, or a list of them, all controlled for together).

    Returns ``r`` (the observed statistic) and ``p`` = (1 + #{r_perm >= r}) / (1 + permutations).
    Permutations are evaluated ``chunk`` at a time as one array operation.
    """
    controls = [] if control is None else (list(control) if isinstance(control, list) else [control])
    if method == "spearman":
        similarity, hypothesis = _ranks(similarity), _ranks(hypothesis)
        controls = [_ranks(m) for m in controls]
    n = similarity.shape[0]
    iu = np.triu_indices(n, k=1)
    h = hypothesis[iu].astype(float)
    c = None  # the controls' off-diagonal entries: (pairs,) for one, (pairs, controls) for several
    if controls:
        c = controls[0][iu].astype(float) if len(controls) == 1 else np.stack([m[iu].astype(float) for m in controls], 1)
    if c is not None:
        h = _residual_rows(h[None], c)[0]
    h = (h - h.mean()) / (h.std() or 1.0)
    observed = float(_standardised_association(similarity[iu][None], h, c)[0])
    if permutations <= 0:
        return MantelResult(observed, float("nan"), 0)
    rng = np.random.default_rng(seed)
    perms = np.stack([rng.permutation(n) for _ in range(permutations)])  # (P, n): relabellings of paradigms
    exceed = 0
    for start in range(0, permutations, chunk):
        p = perms[start : start + chunk]
        permuted = similarity[p[:, iu[0]], p[:, iu[1]]]  # (chunk, m): upper triangle of S[perm][:, perm]
        exceed += int((_standardised_association(permuted, h, c) >= observed - 1e-12).sum())
    return MantelResult(observed, (1 + exceed) / (1 + permutations), permutations)


@functools.cache
def _mantel_code() -> str:
    return code_fingerprint(mantel, _standardised_association, _residual_rows, _ranks)


def memoised_mantel(memo: Memo | None, similarity: np.ndarray, hypothesis: np.ndarray, permutations: int,
                    seed: int, method: str, control: np.ndarray | list[np.ndarray] | None = None) -> MantelResult:
    """:func:`mantel`, looked up in ``memo`` (see memo.py) by its inputs and its code; computed on a miss."""
    if memo is None:
        return mantel(similarity, hypothesis, permutations, seed, method, control)
    key = memo_key("mantel", _mantel_code(), similarity, hypothesis, permutations, seed, method, control)
    return MantelResult(**memo.get(key, lambda: asdict(mantel(similarity, hypothesis, permutations, seed, method,
                                                                    control)), what="a Mantel test"))


def _pair_labels(paradigms: list[str], taxonomy: str):
    """Each paradigm's phenomenon, the upper triangle's indices, and which of its pairs share one."""
    labels = np.array([phenomenon_of(p, taxonomy) for p in paradigms])
    iu = np.triu_indices(len(paradigms), k=1)
    return labels, iu, labels[iu[0]] == labels[iu[1]]


def _summary_row(name: str, n_paradigms: int, values: np.ndarray) -> dict:
    """``values``: (pairs,) or (k, pairs), k values per pair of paradigms, pooled for mean and std."""
    pooled = values.ravel()
    return {"phenomenon": name, "n_paradigms": n_paradigms, "n_pairs": values.shape[-1],
            "mean": pooled.mean() if len(pooled) else np.nan, "std": pooled.std() if len(pooled) else np.nan}


def within_phenomenon(similarity: np.ndarray, paradigms: list[str], taxonomy: str = "12") -> pd.DataFrame:
    """Per phenomenon: mean and std of the similarity over its pairs of paradigms (the paper's table).

    One row per phenomenon, indexed by its label: ``n_paradigms``, ``n_pairs``, ``mean``, ``std``.
    A phenomenon with two paradigms has a single pair, so its std is 0; with one, NaN.
    ``similarity`` may also be a stack (k, n, n) of matrices, e.g. the row- and the column-profile
    similarity: each pair then gives k values, all pooled, so a two-paradigm phenomenon has a std.
    """
    labels, iu, same = _pair_labels(paradigms, taxonomy)
    values = similarity[..., iu[0], iu[1]]  # (pairs,) or (k, pairs)
    rows = [_summary_row(label, int((labels == label).sum()), values[..., same & (labels[iu[0]] == label)])
            for label in sorted(set(labels))]
    return pd.DataFrame(rows).set_index("phenomenon")


def within_between(similarity: np.ndarray, paradigms: list[str], taxonomy: str = "12") -> pd.DataFrame:
    """Two rows, ``within`` (all pairs of paradigms from the same phenomenon) and ``between`` (all
    pairs from different ones), with the columns of :func:`within_phenomenon`."""
    _, iu, same = _pair_labels(paradigms, taxonomy)
    values = similarity[iu]
    rows = [_summary_row(name, len(paradigms), values[pick]) for name, pick in (("within", same), ("between", ~same))]
    return pd.DataFrame(rows).set_index("phenomenon")


@dataclass(frozen=True)
class Comparison:
    """One similarity matrix against the hypothesis space (off-diagonal entries, each pair once)."""

    pearson: float
    spearman: float
    mantel_pearson: MantelResult
    mantel_spearman: MantelResult
    within_mean: float  # mean similarity of pairs from the same phenomenon
    between_mean: float  # ... and from different phenomena
    # with a control matrix (lexical overlap): its own correlations, and the partial Mantel test
    control_vs_hypothesis: float | None = None
    similarity_vs_control: float | None = None
    partial_mantel_pearson: MantelResult | None = None
    # with a second control (critical-word overlap) as well: its correlations, and the partial
    # Mantel test controlling for both controls together
    second_control_vs_hypothesis: float | None = None
    similarity_vs_second_control: float | None = None
    partial_mantel_both: MantelResult | None = None


def compare(similarity: np.ndarray, paradigms: list[str], taxonomy: str = "12", permutations: int = 9999,
            seed: int = 0, control: np.ndarray | None = None,
            second_control: np.ndarray | None = None, memo: Memo | None = None) -> Comparison:
    """All comparisons of one similarity matrix with the hypothesis space (Mantel tests looked up
    in ``memo`` when one is given)."""
    hypothesis = hypothesis_matrix(paradigms, taxonomy)
    summary = within_between(similarity, paradigms, taxonomy)
    correlation = correlations(similarity, hypothesis)
    controlled = {}
    if control is not None:
        controlled = {"control_vs_hypothesis": correlations(control, hypothesis)["pearson"],
                      "similarity_vs_control": correlations(similarity, control)["pearson"],
                      "partial_mantel_pearson": memoised_mantel(memo, similarity, hypothesis, permutations, seed,
                                                                 "pearson", control)}
    if control is not None and second_control is not None:
        controlled |= {"second_control_vs_hypothesis": correlations(second_control, hypothesis)["pearson"],
                       "similarity_vs_second_control": correlations(similarity, second_control)["pearson"],
                       "partial_mantel_both": memoised_mantel(memo, similarity, hypothesis, permutations, seed,
                                                              "pearson", [control, second_control])}
    return Comparison(
        pearson=correlation["pearson"], spearman=correlation["spearman"],
        mantel_pearson=memoised_mantel(memo, similarity, hypothesis, permutations, seed, "pearson"),
        mantel_spearman=memoised_mantel(memo, similarity, hypothesis, permutations, seed, "spearman"),
        within_mean=float(summary.loc["within", "mean"]), between_mean=float(summary.loc["between", "mean"]),
        **controlled)


def within_pairs(similarity: np.ndarray, paradigms: list[str], phenomena: list[str]) -> pd.DataFrame:
    """Every pair of paradigms of the same phenomenon with its similarity, one row each."""
    rows = []
    for i in range(len(paradigms)):
        for j in range(i + 1, len(paradigms)):
            if phenomena[i] == phenomena[j]:
                rows.append({"phenomenon": phenomena[i], "paradigm_a": paradigms[i], "paradigm_b": paradigms[j],
                             "similarity": similarity[i, j]})
    return pd.DataFrame(rows)


def classify_patterns(similarity: np.ndarray, paradigms: list[str], phenomena: list[str],
                      high: float = HIGH_WITHIN, low: float = 0.0) -> pd.DataFrame:
    """The paper's patterns, by a rule we state (the paper gives examples, not a rule).

    Per phenomenon with at least two paradigms, over the similarities of its pairs:
    - **A** (shared): the mean is at least ``high`` and no pair is below ``low``;
    - **B** (partly shared, partly in conflict): some pair reaches ``high`` and some falls below ``low``;
    - **C** (no visible relation): everything else, i.e. no pair reaches ``high``, or the pairs
      are all weakly positive.
    """
    pairs = within_pairs(similarity, paradigms, phenomena)
    rows = []
    for phenomenon, group in pairs.groupby("phenomenon"):
        values = group.similarity.to_numpy()
        if values.mean() >= high and values.min() >= low:
            pattern = "A"
        elif values.max() >= high and values.min() < low:
            pattern = "B"
        else:
            pattern = "C"
        best, worst = group.loc[group.similarity.idxmax()], group.loc[group.similarity.idxmin()]
        rows.append({"phenomenon": phenomenon, "pattern": pattern, "n_pairs": len(values), "mean": values.mean(),
                     "min": values.min(), "max": values.max(),
                     "most_similar": f"{best.paradigm_a} ~ {best.paradigm_b} ({best.similarity:+.2f})",
                     "least_similar": f"{worst.paradigm_a} ~ {worst.paradigm_b} ({worst.similarity:+.2f})"})
    return pd.DataFrame(rows).set_index("phenomenon")
