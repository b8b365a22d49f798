"""Paradigm-by-paradigm similarity matrices: from transfers, from FTGD masks, from vocabulary.

All three return a symmetric (n, n) matrix with ones on the diagonal, in the paradigm order of
the task space, so they can be compared with each other and with the hypothesis space.

Transfer similarity (``space.similarity``), with T[p, q] the transfer from tuning on p to q:

- ``profile`` (default): the mean of the correlation of p's and q's rows (what tuning on each
  does to every other paradigm) and of their columns (what every other fine-tune does to them).
  Entries p and q themselves are left out of both correlations: the large self-transfer on the
  diagonal would otherwise make every two rows look dissimilar.
- ``rows`` / ``columns``: one of the two correlations alone.
- ``mutual``: (T[p, q] + T[q, p]) / 2, the direct transfer both ways (in the metric's units).
- ``centred``: ``mutual`` after double-centring T's off-diagonal entries: each source's mean
  shift (how much tuning on p moves everything) and each target's mean susceptibility (how much
  q moves under any tuning) removed, so that what remains is the transfer specific to the pair.

A correlation with a constant vector (no variation: no information) counts as 0.

Two vocabulary controls, for the partial Mantel tests: ``lexical_overlap`` (the word types two
paradigms share) and ``critical_overlap`` (the words that actually differ inside their pairs).
"""

from __future__ import annotations

import collections
import difflib
import re

import numpy as np

from ..corpora.blimp import Paradigm


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else 0.0


def _profile_corr(matrix: np.ndarray) -> np.ndarray:
    """(n, n): correlation of rows p and q of ``matrix``, leaving out columns p and q."""
    n = matrix.shape[0]
    out = np.eye(n)
    for p in range(n):
        for q in range(p + 1, n):
            keep = np.ones(n, dtype=bool)
            keep[[p, q]] = False
            out[p, q] = out[q, p] = _corr(matrix[p, keep], matrix[q, keep])
    return out


def transfer_similarity(transfer: np.ndarray, kind: str = "profile") -> np.ndarray:
    """Symmetric similarity of paradigms from a square transfer matrix (see module docstring)."""
    if transfer.ndim != 2 or transfer.shape[0] != transfer.shape[1]:
        raise ValueError(f"transfer must be square, got shape {transfer.shape}")
    if kind == "rows":
        return _profile_corr(transfer)
    if kind == "columns":
        return _profile_corr(transfer.T)
    if kind == "profile":
        return (_profile_corr(transfer) + _profile_corr(transfer.T)) / 2
    if kind in ("mutual", "centred"):
        t = double_centred(transfer) if kind == "centred" else transfer
        out = (t + t.T) / 2
        np.fill_diagonal(out, 1.0)
        return out
    raise ValueError(f"unknown similarity '{kind}' ({', '.join(SIMILARITY_KINDS)})")


SIMILARITY_KINDS = ("profile", "rows", "columns", "mutual", "centred")


def double_centred(transfer: np.ndarray, iterations: int = 1000) -> np.ndarray:
    """T's off-diagonal entries less their best additive fit ``a[p] + b[q]`` (least squares: each
    source's mean shift and each target's mean susceptibility), found by alternately removing row
    and column means until none is left; the diagonal (self-transfer, far larger than any transfer
    and left out of the fit) is kept as it was. With the diagonal missing, one pass of row and
    column means would not remove the additive part exactly."""
    n = transfer.shape[0]
    off = ~np.eye(n, dtype=bool)
    residual = np.where(off, transfer, np.nan).astype(float)
    for _ in range(iterations):
        rows = np.nanmean(residual, axis=1, keepdims=True)
        residual = residual - rows
        columns = np.nanmean(residual, axis=0, keepdims=True)
        residual = residual - columns
        if max(np.abs(rows).max(), np.abs(columns).max()) < 1e-12:
            break
    return np.where(off, residual, transfer)


def mask_jaccard(masks: np.ndarray, chunk: int = 1 << 20) -> np.ndarray:
    """(n, n) Jaccard overlap |m_p & m_q| / |m_p | m_q| of boolean masks ``(n, n_parameters)``."""
    n = masks.shape[0]
    inter = np.zeros((n, n))
    for start in range(0, masks.shape[1], chunk):  # chunks keep the float copy small
        block = masks[:, start : start + chunk].astype(np.float32)
        inter += block @ block.T
    sizes = np.diag(inter).copy()
    union = sizes[:, None] + sizes[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(union > 0, inter / union, 0.0)
    np.fill_diagonal(out, 1.0)
    return out


_WORD = re.compile(r"[a-z']+")


def word_types(paradigm: Paradigm) -> set[str]:
    """Lower-cased word types of all sentences of a paradigm (good and bad)."""
    words: set[str] = set()
    for pair in paradigm.pairs:
        words.update(_WORD.findall(pair.good.lower()))
        words.update(_WORD.findall(pair.bad.lower()))
    return words


def lexical_overlap(paradigms: dict[str, Paradigm], names: list[str]) -> np.ndarray:
    """(n, n) Jaccard similarity of the paradigms' word types: the lexical-overlap control."""
    types = [word_types(paradigms[name]) for name in names]
    n = len(names)
    out = np.eye(n)
    for p in range(n):
        for q in range(p + 1, n):
            out[p, q] = out[q, p] = len(types[p] & types[q]) / max(len(types[p] | types[q]), 1)
    return out


def critical_words(good: str, bad: str) -> list[str]:
    """The words (lower-cased) where the two sentences of a minimal pair differ: everything inside
    the non-matching stretches of a word-level alignment (difflib), from both sentences. A
    substitution gives both words, a reordering the words that moved, an insertion the inserted ones."""
    g, b = _WORD.findall(good.lower()), _WORD.findall(bad.lower())
    words = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=g, b=b, autojunk=False).get_opcodes():
        if tag != "equal":
            words += g[i1:i2] + b[j1:j2]
    return words


def critical_counts(paradigm: Paradigm) -> collections.Counter:
    """How often each word is critical (:func:`critical_words`) over all of a paradigm's pairs."""
    return collections.Counter(w for pair in paradigm.pairs for w in critical_words(pair.good, pair.bad))


def critical_overlap(paradigms: dict[str, Paradigm], names: list[str]) -> np.ndarray:
    """(n, n) weighted Jaccard (sum of minima over sum of maxima) of the paradigms' critical-word
    counts: the control for two paradigms that turn on the same tokens (e.g. *himself* / *herself*),
    whatever else their sentences share. Counts, not sets: a word critical in every pair weighs
    more than one critical once."""
    counts = [critical_counts(paradigms[name]) for name in names]
    n = len(names)
    out = np.eye(n)
    for p in range(n):
        for q in range(p + 1, n):
            shared = sum(min(c, counts[q][w]) for w, c in counts[p].items() if w in counts[q])
            total = sum(counts[p].values()) + sum(counts[q].values()) - shared
            out[p, q] = out[q, p] = shared / total if total else 0.0
    return out


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of two vectors; NaN when either is constant (undefined, not zero)."""
    if np.std(x) == 0 or np.std(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def offdiag_pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of the off-diagonal entries of two square matrices (e.g. two task spaces'
    similarity matrices); NaN when either has constant off-diagonal entries."""
    mask = ~np.eye(a.shape[0], dtype=bool)
    return pearson(a[mask], b[mask])
