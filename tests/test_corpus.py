import gzip

import pytest

from taskspace_core import corpus
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
