"""A memo on disk for the analysis's slow pure functions, keyed by everything they depend on.

Analysing a stored task space is quick except for its Mantel tests: seven of them, 9999
permutations each, about 2.5 s a space on this machine, and a book build analyses every space
in several chapters, each in its own kernel. The results are pure functions of their inputs, so
they are kept on disk and looked up by a key that hashes

- the input arrays (dtype, shape and bytes) and every other argument, and
- the source code of the function and of the helpers it calls (``code=``),

so an entry can never be stale: a different matrix, a different permutation count or an edited
test is a different key, and the value is computed afresh. A value computed on another machine
whose floating-point rounding differs is a miss, never a wrong hit.

Two files are read: the committed results' ``memo.json`` (``results/<preset>/``, written when a
space is exported and listed with its sha256 in ``meta.json``, so the book renders from a fresh
clone without re-running a permutation) and the run store's (``<work_dir>/<preset>/memo.json``),
which also takes every new entry. Each maps key -> a JSON value.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..provenance import atomic_write_text

MEMO_FILE = "memo.json"


def _feed(digest, value) -> None:
    """Add ``value`` to ``digest``: arrays by dtype, shape and bytes; containers element by element."""
    if isinstance(value, np.ndarray):
        digest.update(f"array {value.dtype.str} {value.shape}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, (list, tuple)):
        digest.update(f"{type(value).__name__} {len(value)}".encode())
        for item in value:
            _feed(digest, item)
    elif isinstance(value, dict):
        digest.update(f"dict {len(value)}".encode())
        for key in sorted(value):
            _feed(digest, key)
            _feed(digest, value[key])
    elif value is None or isinstance(value, (bool, int, float, str, np.integer, np.floating)):
        digest.update(f"{type(value).__name__} {value!r}".encode())
    else:
        raise TypeError(f"memo keys take arrays, numbers, strings and containers of them, not {type(value).__name__}")


def code_fingerprint(*functions: Callable) -> str:
    """A hash of the source code of ``functions``: part of every key, so editing one misses."""
    return hashlib.sha256("\n".join(inspect.getsource(f) for f in functions).encode()).hexdigest()[:16]


def memo_key(name: str, code: str, *args, **kwargs) -> str:
    """The key of one call: ``name``, the code fingerprint and every argument, hashed."""
    digest = hashlib.sha256(f"{name} {code}".encode())
    _feed(digest, list(args))
    _feed(digest, kwargs)
    return digest.hexdigest()[:24]


def _read(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable memo ({exc}); delete it and it is rebuilt") from exc
    if not isinstance(entries, dict):
        raise ValueError(f"{path}: not a readable memo (expected a JSON object); delete it and it is rebuilt")
    return entries


class Memo:
    """Values of pure calls, read from ``read_only`` files and from ``writable``, which takes new ones.

    ``strict=True`` turns a miss into an error (a check that committed results need no recomputation).
    """

    def __init__(self, read_only: list[Path] = (), writable: Path | None = None, strict: bool = False):
        self.writable, self.strict = writable, strict
        self._entries: dict = {}
        for path in [*read_only, *([writable] if writable else [])]:
            self._entries.update(_read(Path(path)))
        self._new: dict = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str, compute: Callable[[], object], what: str = "a memoised call"):
        """The stored value of ``key``; on a miss, ``compute()``, kept for :meth:`flush`."""
        if key in self._entries:
            return self._entries[key]
        if self.strict:
            raise KeyError(f"{what} is not in the memo (key {key})")
        value = compute()
        self._entries[key] = self._new[key] = value
        return value

    def flush(self) -> None:
        """Merge the new entries into the writable file (re-read first: another process may have added some)."""
        if not self._new or self.writable is None:
            return
        path = Path(self.writable)
        path.parent.mkdir(parents=True, exist_ok=True)
        merged = {**_read(path), **self._new}
        atomic_write_text(path, json.dumps(merged, indent=0, sort_keys=True) + "\n")
        self._new = {}
