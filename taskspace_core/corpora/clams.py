"""CLAMS English (Mueller et al. 2020; Marvin & Linzen 2018's constructions): agreement,
reflexives and NPIs in constructions BLiMP lacks.

Shipped in ``data/clams_en`` (Apache-2.0, GitHub ``aaronmueller/clams`` at ``36b5c9a``, folder
``en_evalset``), gzip-compressed as upstream's copy was, and checked against ``SHA256SUMS`` (the
upstream bytes). Lines alternate ``True<TAB>grammatical`` and ``False<TAB>its partner``. Pairs
whose sentences contain the merged verb phrase ``appreciatedbeen`` (738 in two NPI files) are
upstream corruption and are dropped on load. Sentences are lower case without a final mark;
like Zorro's they are normalised to book prose (capital first letter, a final ``.``). Paradigms
are named ``clams:<file stem>``.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from ..paths import DATA_DIR
from .pairs import Pair, Paradigm, checked_text, text_hash

CLAMS_DIR = DATA_DIR / "clams_en"
PREFIX = "clams:"
TEXT_VERSION = "normalised-1"  # in every paradigm's hash: change it when `normalise` or the filter changes
CORRUPTED = "appreciatedbeen"

_SV, _ANA, _NPI = "SV-AGR", "A-AGR", "NPI-L"
PHENOMENON = {
    "simple_agrmt": _SV, "sent_comp": _SV, "vp_coord": _SV, "long_vp_coord": _SV, "prep_anim": _SV,
    "prep_inanim": _SV, "subj_rel": _SV, "obj_rel_across_anim": _SV, "obj_rel_across_inanim": _SV,
    "obj_rel_no_comp_across_anim": _SV, "obj_rel_no_comp_across_inanim": _SV, "obj_rel_within_anim": _SV,
    "obj_rel_within_inanim": _SV, "obj_rel_no_comp_within_anim": _SV, "obj_rel_no_comp_within_inanim": _SV,
    "simple_reflexives": _ANA, "reflexive_sent_comp": _ANA, "reflexives_across": _ANA,
    "simple_npi_anim": _NPI, "simple_npi_inanim": _NPI, "npi_across_anim": _NPI, "npi_across_inanim": _NPI,
}


def normalise(sentence: str) -> str:
    """A CLAMS sentence as book prose: a capital first letter and a final full stop."""
    return sentence[:1].upper() + sentence[1:] + "."


def read_clams_paradigm(path: Path) -> Paradigm:
    """One CLAMS file, checked: known name, checksum, ``True``/``False`` lines alternating with a
    sentence each; corrupted pairs dropped. Errors name the file and the line."""
    stem = path.name.removesuffix(".gz").removesuffix(".txt")
    if stem not in PHENOMENON:
        raise DataError(path, f"not a CLAMS English file (expected one of the {len(PHENOMENON)} of {CLAMS_DIR.name})")
    text = checked_text(path)
    rows = []
    for line_no, line in enumerate(text.rstrip("\n").split("\n"), start=1):
        label, tab, sentence = line.partition("\t")
        expected = "True" if len(rows) % 2 == 0 else "False"
        if not tab or label != expected or not sentence.strip():
            raise DataError(path, f"expected '{expected}<TAB>sentence', got {line[:60]!r}", line=line_no)
        rows.append(sentence)
    if len(rows) % 2:
        raise DataError(path, "the last grammatical sentence has no ungrammatical partner", line=len(rows))
    pairs = [Pair(PREFIX + stem, k, normalise(rows[2 * k]), normalise(rows[2 * k + 1]))
             for k in range(len(rows) // 2) if CORRUPTED not in rows[2 * k] + rows[2 * k + 1]]
    if not pairs:
        raise DataError(path, "no pairs")
    return Paradigm(PREFIX + stem, PHENOMENON[stem], tuple(pairs), text_hash(text, TEXT_VERSION))
