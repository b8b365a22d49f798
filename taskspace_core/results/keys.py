"""What a task space is stored under: its key, its directory's name, and its test pairs' order.

A space's key (:func:`space_key`) holds everything its stored eval1/eval2 scores and masks
depend on, and nothing they do not. It needs no weights and no tokenizer: a checkpoint's
identity comes from its ``meta.json`` and the data's from the benchmark files, so committed
results are found by the key alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..config import Config, is_earlier_behaviour
from ..corpora import benchmarks, pairs
from ..lm.identity import run_name
from ..lm.precision import key_precision

# Bump when a change to scoring, FTGD or probing changes stored results: it is part of every key.
PROBE_VERSION = 2  # (CHANGELOG.md says what each version changed)

def space_key(config: Config, identity: dict, data_hash: str, paradigms: list[str]) -> dict:
    """Everything a stored eval1/eval2/mask depends on (and nothing it does not).

    It needs no weights and no tokenizer: a checkpoint's identity comes from its ``meta.json``
    and the data's from the BLiMP files, so committed results are found by this key alone.
    """
    d = config.data
    ftgd = asdict(config.ftgd)
    ftgd.pop("precision")
    if is_earlier_behaviour(config, "ftgd", "mask_selection"):  # FTGD's own masks: keys from before the field
        ftgd.pop("mask_selection")
    ftgd.update(key_precision(config.ftgd, config.device))
    scoring = key_precision(config.scoring, config.device)  # {} at fp32: an fp32 key has no scoring field
    if not is_earlier_behaviour(config, "scoring", "eval2"):  # full-sentence eval2 keys have no such field
        scoring["eval2"] = config.scoring.eval2
    return {
        "probe_version": PROBE_VERSION,
        "model": identity,
        "data_hash": data_hash,
        "paradigms": paradigms,
        "split": {"n_test": d.n_test, "n_train": d.n_train, "seed": d.split_seed},
        "bos": config.scoring.bos,
        **({"scoring": scoring} if scoring else {}),
        "ftgd": ftgd,
    }


def probe_selection(config: Config) -> tuple[list[str], str]:
    """The sorted paradigms a task space covers (of every benchmark it uses) and the hash of their data."""
    d = config.data
    names, data_hash = _selection(d)
    return list(names), data_hash


@lru_cache(maxsize=16)  # a book looks up dozens of spaces over the same files; read and hash them once
def _selection(data) -> tuple[tuple[str, ...], str]:
    loaded = benchmarks.load_pairs(data)
    return tuple(sorted(loaded)), pairs.data_hash(loaded)


def space_label(config: Config, size: str, checkpoint: Path) -> str:
    """The name a space of one of our checkpoints is stored under, before its key hash
    (``cpu-small-seed1-epoch-0.5``): every route to a space (the book, ``space``, ``reproduce``)
    names it so, and so finds it stored."""
    return f"{config.preset}-{run_name(config, size)}-{Path(checkpoint).name}"


def test_pair_index(config: Config) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The order of a space's test pairs: its sorted paradigms, and per test pair the index of its
    paradigm and its pair id (what :func:`~taskspace_core.engine.probing.prepare_probe_data`
    tokenises, in the same order, without a tokenizer)."""
    d = config.data
    loaded = benchmarks.load_pairs(d)
    names = sorted(loaded)
    which, pair_id = [], []
    for i, name in enumerate(names):
        _, test = pairs.split_pairs(loaded[name], d.n_test, d.n_train, d.split_seed)
        which += [i] * len(test)
        pair_id += [p.pair_id for p in test]
    return names, np.array(which), np.array(pair_id)


@dataclass(frozen=True)
class Job:
    """One job of a stored result: eval1 (``paradigm`` None); a fine-tune on ``paradigm`` then
    eval2 (``kind`` "source", a task space's); or ``paradigm``'s FTGD mask alone (``kind`` "mask")."""

    paradigm: str | None = None
    kind: str = "source"

    @property
    def name(self) -> str:
        """The job's name in the store: ``eval1``, ``source/<paradigm>`` or ``mask/<paradigm>``."""
        return "eval1" if self.paradigm is None else f"{self.kind}/{self.paradigm}"

    def __str__(self) -> str:
        return self.paradigm or "eval1"


EVAL1 = Job()


def mask_key(config: Config, identity: dict, data_hash: str, paradigms: list[str]) -> dict:
    """The key of a mask set (every paradigm's FTGD mask, no fine-tune or eval2): the task space's
    key, marked as holding masks only, in a store of its own."""
    return {**space_key(config, identity, data_hash, paradigms), "result": "masks"}
