"""The hypothesis space and how a task space is compared with it.

The hypothesis space H is what a linguist predicts: H[p, q] = 1 if paradigms p and q belong to
the same phenomenon, else 0 (12 phenomena, or BLiMP's 13 labels).

Comparisons use only the off-diagonal entries (each unordered pair once):

- Pearson and Spearman correlation between a similarity matrix S and H;
- a **Mantel test**: the p-value of that correlation under random relabelling of the paradigms
  (rows and columns of S permuted together), which respects the dependence between entries
  that share a paradigm; a plain correlation test would not;
- a **partial Mantel test** of S against H controlling for a third matrix (lexical overlap):
  is the task space organised by phenomenon beyond the vocabulary paradigms share?
- **within-phenomenon similarity**: per phenomenon, the mean ± std of S over its pairs of
  paradigms, in the layout of the paper's table, plus the between-phenomenon mean.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .blimp import phenomenon_of


def hypothesis_matrix(paradigms: list[str], taxonomy: str = "12") -> np.ndarray:
    """(n, n) 1.0 where two paradigms share a phenomenon, else 0.0."""
    labels = np.array([phenomenon_of(p, taxonomy) for p in paradigms])
    return (labels[:, None] == labels[None, :]).astype(float)


def off_diagonal(matrix: np.ndarray) -> np.ndarray:
    """The strict upper triangle as a vector (each unordered pair once)."""
    return matrix[np.triu_indices(matrix.shape[0], k=1)]


def correlations(similarity: np.ndarray, hypothesis: np.ndarray) -> dict[str, float]:
    """Pearson and Spearman correlation of the off-diagonal entries."""
    s, h = off_diagonal(similarity), off_diagonal(hypothesis)
    if s.std() == 0 or h.std() == 0:
        return {"pearson": float("nan"), "spearman": float("nan")}
    return {"pearson": float(np.corrcoef(s, h)[0, 1]), "spearman": float(np.corrcoef(rankdata(s), rankdata(h))[0, 1])}


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
    """Each row of ``rows`` (k, m) minus its least-squares fit on ``x`` (m,), with intercept."""
    centred = rows - rows.mean(1, keepdims=True)
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


def mantel(similarity: np.ndarray, hypothesis: np.ndarray, permutations: int = 9999, seed: int = 0,
           method: str = "pearson", control: np.ndarray | None = None, chunk: int = 500) -> dict[str, float]:
    """Mantel test (one-sided, H1: positive association); partial Mantel if ``control`` is given.

    Returns ``r`` (the observed statistic) and ``p`` = (1 + #{r_perm >= r}) / (1 + permutations).
    Permutations are evaluated ``chunk`` at a time as one array operation.
    """
    if method == "spearman":
        similarity, hypothesis = _ranks(similarity), _ranks(hypothesis)
        control = _ranks(control) if control is not None else None
    n = similarity.shape[0]
    iu = np.triu_indices(n, k=1)
    h = hypothesis[iu].astype(float)
    c = control[iu].astype(float) if control is not None else None
    if c is not None:
        h = _residual_rows(h[None], c)[0]
    h = (h - h.mean()) / (h.std() or 1.0)
    observed = float(_standardised_association(similarity[iu][None], h, c)[0])
    if permutations <= 0:
        return {"r": observed, "p": float("nan"), "permutations": 0}
    rng = np.random.default_rng(seed)
    perms = np.stack([rng.permutation(n) for _ in range(permutations)])  # (P, n): relabellings of paradigms
    exceed = 0
    for start in range(0, permutations, chunk):
        p = perms[start : start + chunk]
        permuted = similarity[p[:, iu[0]], p[:, iu[1]]]  # (chunk, m): upper triangle of S[perm][:, perm]
        exceed += int((_standardised_association(permuted, h, c) >= observed - 1e-12).sum())
    return {"r": observed, "p": (1 + exceed) / (1 + permutations), "permutations": permutations}


def within_phenomenon(similarity: np.ndarray, paradigms: list[str], taxonomy: str = "12") -> pd.DataFrame:
    """Per phenomenon: mean and std of the similarity over its pairs of paradigms.

    One row per phenomenon (``n_paradigms``, ``n_pairs``, ``mean``, ``std``), then a row
    ``between`` over all pairs from different phenomena and a row ``within`` over all pairs
    from the same one. A phenomenon with two paradigms has a single pair, so its std is 0.
    """
    labels = np.array([phenomenon_of(p, taxonomy) for p in paradigms])
    iu = np.triu_indices(len(paradigms), k=1)
    values = similarity[iu]
    same = labels[iu[0]] == labels[iu[1]]
    rows = []
    for label in sorted(set(labels)):
        pick = same & (labels[iu[0]] == label)
        rows.append({"phenomenon": label, "n_paradigms": int((labels == label).sum()), "n_pairs": int(pick.sum()),
                     "mean": values[pick].mean() if pick.any() else np.nan,
                     "std": values[pick].std() if pick.any() else np.nan})
    for name, pick in (("within", same), ("between", ~same)):
        rows.append({"phenomenon": name, "n_paradigms": len(paradigms), "n_pairs": int(pick.sum()),
                     "mean": values[pick].mean() if pick.any() else np.nan,
                     "std": values[pick].std() if pick.any() else np.nan})
    return pd.DataFrame(rows).set_index("phenomenon")


def compare(similarity: np.ndarray, paradigms: list[str], taxonomy: str = "12", permutations: int = 9999,
            seed: int = 0, control: np.ndarray | None = None) -> dict:
    """All comparisons of one similarity matrix with the hypothesis space, as a plain dict."""
    hypothesis = hypothesis_matrix(paradigms, taxonomy)
    within = within_phenomenon(similarity, paradigms, taxonomy)
    out = {
        **correlations(similarity, hypothesis),
        "mantel_pearson": mantel(similarity, hypothesis, permutations, seed, "pearson"),
        "mantel_spearman": mantel(similarity, hypothesis, permutations, seed, "spearman"),
        "within_mean": float(within.loc["within", "mean"]),
        "between_mean": float(within.loc["between", "mean"]),
    }
    if control is not None:
        out["control_vs_hypothesis"] = correlations(control, hypothesis)["pearson"]
        out["similarity_vs_control"] = correlations(similarity, control)["pearson"]
        out["partial_mantel_pearson"] = mantel(similarity, hypothesis, permutations, seed, "pearson", control)
    return out


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
                      high: float = 0.3, low: float = 0.0) -> pd.DataFrame:
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
