"""Vendor BLiMP, Zorro, CLAMS English and a children's-book corpus subset into ``data/`` (run
once by maintainers).

Usage::

    python scripts/vendor_data.py --zorro SRC_ZORRO_DIR --clams SRC_CLAMS_DIR

    python scripts/vendor_data.py --blimp SRC_BLIMP_DIR --corpus SRC_GUTENBERG_DIR [--words N]
    python scripts/vendor_data.py --corpus SRC_GUTENBERG_DIR --words 13400000 --max-author-share 0.15 \
        --compress xz --out data/corpus-13m       # the ten-times corpus of the tiny and cpu presets

BLiMP: every ``<UID>.jsonl`` is gzip-compressed byte for byte (mtime 0, so the output is
reproducible) into ``data/blimp/<UID>.jsonl.gz``; README and LICENSE are copied.

Corpus: books are taken round-robin over author folders (each author's books in a fixed,
hash-shuffled order, books over 150k words skipped) until ``--words`` body words are
reached. This keeps the subset diverse instead of dominated by Alger's 89 books; with
``--max-author-share`` an author whose next book would take them past that share of
``--words`` is passed over (needed once the subset is most of the collection, where the
round-robin's last rounds hold only the few most prolific authors). The raw Project Gutenberg
files (header and licence included; the code strips them) are written compressed (gzip, or xz
with ``--compress xz``, about 30% smaller) to ``<out>/texts/`` with a ``manifest.tsv`` of
sha256 checksums of the uncompressed files.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import lzma
import shutil
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def gzip_bytes(data: bytes, dest: Path) -> None:
    with open(dest, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        gz.write(data)


def xz_bytes(data: bytes, dest: Path) -> None:
    dest.write_bytes(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))


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


def vendor_pairs_files(src: Path, name: str, pattern: str, compress: bool) -> None:
    """Zorro (``*.txt``, gzip-compressed here) or CLAMS English (``*.txt.gz``, copied as they come)
    into ``data/<name>``, with the LICENSE and a ``SHA256SUMS`` of every uncompressed file (the
    upstream bytes, checked by the loaders)."""
    out = REPO / "data" / name
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(src.glob(pattern))
    assert files, f"no {pattern} files in {src}"
    sums = []
    for f in files:
        raw = f.read_bytes() if compress else gzip.decompress(f.read_bytes())
        if compress:
            gzip_bytes(raw, out / (f.name + ".gz"))
        else:
            shutil.copy(f, out / f.name)
        sums.append(f"{hashlib.sha256(raw).hexdigest()}  {f.name.removesuffix('.gz')}\n")
    (out / "SHA256SUMS").write_text("".join(sums))
    shutil.copy(src / "LICENSE", out / "LICENSE")
    print(f"vendored {len(files)} files into {out} (SOURCE.md is written by hand)")


def vendor_corpus(src: Path, target_words: int, out: Path, max_author_share: float = 1.0,
                  compress: str = "gz") -> None:
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
    per_author: dict[str, int] = defaultdict(int)
    cap = max_author_share * target_words
    authors = sorted(by_author)
    while total < target_words and any(by_author.values()):
        for author in authors:
            if by_author[author] and total < target_words:
                row = by_author[author].pop(0)
                if per_author[author] + int(row["words"]) > cap:
                    by_author[author].clear()  # this author is at their cap
                    continue
                chosen.append(row)
                total += int(row["words"])
                per_author[author] += int(row["words"])
    texts = out / "texts"
    if texts.exists():
        shutil.rmtree(texts)
    texts.mkdir(parents=True)
    write, suffix = (xz_bytes, ".xz") if compress == "xz" else (gzip_bytes, ".gz")
    lines = ["file\tpg_ebook\ttitle\tauthor\tbody_words\traw_bytes\tsha256_raw"]
    for row in sorted(chosen, key=lambda r: int(r["pg_ebook"])):
        raw = (src / "texts" / row["file"]).read_bytes()
        write(raw, texts / (row["file"] + suffix))
        lines.append("\t".join([row["file"] + suffix, row["pg_ebook"], row["title"].replace("\t", " "),
                                row["author"].replace("\t", " "), row["words"], str(len(raw)),
                                hashlib.sha256(raw).hexdigest()]))
    (out / "manifest.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    top = max(per_author.values()) / total
    print(f"vendored {len(chosen)} books by {len(per_author)} author folders, {total:,} body words "
          f"(largest author share {top:.1%}), into {texts}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blimp", type=Path, help="BLiMP source folder (67 .jsonl files); omit to skip")
    parser.add_argument("--zorro", type=Path, help="Zorro's sentences/babyberta folder (23 .txt files and LICENSE); omit to skip")
    parser.add_argument("--clams", type=Path, help="CLAMS English (22 .txt.gz files and LICENSE); omit to skip")
    parser.add_argument("--corpus", type=Path, help="a folder of Gutenberg author folders; omit to skip")
    parser.add_argument("--words", type=int, default=1_300_000)
    parser.add_argument("--max-author-share", type=float, default=1.0)
    parser.add_argument("--compress", choices=("gz", "xz"), default="gz")
    parser.add_argument("--out", type=Path, default=REPO / "data" / "corpus")
    args = parser.parse_args()
    if args.blimp:
        vendor_blimp(args.blimp)
    if args.zorro:
        vendor_pairs_files(args.zorro, "zorro", "*.txt", compress=True)
    if args.clams:
        vendor_pairs_files(args.clams, "clams_en", "*.txt.gz", compress=False)
    if args.corpus:
        vendor_corpus(args.corpus, args.words, args.out, args.max_author_share, args.compress)
