"""Zorro (Huebner et al. 2021): 23 paradigms × 2,000 minimal pairs in a child-directed vocabulary.

Shipped in ``data/zorro`` (MIT licence, GitHub ``phueb/Zorro`` at ``687ba43``, folder
``sentences/babyberta``), each file gzip-compressed and checked against ``SHA256SUMS`` (the
upstream bytes). A file has 4,000 lines: line 2k+1 (1-based) is the **ungrammatical** sentence,
line 2k+2 its grammatical partner. Zorro writes lower case with ``i`` for *I* and a space before
the final ``.`` or ``?``; our models read book prose, so each sentence is normalised on load
(first letter capitalised, ``i`` → ``I``, no space before the final mark), and the
normalisation is part of every paradigm's hash. Its paradigms are named ``zorro:<file stem>``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import DataError
from ..paths import DATA_DIR
from .pairs import Pair, Paradigm, checked_text, text_hash

ZORRO_DIR = DATA_DIR / "zorro"
PREFIX = "zorro:"
TEXT_VERSION = "normalised-1"  # in every paradigm's hash: change it when `normalise` changes

# Zorro file -> the BLiMP phenomenon (12-way abbreviation) it tests (Zorro's README, checked by
# reading the pairs). Two paradigms test a contrast BLiMP has no phenomenon for; each is its own.
PHENOMENON = {
    "agreement_determiner_noun-across_1_adjective": "DN-AGR",
    "agreement_determiner_noun-between_neighbors": "DN-AGR",
    "agreement_subject_verb-across_prepositional_phrase": "SV-AGR",
    "agreement_subject_verb-across_relative_clause": "SV-AGR",
    "agreement_subject_verb-in_question_with_aux": "SV-AGR",
    "agreement_subject_verb-in_simple_question": "SV-AGR",
    "anaphor_agreement-pronoun_gender": "A-AGR",
    "argument_structure-dropped_argument": "ARG-S",
    "argument_structure-swapped_arguments": "ARG-S",
    "argument_structure-transitive": "ARG-S",
    "binding-principle_a": "BIND",
    "case-subjective_pronoun": "CASE",
    "ellipsis-n_bar": "ELLIP",
    "filler-gap-wh_question_object": "FG-DEP",
    "filler-gap-wh_question_subject": "FG-DEP",
    "irregular-verb": "IRR-F",
    "island-effects-adjunct_island": "ISL-E",
    "island-effects-coordinate_structure_constraint": "ISL-E",
    "local_attractor-in_question_with_aux": "AUX-V",
    "npi_licensing-matrix_question": "NPI-L",
    "npi_licensing-only_npi_licensor": "NPI-L",
    "quantifiers-existential_there": "QUANT",
    "quantifiers-superlative": "QUANT",
}
NEW_PHENOMENA = {"CASE": "pronoun case (Zorro)", "AUX-V": "verb form after an auxiliary (Zorro)"}


def normalise(sentence: str) -> str:
    """Zorro's text as book prose: ``i`` → ``I``, no space before the final mark, a capital first letter."""
    words = ["I" if w == "i" else w for w in sentence.split(" ")]
    text = re.sub(r" ([.?])$", r"\1", " ".join(words))
    return text[:1].upper() + text[1:]


def read_zorro_paradigm(path: Path) -> Paradigm:
    """One Zorro file, checked: known name, checksum, an even number of non-empty lines, and two
    different sentences in every pair. Errors name the file and the line."""
    stem = path.name.removesuffix(".gz").removesuffix(".txt")
    if stem not in PHENOMENON:
        raise DataError(path, f"not a Zorro paradigm (expected one of the {len(PHENOMENON)} files of {ZORRO_DIR.name})")
    text = checked_text(path)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the trailing newline
    if len(lines) % 2:
        raise DataError(path, f"an odd number of lines ({len(lines)}): the last sentence has no partner", line=len(lines))
    pairs = []
    for k in range(len(lines) // 2):
        bad, good = lines[2 * k], lines[2 * k + 1]
        for offset, sentence in ((1, bad), (2, good)):
            if not sentence.strip():
                raise DataError(path, "an empty sentence", line=2 * k + offset)
        if bad == good:
            raise DataError(path, "the two sentences of a pair are identical", line=2 * k + 2)
        pairs.append(Pair(PREFIX + stem, k, normalise(good), normalise(bad)))
    if not pairs:
        raise DataError(path, "no pairs")
    return Paradigm(PREFIX + stem, stem.split("-")[0], tuple(pairs), text_hash(text, TEXT_VERSION))
