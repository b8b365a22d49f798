"""Pretraining corpus: Gutenberg books -> clean text -> byte-level BPE -> token streams.

The shipped corpora (``data/corpus``, 1.3M words, and ``data/corpus-13m``, 13.4M words) are
subsets of Project Gutenberg children's books, kept as the raw files (gzip- or xz-compressed)
with a ``manifest.tsv`` of checksums. This module:

1. verifies and reads the books, and strips the Project Gutenberg header and licence using
   their markers (:func:`strip_gutenberg`);
2. normalises the text (:func:`normalise`): typographic quotes to ASCII (BLiMP writes
   ``didn't`` with ``'``), illustration tags and ``_italic_`` markers removed, hard-wrapped
   lines joined into one line per paragraph;
3. splits train/validation **by book** under a seed (:func:`split_books`);
4. trains a byte-level BPE tokenizer on the training split and saves it in HF format,
   cached by content hash (:func:`get_tokenizer`);
5. encodes each split into one token stream, books separated by ``<|endoftext|>``, cached as
   ``.npy`` (:func:`get_token_streams`).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import lzma
import random
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from ..config import Config, stable_hash
from ..errors import DataError
from ..paths import REPO_ROOT
from ..provenance import atomic_dir, sha256_bytes

DEFAULT_CORPUS_DIR = REPO_ROOT / "data" / "corpus"
EOT = "<|endoftext|>"  # document separator; also BOS/EOS/PAD of our tokenizers
# Bump when strip_gutenberg/normalise/encode_stream change what they produce: it is part of
# the cache key of tokenizers and token streams, so stale caches are never reused.
TEXT_PIPELINE_VERSION = 2

_START = re.compile(
    r"\*\*\*\s*START OF (?:THE|THIS) PROJECT GUTENBERG E-?BOOK.*?\*\*\*"
    r"|\*END\*?\s*THE SMALL PRINT!.*?\*END\*",
    re.IGNORECASE | re.DOTALL,
)
_END = re.compile(
    r"\*\*\*\s*END OF (?:THE|THIS) PROJECT GUTENBERG E-?BOOK|End of (?:the )?Project Gutenberg",
    re.IGNORECASE,
)
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00a0": " "})
_ILLUSTRATION = re.compile(r"\[Illustration[^\]]*\]", re.IGNORECASE)
_MENTIONS_PG = re.compile(r"project gutenberg|gutenberg\.org", re.IGNORECASE)
_ITALICS = re.compile(r"(?<![\w])_([^_\n]+)_(?![\w])")


@dataclass(frozen=True)
class Book:
    name: str  # file name in the corpus folder
    body: str  # the book body, Project Gutenberg header and licence stripped

    @cached_property
    def text(self) -> str:
        """Normalised body text, one paragraph per line (computed on first use: most runs find
        their token streams cached and never need it)."""
        return normalise(self.body)


def strip_gutenberg(raw: str, name: str) -> str:
    """The book body between the Project Gutenberg header and licence."""
    start = _START.search(raw)
    if start is None:
        raise DataError(name, "no Project Gutenberg START marker ('*** START OF ... ***' or '*END*THE SMALL PRINT!')")
    body = raw[start.end():]
    end = _END.search(body)
    return body[: end.start()] if end else body


def normalise(text: str) -> str:
    """ASCII quotes, no illustration tags or italic underscores, one paragraph per line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_QUOTES)
    text = _ILLUSTRATION.sub(" ", text)
    text = _ITALICS.sub(r"\1", text)
    paragraphs = (" ".join(p.split()) for p in re.split(r"\n\s*\n", text))
    # Producers' notes inside the body ("Project Gutenberg also has an HTML version ...") go
    # too: once the header is cut, no mention of Project Gutenberg may remain.
    return "\n".join(p for p in paragraphs if p and not _MENTIONS_PG.search(p))


def corpus_dir(config: Config) -> Path:
    """``data.corpus_dir``: "" is the shipped ``data/corpus``; a relative path is relative to the
    repository root when it exists there (presets name ``data/corpus-13m``), else to the working
    directory."""
    if not config.data.corpus_dir:
        return DEFAULT_CORPUS_DIR
    path = Path(config.data.corpus_dir).expanduser()
    if not path.is_absolute() and (REPO_ROOT / path).is_dir():
        return REPO_ROOT / path
    return path


def read_manifest(directory: Path) -> list[dict]:
    """Rows of ``manifest.tsv``; each names a file in ``texts/`` (and its sha256 if known)."""
    manifest = directory / "manifest.tsv"
    if not manifest.is_file():
        raise DataError(manifest, "corpus manifest not found")
    with open(manifest, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for line, row in enumerate(rows, start=2):
        if not row.get("file"):
            raise DataError(manifest, "missing file name", line=line, field="file")
    return rows


def load_books(directory: Path) -> tuple[list[Book], str]:
    """All books of a corpus folder, checksum-verified and cleaned, plus the corpus hash."""
    rows = read_manifest(directory)
    books, digests = [], []
    for row in rows:
        path = directory / "texts" / row["file"]
        if not path.is_file():
            raise DataError(path, "listed in manifest.tsv but missing")
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        elif path.suffix == ".xz":
            raw = lzma.decompress(raw)
        digest = sha256_bytes(raw)
        if row.get("sha256_raw") and row["sha256_raw"] != digest:
            raise DataError(path, f"checksum mismatch (manifest {row['sha256_raw'][:12]}, file {digest[:12]})")
        digests.append(f"{row['file']}:{digest}")
        text = raw.decode("utf-8-sig", errors="replace")
        books.append(Book(row["file"], strip_gutenberg(text, str(path))))
    corpus_hash = hashlib.sha256("\n".join(sorted(digests)).encode()).hexdigest()[:16]
    return books, corpus_hash


def split_books(books: list[Book], val_books: int, seed: int) -> tuple[list[Book], list[Book]]:
    """Seeded train/validation split by whole book (no book is in both)."""
    if not 0 < val_books < len(books):
        raise DataError("tokenizer.val_books", f"must be between 1 and {len(books) - 1}, got {val_books}")
    order = sorted(books, key=lambda b: b.name)
    random.Random(seed).shuffle(order)
    return order[val_books:], order[:val_books]


def training_texts(train: list[Book], max_chars: int) -> list[str]:
    """Training book texts, truncated to ``max_chars`` characters in total if it is > 0."""
    if max_chars <= 0:
        return [b.text for b in train]
    texts, left = [], max_chars
    for book in train:
        if left <= 0:
            break
        texts.append(book.text[:left])
        left -= len(texts[-1])
    return texts


def train_tokenizer(texts: list[str], vocab_size: int):
    """Byte-level BPE (GPT-2 style, no prefix space) wrapped as an HF fast tokenizer."""
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[EOT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token=EOT, eos_token=EOT, pad_token=EOT, unk_token=None
    )


@dataclass(frozen=True)
class PreparedCorpus:
    """Everything pretraining needs from the corpus, with its provenance."""

    tokenizer_dir: Path
    train_tokens: np.ndarray  # (n_train_tokens,) uint16/uint32, books separated by EOT
    val_tokens: np.ndarray  # (n_val_tokens,)
    corpus_hash: str  # hash of the raw book files used
    tokenizer_hash: str  # key of the cached tokenizer + streams
    train_books: tuple[str, ...]
    val_books: tuple[str, ...]


def prepare_corpus(config: Config, log=print) -> PreparedCorpus:
    """Tokenizer and token streams for ``config``, trained/encoded once and then cached."""
    books, corpus_hash = load_books(corpus_dir(config))
    train, val = split_books(books, config.tokenizer.val_books, config.tokenizer.corpus_seed)
    key = stable_hash({"tokenizer": config.tokenizer, "corpus": corpus_hash, "text": TEXT_PIPELINE_VERSION})
    out = config.run_dir() / f"tokenizer-{key}"
    if not (out / "train.npy").exists():
        log(f"training a {config.tokenizer.vocab_size}-token BPE on {len(train)} books -> {out}")
        texts = training_texts(train, config.tokenizer.max_train_chars)
        tokenizer = train_tokenizer(texts, config.tokenizer.vocab_size)
        dtype = np.uint16 if len(tokenizer) < 2**16 else np.uint32
        with atomic_dir(out) as tmp:
            tokenizer.save_pretrained(tmp)
            for split, split_texts in (("train", texts), ("val", [b.text for b in val])):
                np.save(tmp / f"{split}.npy", encode_stream(tokenizer, split_texts, dtype))
    return PreparedCorpus(
        tokenizer_dir=out,
        train_tokens=np.load(out / "train.npy"),
        val_tokens=np.load(out / "val.npy"),
        corpus_hash=corpus_hash,
        tokenizer_hash=key,
        train_books=tuple(b.name for b in train),
        val_books=tuple(b.name for b in val),
    )


def encode_stream(tokenizer, texts: list[str], dtype) -> np.ndarray:
    """One token stream: each text's paragraphs, and EOT after every text."""
    eot = tokenizer.convert_tokens_to_ids(EOT)
    newline = tokenizer("\n", add_special_tokens=False)["input_ids"]
    stream: list[int] = []
    for text in texts:
        # Paragraphs are encoded separately (fast, bounded memory) and rejoined by "\n".
        encoded = tokenizer(text.split("\n"), add_special_tokens=False)["input_ids"]
        for i, ids in enumerate(encoded):
            stream.extend(ids)
            if i < len(encoded) - 1:
                stream.extend(newline)
        stream.append(eot)
    return np.asarray(stream, dtype=dtype)
