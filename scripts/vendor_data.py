"""Vendor BLiMP and a children's-book corpus subset into ``data/`` (run once by maintainers).

Usage::

    python scripts/vendor_data.py --blimp SRC_BLIMP_DIR --corpus SRC_GUTENBERG_DIR [--words N]

BLiMP: every ``<UID>.jsonl`` is gzip-compressed byte for byte (mtime 0, so the output is
reproducible) into ``data/blimp/<UID>.jsonl.gz``; README and LICENSE are copied.

Corpus: books are taken round-robin over author folders (each author's books in a fixed,
hash-shuffled order, books over 150k words skipped) until ``--words`` body words are
reached. This keeps the subset diverse instead of dominated by Alger's 89 books. The raw
Project Gutenberg files (header and licence included; the code strips them) are written
gzip-compressed to ``data/corpus/texts/`` with a ``manifest.tsv`` of sha256 checksums.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import shutil
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def gzip_bytes(data: bytes, dest: Path) -> None:
    with open(dest, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        gz.write(data)


def vendor_blimp(src: Path) -> None:
    out = REPO / "data" / "blimp"
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(src.glob("*.jsonl"))
    assert len(files) == 67, f"expected 67 paradigm files in {src}, found {len(files)}"
    for f in files:
        gzip_bytes(f.read_bytes(), out / (f.name + ".gz"))
    for extra in ("README.md", "LICENSE"):
        shutil.copy(src / extra, out / {"README.md": "SOURCE.md"}.get(extra, extra))
    print(f"vendored {len(files)} BLiMP paradigms into {out}")


def vendor_corpus(src: Path, target_words: int) -> None:
    with open(src / "manifest.tsv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    by_author: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if int(row["words"]) > 150_000:
            continue
        by_author[row["source_path"].split("/")[0]].append(row)
    for books in by_author.values():
        books.sort(key=lambda r: hashlib.sha256(r["file"].encode()).hexdigest())
    chosen, total = [], 0
    authors = sorted(by_author)
    while total < target_words and any(by_author.values()):
        for author in authors:
            if by_author[author] and total < target_words:
                row = by_author[author].pop(0)
                chosen.append(row)
                total += int(row["words"])
    out = REPO / "data" / "corpus"
    texts = out / "texts"
    if texts.exists():
        shutil.rmtree(texts)
    texts.mkdir(parents=True)
    lines = ["file\tpg_ebook\ttitle\tauthor\tbody_words\traw_bytes\tsha256_raw"]
    for row in sorted(chosen, key=lambda r: int(r["pg_ebook"])):
        raw = (src / "texts" / row["file"]).read_bytes()
        gzip_bytes(raw, texts / (row["file"] + ".gz"))
        lines.append("\t".join([row["file"] + ".gz", row["pg_ebook"], row["title"].replace("\t", " "),
                                row["author"].replace("\t", " "), row["words"], str(len(raw)),
                                hashlib.sha256(raw).hexdigest()]))
    (out / "manifest.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"vendored {len(chosen)} books, {total:,} body words, into {texts}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blimp", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--words", type=int, default=1_300_000)
    args = parser.parse_args()
    vendor_blimp(args.blimp)
    vendor_corpus(args.corpus, args.words)
