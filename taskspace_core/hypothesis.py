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


def _residual(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """y minus its least-squares fit on x (with intercept)."""
    design = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return y - design @ coef


def mantel(similarity: np.ndarray, hypothesis: np.ndarray, permutations: int = 9999, seed: int = 0,
           method: str = "pearson", control: np.ndarray | None = None) -> dict[str, float]:
    """Mantel test (one-sided, H1: positive association); partial Mantel if ``control`` is given.

    Returns ``r`` (the observed statistic) and ``p`` = (1 + #{r_perm >= r}) / (1 + permutations).
    """
    if method == "spearman":
        similarity, hypothesis = _ranks(similarity), _ranks(hypothesis)
        control = _ranks(control) if control is not None else None
    n = similarity.shape[0]
    iu = np.triu_indices(n, k=1)
    h = hypothesis[iu]
    if control is not None:
        c = control[iu]
        h = _residual(h, c)
    h = (h - h.mean()) / (h.std() or 1.0)

    def statistic(s: np.ndarray) -> float:
        scale = s.std()
        if control is not None:
            s = _residual(s, c)
        sd = s.std()
        # no variation left (e.g. all of it explained by the control): no association
        return float(((s - s.mean()) / sd * h).mean()) if sd > 1e-9 * scale else 0.0

    observed = statistic(similarity[iu])
    if permutations <= 0:
        return {"r": observed, "p": float("nan"), "permutations": 0}
    rng = np.random.default_rng(seed)
    exceed = 0
    for _ in range(permutations):
        perm = rng.permutation(n)
        exceed += statistic(similarity[perm][:, perm][iu]) >= observed - 1e-12
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
