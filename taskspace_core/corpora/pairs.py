"""Minimal pairs: the types every benchmark's pairs load into, their hash, and pair-level splits.

A :class:`Paradigm` is one set of minimal pairs that test one contrast (a BLiMP paradigm); a
:class:`Pair` is one grammatical sentence and its ungrammatical twin. Everything downstream
(scoring, FTGD, task spaces) sees only these types, whichever benchmark they came from.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError


@dataclass(frozen=True)
class Pair:
    paradigm: str
    pair_id: int
    good: str
    bad: str


@dataclass(frozen=True)
class Paradigm:
    uid: str
    term: str  # BLiMP's linguistics_term
    pairs: tuple[Pair, ...]
    sha256: str  # of the file's uncompressed bytes


def json_lines(path: Path, text: str):
    """``(line number, record)`` for every non-blank line of a JSON-lines text."""
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(path, f"not valid JSON ({exc.msg})", line=line_no) from None
        yield line_no, record


def file_bytes(path: Path) -> bytes:
    """A data file's uncompressed bytes (gunzipped if ``.gz``)."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(path, f"not a readable gzip file ({exc})") from None
    return raw


def utf8(path: Path, raw: bytes) -> str:
    """``raw`` (read from ``path``) as UTF-8 text, or a DataError naming the file."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not UTF-8 ({exc})") from None


def checked_text(path: Path) -> str:
    """A benchmark file's text: gunzipped if ``.gz``, UTF-8, and, where its folder has a
    ``SHA256SUMS`` naming it, the upstream bytes (the sum is of the uncompressed file)."""
    raw = file_bytes(path)
    sums = path.parent / "SHA256SUMS"
    if sums.is_file():
        expected = dict(reversed(line.split(maxsplit=1)) for line in sums.read_text().splitlines() if line.strip())
        name = path.name.removesuffix(".gz")
        if name in expected and hashlib.sha256(raw).hexdigest() != expected[name].strip():
            raise DataError(path, f"sha256 does not match {sums.name} (the upstream file's)")
    return utf8(path, raw)


def text_hash(text: str, version: str) -> str:
    """The hash of a paradigm read from ``text`` and turned into pairs by a reader at ``version``
    (what it drops and how it normalises), so a change of either changes every key using it."""
    return hashlib.sha256(f"{version}\n{text}".encode()).hexdigest()


def data_hash(paradigms: dict[str, Paradigm]) -> str:
    """A short hash of the paradigm files' contents (order-independent)."""
    text = "\n".join(f"{uid}:{p.sha256}" for uid, p in sorted(paradigms.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def split_pairs(paradigm: Paradigm, n_test: int, n_train: int, seed: int) -> tuple[list[Pair], list[Pair]]:
    """Deterministic, seeded, pair-level split of one paradigm into (train, test).

    The pairs are shuffled by a generator seeded with ``(seed, paradigm)``; the first
    ``n_test`` are the test split and the next ``n_train`` the training split. A pair is a
    unit and is never split; the test split does not depend on ``n_train``.
    """
    n = len(paradigm.pairs)
    if n_test < 0 or n_train < 0 or n_test + n_train > n:
        raise ConfigError(
            f"data.n_test ({n_test}) + data.n_train ({n_train}) must be between 0 and the "
            f"{n} pairs of '{paradigm.uid}'"
        )
    key = int.from_bytes(hashlib.sha256(paradigm.uid.encode()).digest()[:4], "little")
    order = np.random.default_rng([seed, key]).permutation(n)
    test = [paradigm.pairs[i] for i in order[:n_test]]
    train = [paradigm.pairs[i] for i in order[n_test : n_test + n_train]]
    return train, test


def select_pairs(paradigm: Paradigm, split: str, n_test: int, n_train: int, seed: int,
                 max_pairs: int = 0) -> list[Pair]:
    """Pairs of one split (``test``, ``train`` or ``all``), optionally the first ``max_pairs``."""
    if split == "all":
        pairs = list(paradigm.pairs)
    elif split in ("train", "test"):
        train, test = split_pairs(paradigm, n_test, n_train, seed)
        pairs = train if split == "train" else test
    else:
        raise ConfigError(f"unknown split '{split}' (choose test, train or all)")
    return pairs[:max_pairs] if max_pairs > 0 else pairs


# --------------------------------------------------------------------------- how a pair's sentences differ

_TOKEN = re.compile(r"[A-Za-z']+|[^\sA-Za-z']")  # words, and each punctuation mark on its own


def difference_kind(good: str, bad: str) -> str:
    """How two sentences of a minimal pair differ, word by word.

    ``"insertion/deletion"`` (different lengths), ``"reordering"`` (the same words in another
    order), or ``"substitution of N word(s)"`` (same length, N positions differ).
    """
    g, b = _TOKEN.findall(good), _TOKEN.findall(bad)
    if len(g) != len(b):
        return "insertion/deletion"
    if sorted(g) == sorted(b):
        return "reordering"
    return f"substitution of {sum(x != y for x, y in zip(g, b))} word(s)"


