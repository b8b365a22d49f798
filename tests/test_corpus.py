import gzip

import pytest

from taskspace_core.corpora import books as corpus
from taskspace_core.errors import DataError

NEW_STYLE = """The Project Gutenberg eBook of Tales\r\n\r\nThis eBook is for the use of anyone.\r\n
*** START OF THE PROJECT GUTENBERG EBOOK TALES OF\r\nTHE LONG TITLE ***\r\n\r\nChapter I\r\n\r\n
\u201cI didn\u2019t go,\u201d she said, and the\r\n_little_ dog ran.\r\n\r\n[Illustration: A dog]\r\n\r\n
The end.\r\n*** END OF THE PROJECT GUTENBERG EBOOK TALES ***\r\nSection 1. General Terms of Use\r\n"""

OLD_STYLE = """Project Gutenberg Etext\n*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*\n
Once upon a time.\n\nEnd of the Project Gutenberg Etext of Something\nlicence text\n"""


def test_strip_new_style_header_with_multiline_title_and_licence():
    body = corpus.normalise(corpus.strip_gutenberg(NEW_STYLE, "x.txt"))
    assert body.splitlines() == ["Chapter I", "\"I didn't go,\" she said, and the little dog ran.", "The end."]
    assert "Gutenberg" not in body and "LONG TITLE" not in body


def test_strip_old_style_small_print():
    assert corpus.normalise(corpus.strip_gutenberg(OLD_STYLE, "y.txt")) == "Once upon a time."


def test_missing_start_marker_names_the_file():
    with pytest.raises(DataError, match="z.txt"):
        corpus.strip_gutenberg("no markers here", "z.txt")


def test_shipped_corpus_verifies_and_splits_by_book():
    books, corpus_hash = corpus.load_books(corpus.DEFAULT_CORPUS_DIR)
    assert len(books) == len(corpus.read_manifest(corpus.DEFAULT_CORPUS_DIR)) >= 20
    assert all("PROJECT GUTENBERG" not in b.text.upper() for b in books)
    assert all("\u2019" not in b.text for b in books)
    train, val = corpus.split_books(books, 2, seed=0)
    assert len(val) == 2 and not {b.name for b in train} & {b.name for b in val}
    assert corpus.split_books(books, 2, seed=0) == (train, val)
    assert corpus.split_books(books, 2, seed=1)[1] != val
    assert corpus.load_books(corpus.DEFAULT_CORPUS_DIR)[1] == corpus_hash


def test_checksum_mismatch_is_an_error(tmp_path):
    src = corpus.DEFAULT_CORPUS_DIR
    rows = corpus.read_manifest(src)[:1]
    (tmp_path / "texts").mkdir()
    header = (src / "manifest.tsv").read_text().splitlines()[0]
    line = "\t".join(rows[0][k] for k in header.split("\t"))
    (tmp_path / "manifest.tsv").write_text(header + "\n" + line + "\n")
    raw = gzip.decompress((src / "texts" / rows[0]["file"]).read_bytes())
    (tmp_path / "texts" / rows[0]["file"]).write_bytes(gzip.compress(raw + b"tampered"))
    with pytest.raises(DataError, match="checksum mismatch"):
        corpus.load_books(tmp_path)


def test_tokenizer_round_trips_text_and_separates_books(ci_config):
    prepared = corpus.prepare_corpus(ci_config, log=lambda *_: None)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(prepared.tokenizer_dir)
    assert len(tok) == ci_config.tokenizer.vocab_size
    text = "Susan revealed herself. The cats don't annoy Tim."
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text
    eot = tok.convert_tokens_to_ids(corpus.EOT)
    assert tok.bos_token_id == tok.eos_token_id == eot
    assert prepared.train_tokens[-1] == eot and prepared.val_tokens[-1] == eot
    assert (prepared.val_tokens == eot).sum() == ci_config.tokenizer.val_books
    assert not set(prepared.train_books) & set(prepared.val_books)
    # the second call is served from the cache
    again = corpus.prepare_corpus(ci_config, log=lambda *_: pytest.fail("retrained"))
    assert again.tokenizer_dir == prepared.tokenizer_dir


TEN_TIMES = corpus.REPO_ROOT / "data" / "corpus-13m"


def test_ten_times_corpus_is_verified_and_ten_times_the_words():
    """data/corpus-13m: xz files whose checksums match the manifest, >= 10x the words of data/corpus."""
    rows = corpus.read_manifest(TEN_TIMES)
    small = corpus.read_manifest(corpus.DEFAULT_CORPUS_DIR)
    assert all(r["file"].endswith(".xz") for r in rows)
    assert sum(int(r["body_words"]) for r in rows) >= 10 * sum(int(r["body_words"]) for r in small)
    authors: dict[str, int] = {}
    for r in rows:
        authors[r["author"]] = authors.get(r["author"], 0) + int(r["body_words"])
    assert max(authors.values()) / sum(authors.values()) < 0.15  # no author dominates
    books, corpus_hash = corpus.load_books(TEN_TIMES)  # verifies every checksum
    assert len(books) == len(rows) and len(corpus_hash) == 16


def test_an_xz_book_that_does_not_match_its_checksum_is_an_error(tmp_path):
    import lzma

    rows = corpus.read_manifest(TEN_TIMES)[:1]
    (tmp_path / "texts").mkdir()
    header = (TEN_TIMES / "manifest.tsv").read_text().splitlines()[0]
    (tmp_path / "manifest.tsv").write_text(header + "\n" + "\t".join(rows[0][k] for k in header.split("\t")) + "\n")
    raw = lzma.decompress((TEN_TIMES / "texts" / rows[0]["file"]).read_bytes())
    (tmp_path / "texts" / rows[0]["file"]).write_bytes(lzma.compress(raw[:-1]))
    with pytest.raises(DataError, match=rf"{rows[0]['file']}.*checksum mismatch"):
        corpus.load_books(tmp_path)


def test_a_relative_corpus_dir_is_found_in_the_repository(ci_config, tmp_path, monkeypatch):
    from taskspace_core.config import apply_overrides

    monkeypatch.chdir(tmp_path)  # not the repository
    config = apply_overrides(ci_config, {"data.corpus_dir": "data/corpus-13m"})
    assert corpus.corpus_dir(config) == TEN_TIMES
    other = tmp_path / "mine"
    other.mkdir()
    assert corpus.corpus_dir(apply_overrides(ci_config, {"data.corpus_dir": "mine"})).resolve() == other.resolve()
