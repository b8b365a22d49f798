"""Which minimal-pair benchmarks a run covers: BLiMP, Zorro, CLAMS English, or a set of your own.

``data.benchmarks`` names them (``("blimp",)`` by default): ``blimp``, ``zorro``, ``clams``, or
the folder of a set of your own (:mod:`.own_pairs` documents its format). A paradigm's name says
its benchmark: BLiMP's keep their UIDs (so every key from before the other benchmarks still
finds its result), the others are ``<benchmark>:<paradigm>`` (``zorro:binding-principle_a``).
A space's key holds its sorted paradigm names and their data hash, so it records which
benchmarks and paradigms it covers. Everything downstream asks this module, never one
benchmark's reader, for names, phenomena and pairs.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from . import blimp, clams, zorro
from .own_pairs import own_phenomena, read_own_paradigm
from .pairs import Paradigm

BUILT_IN = ("blimp", "zorro", "clams")
PHENOMENON_ORDER = [*blimp.PHENOMENA, "S-SEL", *zorro.NEW_PHENOMENA]

# prefix ("mine:") -> folder of every set of your own named so far (phenomenon_of needs its labels)
_OWN_SETS: dict[str, Path] = {}


@dataclass(frozen=True)
class Benchmark:
    name: str  # blimp, zorro, clams, or the folder name of a set of your own
    prefix: str  # "" for BLiMP, else "<name>:"
    folder: Path | None = None  # a set of your own


def benchmark(entry: str) -> Benchmark:
    """The benchmark a ``data.benchmarks`` entry names: a built-in name or a folder of your own pairs."""
    if entry in BUILT_IN:
        return Benchmark(entry, "" if entry == "blimp" else f"{entry}:")
    folder = Path(entry).expanduser()
    if not folder.is_dir():
        close = difflib.get_close_matches(entry, BUILT_IN, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(f"data.benchmarks: '{entry}' is neither {', '.join(BUILT_IN)} nor a folder of "
                          f"your own pairs{hint}")
    if folder.name in BUILT_IN:
        raise ConfigError(f"data.benchmarks: the folder '{entry}' has a built-in benchmark's name; rename it")
    own_phenomena(str(folder.resolve()))  # checked now: a bad set fails before any work
    prefix = f"{folder.name}:"
    _OWN_SETS[prefix] = folder.resolve()  # the set named last under this name is the one in use
    return Benchmark(folder.name, prefix, folder.resolve())


def benchmarks_of(data) -> list[Benchmark]:
    """The benchmarks ``data`` (a :class:`~taskspace_core.config.DataConfig`) covers, checked."""
    if not data.benchmarks:
        raise ConfigError("data.benchmarks is empty: name at least one (blimp, zorro, clams or a folder)")
    chosen = [benchmark(entry) for entry in data.benchmarks]
    names = [b.name for b in chosen]
    if len(set(names)) < len(names):
        raise ConfigError(f"data.benchmarks names a benchmark twice, or two folders of the same name: {', '.join(names)}")
    return chosen


TITLES = {"blimp": "BLiMP", "zorro": "Zorro", "clams": "CLAMS English"}


def title_of(bench: Benchmark) -> str:
    """How the book and the command line name a benchmark."""
    return TITLES.get(bench.name, bench.name) if bench.folder is None else f"your set '{bench.name}'"


def folder_of(bench: Benchmark) -> Path:
    """Where a built-in benchmark other than BLiMP (whose folder is ``data.blimp_dir``) or a set of your own lives."""
    return bench.folder or (zorro.ZORRO_DIR if bench.name == "zorro" else clams.CLAMS_DIR)


def paradigms_of(bench: Benchmark) -> list[str]:
    """Every paradigm of one benchmark, by its full name."""
    if bench.name == "blimp" and bench.folder is None:
        return list(blimp.PARADIGM_TERMS)
    if bench.folder is None:
        table = zorro.PHENOMENON if bench.name == "zorro" else clams.PHENOMENON
        return [bench.prefix + stem for stem in table]
    return [bench.prefix + p for p in own_phenomena(str(bench.folder))]


def _split(name: str) -> tuple[str, str]:
    prefix, colon, rest = name.partition(":")
    return (prefix + colon, rest) if colon else ("", name)


def benchmark_prefix(paradigm: str) -> str:
    """The benchmark part of a paradigm's name: ``""`` for BLiMP, ``"zorro:"`` for Zorro's."""
    return _split(paradigm)[0]


def phenomenon_of(paradigm: str, taxonomy: str = "12") -> str:
    """The phenomenon a paradigm of any benchmark tests (BLiMP's abbreviations where it is one of
    BLiMP's phenomena, e.g. ``DN-AGR``)."""
    prefix, rest = _split(paradigm)
    if prefix == "":
        return blimp.phenomenon_of(paradigm, taxonomy)
    if prefix == zorro.PREFIX and rest in zorro.PHENOMENON:
        return zorro.PHENOMENON[rest]
    if prefix == clams.PREFIX and rest in clams.PHENOMENON:
        return clams.PHENOMENON[rest]
    if prefix in _OWN_SETS and rest in own_phenomena(str(_OWN_SETS[prefix])):
        return own_phenomena(str(_OWN_SETS[prefix]))[rest]
    raise ConfigError(f"unknown paradigm '{paradigm}' (not in {', '.join(BUILT_IN)} or a set of your own named "
                      "in data.benchmarks)")


def phenomenon_names() -> dict[str, str]:
    """Abbreviation -> name, for every phenomenon a built-in benchmark uses."""
    return blimp.phenomenon_names() | zorro.NEW_PHENOMENA


def phenomena_of(data) -> dict[str, list[str]]:
    """Phenomenon -> its paradigms over every benchmark ``data`` covers, BLiMP's order first."""
    groups: dict[str, list[str]] = {}
    for bench in benchmarks_of(data):
        for name in paradigms_of(bench):
            groups.setdefault(phenomenon_of(name, data.taxonomy), []).append(name)
    ordered = [k for k in PHENOMENON_ORDER if k in groups] + sorted(k for k in groups if k not in PHENOMENON_ORDER)
    return {k: groups[k] for k in ordered}


def every_paradigm(data) -> list[str]:
    """Every paradigm of every benchmark ``data`` covers, by full name."""
    return [name for bench in benchmarks_of(data) for name in paradigms_of(bench)]


def selected_paradigms(data) -> list[str]:
    """The paradigms ``data.paradigms`` names plus every paradigm of ``data.phenomena``, over the
    benchmarks of ``data.benchmarks``; both empty: all their paradigms. Unknown names raise
    :class:`ConfigError` naming them."""
    every = every_paradigm(data)
    names = list(data.paradigms)
    for name in names:
        if name not in every:
            close = difflib.get_close_matches(name, every, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (data.benchmarks is {', '.join(data.benchmarks)})"
            raise ConfigError(f"unknown paradigm '{name}'{hint}")
    groups = phenomena_of(data)
    for abbr in data.phenomena:
        if abbr not in groups:
            close = difflib.get_close_matches(abbr, groups, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (choose from {', '.join(groups)})"
            raise ConfigError(f"unknown phenomenon '{abbr}' under the {data.taxonomy}-phenomenon taxonomy{hint}")
        names += [p for p in groups[abbr] if p not in names]
    return names or every


def load_pairs(data, paradigms=None) -> dict[str, Paradigm]:
    """The validated pairs of ``paradigms`` (default: :func:`selected_paradigms`), by full name."""
    names = list(paradigms) if paradigms else selected_paradigms(data)
    by_prefix: dict[str, list[str]] = {}
    for name in names:
        phenomenon_of(name, data.taxonomy)  # unknown names fail here, naming themselves
        prefix, rest = _split(name)
        by_prefix.setdefault(prefix, []).append(rest)
    out: dict[str, Paradigm] = {}
    for prefix, rests in by_prefix.items():
        if prefix == "":
            out.update(blimp.load_blimp(data.blimp_dir or None, rests))
        else:
            folder = str(_OWN_SETS.get(prefix, ""))
            out.update({prefix + r: _read(prefix, r, folder) for r in rests})
    return {name: out[name] for name in names}


@functools.lru_cache(maxsize=256)
def _read(prefix: str, rest: str, folder: str) -> Paradigm:
    """One paradigm of Zorro, CLAMS or a set of your own (in ``folder``), read once a process."""
    if prefix == zorro.PREFIX:
        return zorro.read_zorro_paradigm(zorro.ZORRO_DIR / f"{rest}.txt.gz")
    if prefix == clams.PREFIX:
        return clams.read_clams_paradigm(clams.CLAMS_DIR / f"{rest}.txt.gz")
    return read_own_paradigm(Path(folder), prefix, rest)
