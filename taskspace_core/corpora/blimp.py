"""BLiMP: load and validate the 67 paradigms, the phenomenon taxonomy, pair-level splits.

Every record is validated on load; a malformed line, a missing or mistyped field, a paradigm
label that disagrees with the taxonomy, or a duplicate ``pairID`` raises :class:`DataError`
naming the file, the line and the field. Files may be plain ``.jsonl`` (as upstream) or
``.jsonl.gz`` (as vendored in ``data/blimp``).

BLiMP also loads through Hugging Face ``datasets``, the field's standard (lm-evaluation-harness
reads it so): ``data.blimp_dir = "hf:nyu-mll/blimp"`` takes the hub copy by name when online,
and ``"hf:<directory>"`` a local copy, either in the hub's layout (a dataset card with one config
per paradigm) or a directory of BLiMP ``.jsonl``/``.jsonl.gz`` files read by ``datasets``' JSON
builder. Its records go through the same validation. The default stays the direct reader of
the shipped files: it hashes their exact bytes (the key of every committed result) and names the
line of a malformed record, which ``datasets`` cannot.

Upstream BLiMP contains 7 pairs whose two sentences are identical (in
``principle_A_case_2``); they are kept as they are, and count as failures under the strict
``logp_good > logp_bad`` accuracy.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
from pathlib import Path

import pandas as pd

from ..errors import ConfigError, DataError
from ..paths import DATA_DIR
from .pairs import Pair, Paradigm, difference_kind, file_bytes, json_lines, utf8

DEFAULT_BLIMP_DIR = DATA_DIR / "blimp"

# The 12 phenomena of the BLiMP paper, in the paper's order and with its abbreviations.
# BLiMP's files carry 13 labels: "s-selection" belongs to ARGUMENT STRUCTURE in the 12-way
# grouping (taxonomy "12") and is its own phenomenon S-SEL in taxonomy "13".
PHENOMENA = {
    "A-AGR": ("anaphor agreement", ("anaphor_agreement",)),
    "ARG-S": ("argument structure", ("argument_structure", "s-selection")),
    "BIND": ("binding", ("binding",)),
    "CON-R": ("control/raising", ("control_raising",)),
    "DN-AGR": ("determiner-noun agreement", ("determiner_noun_agreement",)),
    "ELLIP": ("ellipsis", ("ellipsis",)),
    "FG-DEP": ("filler-gap dependency", ("filler_gap_dependency",)),
    "IRR-F": ("irregular forms", ("irregular_forms",)),
    "ISL-E": ("island effects", ("island_effects",)),
    "NPI-L": ("NPI licensing", ("npi_licensing",)),
    "QUANT": ("quantifiers", ("quantifiers",)),
    "SV-AGR": ("subject-verb agreement", ("subject_verb_agreement",)),
}

# paradigm UID -> BLiMP's linguistics_term (the 67 paradigms, sorted by UID)
PARADIGM_TERMS = {
    "adjunct_island": "island_effects",
    "anaphor_gender_agreement": "anaphor_agreement",
    "anaphor_number_agreement": "anaphor_agreement",
    "animate_subject_passive": "s-selection",
    "animate_subject_trans": "s-selection",
    "causative": "argument_structure",
    "complex_NP_island": "island_effects",
    "coordinate_structure_constraint_complex_left_branch": "island_effects",
    "coordinate_structure_constraint_object_extraction": "island_effects",
    "determiner_noun_agreement_1": "determiner_noun_agreement",
    "determiner_noun_agreement_2": "determiner_noun_agreement",
    "determiner_noun_agreement_irregular_1": "determiner_noun_agreement",
    "determiner_noun_agreement_irregular_2": "determiner_noun_agreement",
    "determiner_noun_agreement_with_adj_2": "determiner_noun_agreement",
    "determiner_noun_agreement_with_adj_irregular_1": "determiner_noun_agreement",
    "determiner_noun_agreement_with_adj_irregular_2": "determiner_noun_agreement",
    "determiner_noun_agreement_with_adjective_1": "determiner_noun_agreement",
    "distractor_agreement_relational_noun": "subject_verb_agreement",
    "distractor_agreement_relative_clause": "subject_verb_agreement",
    "drop_argument": "argument_structure",
    "ellipsis_n_bar_1": "ellipsis",
    "ellipsis_n_bar_2": "ellipsis",
    "existential_there_object_raising": "control_raising",
    "existential_there_quantifiers_1": "quantifiers",
    "existential_there_quantifiers_2": "quantifiers",
    "existential_there_subject_raising": "control_raising",
    "expletive_it_object_raising": "control_raising",
    "inchoative": "argument_structure",
    "intransitive": "argument_structure",
    "irregular_past_participle_adjectives": "irregular_forms",
    "irregular_past_participle_verbs": "irregular_forms",
    "irregular_plural_subject_verb_agreement_1": "subject_verb_agreement",
    "irregular_plural_subject_verb_agreement_2": "subject_verb_agreement",
    "left_branch_island_echo_question": "island_effects",
    "left_branch_island_simple_question": "island_effects",
    "matrix_question_npi_licensor_present": "npi_licensing",
    "npi_present_1": "npi_licensing",
    "npi_present_2": "npi_licensing",
    "only_npi_licensor_present": "npi_licensing",
    "only_npi_scope": "npi_licensing",
    "passive_1": "argument_structure",
    "passive_2": "argument_structure",
    "principle_A_c_command": "binding",
    "principle_A_case_1": "binding",
    "principle_A_case_2": "binding",
    "principle_A_domain_1": "binding",
    "principle_A_domain_2": "binding",
    "principle_A_domain_3": "binding",
    "principle_A_reconstruction": "binding",
    "regular_plural_subject_verb_agreement_1": "subject_verb_agreement",
    "regular_plural_subject_verb_agreement_2": "subject_verb_agreement",
    "sentential_negation_npi_licensor_present": "npi_licensing",
    "sentential_negation_npi_scope": "npi_licensing",
    "sentential_subject_island": "island_effects",
    "superlative_quantifiers_1": "quantifiers",
    "superlative_quantifiers_2": "quantifiers",
    "tough_vs_raising_1": "control_raising",
    "tough_vs_raising_2": "control_raising",
    "transitive": "argument_structure",
    "wh_island": "island_effects",
    "wh_questions_object_gap": "filler_gap_dependency",
    "wh_questions_subject_gap": "filler_gap_dependency",
    "wh_questions_subject_gap_long_distance": "filler_gap_dependency",
    "wh_vs_that_no_gap": "filler_gap_dependency",
    "wh_vs_that_no_gap_long_distance": "filler_gap_dependency",
    "wh_vs_that_with_gap": "filler_gap_dependency",
    "wh_vs_that_with_gap_long_distance": "filler_gap_dependency",
}

TAXONOMIES = ("12", "13")
REQUIRED_FIELDS = {"sentence_good": str, "sentence_bad": str, "UID": str, "pairID": str,
                   "linguistics_term": str, "field": str}


def phenomenon_of(paradigm: str, taxonomy: str = "12") -> str:
    """Abbreviation of the phenomenon a paradigm belongs to (e.g. ``DN-AGR``)."""
    if taxonomy not in TAXONOMIES:
        raise ConfigError(f"data.taxonomy must be one of {TAXONOMIES}, got '{taxonomy}'")
    term = PARADIGM_TERMS[check_paradigms([paradigm])[0]]
    if taxonomy == "13" and term == "s-selection":
        return "S-SEL"
    return next(abbr for abbr, (_, terms) in PHENOMENA.items() if term in terms)


def phenomena(taxonomy: str = "12") -> dict[str, list[str]]:
    """Phenomenon abbreviation -> its paradigms, in a stable order."""
    groups: dict[str, list[str]] = {}
    for uid in PARADIGM_TERMS:
        groups.setdefault(phenomenon_of(uid, taxonomy), []).append(uid)
    order = list(PHENOMENA) + ["S-SEL"]
    return {k: groups[k] for k in order if k in groups}


def phenomenon_names() -> dict[str, str]:
    return {abbr: name for abbr, (name, _) in PHENOMENA.items()} | {"S-SEL": "s-selection"}


def selected_paradigms(paradigms=(), phenomena_=(), taxonomy: str = "12") -> list[str]:
    """The paradigms named in ``paradigms`` plus every paradigm of the ``phenomena_`` (e.g. ``DN-AGR``).

    Both empty means all 67. Unknown names raise :class:`ConfigError` naming them.
    """
    names = check_paradigms(paradigms)
    groups = phenomena(taxonomy)
    for abbr in phenomena_:
        if abbr not in groups:
            close = difflib.get_close_matches(abbr, groups, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (choose from {', '.join(groups)})"
            raise ConfigError(f"unknown phenomenon '{abbr}' under the {taxonomy}-phenomenon taxonomy{hint}")
        names += [p for p in groups[abbr] if p not in names]
    return names


def check_paradigms(names) -> list[str]:
    """Return ``names`` if all are BLiMP paradigms, else raise naming the unknown one."""
    names = list(names)
    for name in names:
        if name not in PARADIGM_TERMS:
            close = difflib.get_close_matches(name, PARADIGM_TERMS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"unknown paradigm '{name}'{hint}")
    return names


HUB_PREFIX = "hf:"  # data.blimp_dir = "hf:<hub name or local copy>": loaded with `datasets`


def blimp_dir(data_dir: str | Path | None) -> Path:
    return Path(data_dir) if data_dir else DEFAULT_BLIMP_DIR


def paradigm_file(directory: Path, uid: str) -> Path | None:
    for suffix in (".jsonl", ".jsonl.gz"):
        if (directory / f"{uid}{suffix}").is_file():
            return directory / f"{uid}{suffix}"
    return None


def read_paradigm(path: Path) -> Paradigm:
    """Parse and validate one paradigm file."""
    uid = path.name.removesuffix(".gz").removesuffix(".jsonl")
    check_paradigms([uid])
    raw = file_bytes(path)
    return validated_paradigm(path, uid, json_lines(path, utf8(path, raw)), hashlib.sha256(raw).hexdigest())


def validated_paradigm(path: Path, uid: str, records, sha256: str) -> Paradigm:
    """One paradigm from ``(line or row number, record)`` pairs, each checked: the required fields
    and their types, the UID and BLiMP's term for it, unique integer pair ids. Every reader (the
    shipped files, ``datasets``) goes through here; errors name ``path``, the line and the field."""
    pairs, seen = [], {}
    for line_no, record in records:
        if not isinstance(record, dict):
            raise DataError(path, "a record must be a JSON object", line=line_no)
        for name, kind in REQUIRED_FIELDS.items():
            if name not in record:
                raise DataError(path, "missing", line=line_no, field=name)
            if not isinstance(record[name], kind) or (kind is str and not record[name].strip()):
                raise DataError(path, f"must be a non-empty string, got {record[name]!r}", line=line_no, field=name)
        if record["UID"] != uid:
            raise DataError(path, f"'{record['UID']}' does not match the file name", line=line_no, field="UID")
        if record["linguistics_term"] != PARADIGM_TERMS[uid]:
            raise DataError(path, f"'{record['linguistics_term']}' but BLiMP files {uid} under "
                            f"'{PARADIGM_TERMS[uid]}'", line=line_no, field="linguistics_term")
        if not record["pairID"].isdigit():
            raise DataError(path, f"must be a non-negative integer, got {record['pairID']!r}",
                            line=line_no, field="pairID")
        pair_id = int(record["pairID"])
        if pair_id in seen:
            raise DataError(path, f"duplicate pair id {pair_id} (first on line {seen[pair_id]})",
                            line=line_no, field="pairID")
        seen[pair_id] = line_no
        pairs.append(Pair(uid, pair_id, record["sentence_good"], record["sentence_bad"]))
    if not pairs:
        raise DataError(path, "no pairs")
    return Paradigm(uid, PARADIGM_TERMS[uid], tuple(pairs), sha256)


@functools.lru_cache(maxsize=8)
def _load_cached(directory: str, names: tuple[str, ...]) -> dict[str, Paradigm]:
    if directory.startswith(HUB_PREFIX):
        return load_with_datasets(directory.removeprefix(HUB_PREFIX), names)
    path = Path(directory)
    out = {}
    for uid in names:
        file = paradigm_file(path, uid)
        if file is None:
            raise DataError(path / f"{uid}.jsonl", "paradigm file not found")
        out[uid] = read_paradigm(file)
    return out


def load_blimp(data_dir: str | Path | None = None, paradigms=None) -> dict[str, Paradigm]:
    """Load and validate paradigms (default: all 67) from ``data_dir``: the vendored copy by
    default, a directory of BLiMP files, or ``hf:<hub name or local copy>`` through ``datasets``."""
    names = tuple(check_paradigms(paradigms)) if paradigms else tuple(PARADIGM_TERMS)
    if str(data_dir or "").startswith(HUB_PREFIX):
        source = str(data_dir).removeprefix(HUB_PREFIX)
        local = Path(source).expanduser()
        return dict(_load_cached(HUB_PREFIX + (str(local.resolve()) if local.exists() else source), names))
    directory = blimp_dir(data_dir)
    if not directory.is_dir():
        raise DataError(directory, "BLiMP data directory not found")
    return dict(_load_cached(str(directory.resolve()), names))


def load_with_datasets(source: str, names: tuple[str, ...]) -> dict[str, Paradigm]:
    """BLiMP through Hugging Face ``datasets``: a hub name (downloaded once into the HF cache), a
    local copy in the hub's layout (one config per paradigm), or a directory of BLiMP JSON-lines
    files (the JSON builder). Every record then passes `validated_paradigm`; a paradigm's hash is
    that of its records (the bytes of a hub copy are not BLiMP's files)."""
    import datasets  # half a second of import: only for this path

    datasets.disable_progress_bars()
    local = Path(source)
    # a local copy is prepared afresh each time: `datasets` may serve a cached table of another
    # copy with the same name (seen with two test copies); a hub name is cached by its revision
    fresh = "force_redownload" if local.exists() else None
    out = {}
    for uid in names:
        files = [local / f"{uid}{suffix}" for suffix in (".jsonl", ".jsonl.gz")] if local.is_dir() else []
        file = next((f for f in files if f.is_file()), None)
        where = file or Path(f"{source}:{uid}")
        try:
            if file is not None:  # a directory of BLiMP files
                table = datasets.load_dataset("json", data_files=str(file), split="train", download_mode=fresh)
            else:  # the hub's layout: one config per paradigm, a "train" split
                table = datasets.load_dataset(source, uid, split="train", download_mode=fresh)
        except Exception as exc:  # noqa: BLE001 - datasets raises many kinds; name the source
            raise DataError(where, f"datasets could not load it ({type(exc).__name__}: {exc})") from None
        rows = [_hub_record(row) for row in table]
        text = "\n".join(json.dumps({k: r.get(k) for k in REQUIRED_FIELDS}, sort_keys=True) for r in rows)
        out[uid] = validated_paradigm(where, uid, enumerate(rows, start=1), hashlib.sha256(text.encode()).hexdigest())
    return out


def _hub_record(row: dict) -> dict:
    """A ``datasets`` row in the files' field names: the hub calls ``pairID`` ``pair_id`` (an int)."""
    row = {k: v for k, v in row.items() if v is not None}
    if "pairID" not in row and "pair_id" in row:
        row["pairID"] = str(row.pop("pair_id"))
    return row


def difference_kinds(paradigms: dict[str, Paradigm], taxonomy: str = "12") -> pd.DataFrame:
    """One row per pair: its ``phenomenon`` and :func:`difference_kind`, with substitutions of
    three or more words pooled as ``"substitution of 3+ words"``."""
    kinds = pd.DataFrame([{"phenomenon": phenomenon_of(name, taxonomy), "kind": difference_kind(p.good, p.bad)}
                          for name, paradigm in paradigms.items() for p in paradigm.pairs])
    kinds["kind"] = kinds.kind.str.replace(r"substitution of [3-9]\d* word\(s\)|substitution of \d{2,} word\(s\)",
                                           "substitution of 3+ words", regex=True)
    return kinds
