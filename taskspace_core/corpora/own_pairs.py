"""Your own minimal pairs: any benchmark in one documented format runs through the same pipeline.

A folder ``<name>/`` holds

- ``phenomena.json``: ``{"<paradigm>": "<phenomenon>", ...}``, every paradigm of the set and the
  phenomenon it tests (use BLiMP's abbreviations, ``SV-AGR``, ``NPI-L`` ..., where a paradigm
  tests one of BLiMP's phenomena, so that the hypothesis space joins them across benchmarks);
- one ``<paradigm>.jsonl`` (or ``.jsonl.gz``) per paradigm, one JSON object a line with
  ``sentence_good`` and ``sentence_bad`` (non-empty strings) and optionally ``pairID`` (a
  unique non-negative integer; the line's position otherwise).

Name the folder in ``data.benchmarks`` (``--data.benchmarks=blimp,path/to/<name>``); its
paradigms are then ``<name>:<paradigm>``. Sentences are used as written. A bad line fails with
the file, the line and the field.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

from ..errors import DataError
from .pairs import Pair, Paradigm, checked_text, json_lines, text_hash

TEXT_VERSION = "own-1"
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@functools.lru_cache(maxsize=16)
def own_phenomena(directory: str) -> dict[str, str]:
    """``phenomena.json`` of the set in ``directory``, checked: names and labels are plain words
    and every paradigm has its file."""
    folder = Path(directory)
    path = folder / "phenomena.json"
    if not path.is_file():
        raise DataError(path, "missing: a set of your own pairs needs phenomena.json ({paradigm: phenomenon})")
    try:
        mapping = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(path, f"not valid JSON ({exc.msg})", line=exc.lineno) from None
    if not isinstance(mapping, dict) or not mapping:
        raise DataError(path, "must be a non-empty JSON object {paradigm: phenomenon}")
    for paradigm, phenomenon in mapping.items():
        if not _NAME.match(paradigm):
            raise DataError(path, f"paradigm name {paradigm!r}: use letters, digits, '_', '-' and '.'", field=paradigm)
        if not isinstance(phenomenon, str) or not _NAME.match(phenomenon):
            raise DataError(path, f"phenomenon {phenomenon!r}: use letters, digits, '_', '-' and '.'", field=paradigm)
        if own_file(folder, paradigm) is None:
            raise DataError(folder / f"{paradigm}.jsonl", "paradigm file not found (named in phenomena.json)")
    return mapping


def own_file(folder: Path, paradigm: str) -> Path | None:
    return next((folder / f"{paradigm}{s}" for s in (".jsonl", ".jsonl.gz") if (folder / f"{paradigm}{s}").is_file()), None)


def read_own_paradigm(folder: Path, prefix: str, paradigm: str) -> Paradigm:
    """One paradigm of your own set, every record checked."""
    path = own_file(folder, paradigm)
    if path is None:
        raise DataError(folder / f"{paradigm}.jsonl", "paradigm file not found")
    text = checked_text(path)
    pairs, seen = [], {}
    for line_no, record in json_lines(path, text):
        if not isinstance(record, dict):
            raise DataError(path, "a record must be a JSON object", line=line_no)
        for name in ("sentence_good", "sentence_bad"):
            value = record.get(name)
            if not isinstance(value, str) or not value.strip():
                raise DataError(path, f"must be a non-empty string, got {value!r}", line=line_no, field=name)
        pair_id = record.get("pairID", len(pairs))
        if isinstance(pair_id, str) and pair_id.isdigit():
            pair_id = int(pair_id)
        if not isinstance(pair_id, int) or isinstance(pair_id, bool) or pair_id < 0:
            raise DataError(path, f"must be a non-negative integer, got {pair_id!r}", line=line_no, field="pairID")
        if pair_id in seen:
            raise DataError(path, f"duplicate pair id {pair_id} (first on line {seen[pair_id]})", line=line_no, field="pairID")
        seen[pair_id] = line_no
        pairs.append(Pair(prefix + paradigm, pair_id, record["sentence_good"], record["sentence_bad"]))
    if not pairs:
        raise DataError(path, "no pairs")
    phenomenon = own_phenomena(str(folder))[paradigm]
    return Paradigm(prefix + paradigm, phenomenon, tuple(pairs), text_hash(text, TEXT_VERSION))
