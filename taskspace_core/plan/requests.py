"""The plan: every task space a preset's book needs, each with the role it plays, built once.

A :class:`SpaceRequest` names one task space by what differs from the preset (a size, a
checkpoint, and where asked a pretraining seed, a data split, an FTGD seed, the fine-tuning
method or a mask rule) and says why the book needs it (its :class:`Role`). :func:`plan_of`
builds the whole plan from the preset's ``book`` section; everything that needs a space
(``reproduce``, the completeness check, the cost tables, the claims' evidence, the chapters and
the explorer) looks it up here by role, so the plan is written once. Adding a kind of space
means adding a role and the lines below that request it.

One space can play several roles (the smallest size's final space is also the first FTGD seed
of the critique's sweep): :meth:`Plan.find` answers every role, :meth:`Plan.unique` lists each
space once, in the order ``reproduce`` computes them (the claims' evidence first).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum

from ..config import Config, FTGDConfig, apply_overrides, parameter_overrides, stable_hash
from ..errors import ConfigError
from ..corpora.benchmarks import TITLES, benchmark, load_pairs, paradigms_of, phenomenon_of, selected_paradigms
from ..lm.checkpoints import checkpoint_epoch, dynamics_epochs


class Role(StrEnum):
    """Why the book needs a space."""

    FINAL = "final"  # RQ1 and RQ2: the final checkpoint of every size
    NULL = "null"  # the untrained network: what a trained model's numbers are read against
    SEED_REPLICATE = "seed replicate"  # another pretraining seed of a size
    SPLIT_REPLICATE = "split replicate"  # another train/test split of every paradigm's pairs
    SPARSE = "sparse"  # a size's final checkpoint under the fixed-share mask rule
    BASELINE = "baseline"  # RQ1: plain fine-tuning, no mask
    DYNAMICS = "dynamics"  # RQ3: checkpoints over training
    SPARSE_DYNAMICS = "sparse dynamics"  # RQ3's checkpoints under the fixed-share mask rule
    THRESHOLD_SWEEP = "threshold sweep"  # the critique: other FTGD thresholds
    SHARE_SWEEP = "share sweep"  # the critique: a fixed share instead of a threshold
    FTGD_SEED = "ftgd seed"  # the critique: other FTGD batch orders
    RANDOM_MASKS = "random masks"  # the method control: random masks of FTGD's per-paradigm share
    MASK_REPLICATE = "mask replicate"  # claim 4's bands: a pretraining-seed replicate's masks alone (a mask set)
    BENCHMARK = "benchmark"  # generality: another benchmark's (or a cross-benchmark) space, trained and untrained
    BENCHMARK_SPLIT = "benchmark split"  # generality: that space under other data splits, its band


PURPOSE = {
    Role.FINAL: "RQ1/RQ2: final checkpoint of every size",
    Role.NULL: "null: the untrained network",
    Role.SEED_REPLICATE: "replicates: pretraining seed",
    Role.SPLIT_REPLICATE: "replicates: data split",
    Role.SPARSE: "sparse masks: every size",
    Role.BASELINE: "RQ1: plain fine-tuning baseline",
    Role.DYNAMICS: "RQ3: learning dynamics",
    Role.SPARSE_DYNAMICS: "sparse masks: learning dynamics",
    Role.THRESHOLD_SWEEP: "critique: threshold sweep",
    Role.SHARE_SWEEP: "critique: fixed share instead of a threshold",
    Role.FTGD_SEED: "critique: FTGD seeds",
    Role.RANDOM_MASKS: "control: random masks of FTGD's share",
    Role.MASK_REPLICATE: "replicates: pretraining seed, masks only",
    Role.BENCHMARK: "generality: other benchmarks",
    Role.BENCHMARK_SPLIT: "generality: other benchmarks, data splits",
}


@dataclass(frozen=True)
class Masks:
    """An FTGD mask rule: parameters with |g| at or above ``value`` (``threshold``), or the
    ``value`` share with the largest |g| (``top_fraction``)."""

    rule: str
    value: float

    @classmethod
    def of(cls, ftgd: FTGDConfig) -> Masks:
        return cls(ftgd.mask_rule, ftgd.threshold if ftgd.mask_rule == "threshold" else ftgd.top_fraction)

    @property
    def label(self) -> str:
        """The rule in a few words: ``threshold 0.001``, ``top 5%``."""
        return f"threshold {self.value:g}" if self.rule == "threshold" else f"top {self.value:.0%}"

    def changes(self) -> dict[str, object]:
        value_field = "ftgd_threshold" if self.rule == "threshold" else "ftgd_top_fraction"
        return {"ftgd_mask_rule": self.rule, value_field: self.value}


def mask_label(ftgd: FTGDConfig) -> str:
    """What FTGD updates under ``ftgd``, in a few words (every chapter and the explorer say it so)."""
    if ftgd.method == "plain":
        return "none (every parameter)"
    label = Masks.of(ftgd).label
    return f"random, at the share of {label}" if ftgd.mask_selection == "random" else label


@dataclass(frozen=True)
class SpaceRequest:
    """One task space: a size and checkpoint of the preset, with what differs from the preset."""

    role: Role
    size: str
    checkpoint: str | float = "final"
    pretrain_seed: int | None = None
    split_seed: int | None = None
    method: str | None = None  # "plain": fine-tuning without a mask
    masks: Masks | None = None
    ftgd_seed: int | None = None
    mask_selection: str | None = None  # "random": the method control
    benchmarks: tuple[str, ...] | None = None  # ("zorro",): another benchmark's space
    phenomena: tuple[str, ...] = ()  # with ``benchmarks``: only these phenomena's paradigms (): all
    paradigms: tuple[str, ...] = ()  # with ``benchmarks``: these paradigms instead (see benchmark_entry)

    @property
    def purpose(self) -> str:
        return PURPOSE[self.role]

    def changes(self) -> dict[str, object]:
        """What differs from the preset, as notebook parameters (``{"pretrain_seed": 1}``)."""
        changes = {"pretrain_seed": self.pretrain_seed, "data_split_seed": self.split_seed,
                   "ftgd_method": self.method, **(self.masks.changes() if self.masks else {}),
                   "ftgd_seed": self.ftgd_seed, "ftgd_mask_selection": self.mask_selection}
        if self.benchmarks is not None:  # the preset's phenomena on those benchmarks, not its paradigm names
            changes |= {"data_benchmarks": self.benchmarks, "data_paradigms": self.paradigms,
                        "data_phenomena": self.phenomena}
        return {name: value for name, value in changes.items() if value is not None}

    def config(self, config: Config) -> Config:
        """``config`` with this request's changes applied."""
        changes = self.changes()
        return apply_overrides(config, parameter_overrides(**changes)) if changes else config

    def describe(self) -> str:
        """``small @ final (pretrain_seed=1)``, as ``taskspace results --plan`` lists it."""
        def shown(name: str, value) -> str:
            if name == "data_paradigms":  # named one by one only where a paradigm is left out: too long to list
                return f"{len(value)} paradigms"
            return "+".join(map(str, value)) if isinstance(value, tuple) else str(value)

        changes = ", ".join(f"{k}={shown(k, v)}" for k, v in self.changes().items() if v != ())
        where = self.checkpoint if str(self.checkpoint) == "final" else f"epoch {float(self.checkpoint):g}"
        return f"{self.size} @ {where}" + (f" ({changes})" if changes else "")

    def identity(self, config: Config) -> tuple:
        """What makes two requests the same space under ``config``."""
        return self.size, checkpoint_epoch(config, self.checkpoint), stable_hash(self.config(config))


@dataclass(frozen=True)
class Plan:
    """Every space a preset's book needs, with its role (a space with two roles appears twice),
    and the mask sets (every paradigm's FTGD mask alone, role ``MASK_REPLICATE``) it needs."""

    config: Config
    requests: tuple[SpaceRequest, ...]
    mask_sets: tuple[SpaceRequest, ...] = ()

    def unique(self) -> list[SpaceRequest]:
        """Each space once, in plan order: what ``reproduce`` computes, numbered from 1."""
        unique, seen = [], set()
        for request in self.requests:
            identity = request.identity(self.config)
            if identity not in seen:
                seen.add(identity)
                unique.append(request)
        return unique

    def find(self, role: Role, size: str | None = None, checkpoint: str | float | None = None) -> list[SpaceRequest]:
        """The requests of ``role`` (of ``size`` at ``checkpoint``, where given), in plan order."""
        return [r for r in self.requests if r.role == role and size in (None, r.size)
                and (checkpoint is None or checkpoint_epoch(self.config, r.checkpoint)
                     == checkpoint_epoch(self.config, checkpoint))]

    def one(self, role: Role, size: str | None = None, checkpoint: str | float | None = None) -> SpaceRequest | None:
        found = self.find(role, size, checkpoint)
        return found[0] if found else None

    def seeds(self, size: str, checkpoint: str | float = "final") -> list[SpaceRequest]:
        """``size``'s space at ``checkpoint`` at the preset's pretraining seed, then under every
        other seed the plan computes there (a list of one where it has none)."""
        final = checkpoint_epoch(self.config, checkpoint) == checkpoint_epoch(self.config, "final")
        base = SpaceRequest(Role.FINAL if final else Role.DYNAMICS, size, checkpoint)
        return [base] + self.find(Role.SEED_REPLICATE, size, checkpoint)

    def splits(self) -> list[SpaceRequest]:
        """The split size's final space under the preset's data split, then every other split the
        plan computes (a list of one where it has none)."""
        return [SpaceRequest(Role.FINAL, self.split_size)] + self.find(Role.SPLIT_REPLICATE)

    @property
    def split_size(self) -> str:
        return self.config.chapter_size("split")

    @property
    def sparse_masks(self) -> Masks | None:
        """The fixed-share mask rule the plan computes beside the preset's (None: it computes none)."""
        fraction = self.config.book.sparse_fraction
        return Masks("top_fraction", fraction) if fraction else None

    @property
    def null_sizes(self) -> list[str]:
        """The sizes whose untrained space the plan computes."""
        return [r.size for r in self.find(Role.NULL)]


def plan_of(config: Config) -> Plan:
    """The plan of ``config``'s book (its ``book`` section) in the order ``reproduce`` computes it:
    the claims' evidence (with the method control) first, then generality (other benchmarks),
    then the critique's sweeps, so an interrupted run has computed what matters most."""
    book, sizes = config.book, list(config.sizes)
    sweep, dynamics = config.chapter_size("sweep"), config.chapter_size("dynamics")
    epochs = dynamics_epochs(config)
    sparse = Plan(config, ()).sparse_masks
    if (book.dynamics_replicate_checkpoints or book.mask_replicates) and dynamics not in book.replicate_sizes:
        raise ConfigError(f"book.dynamics_replicate_checkpoints and book.mask_replicates need the dynamics size "
                          f"'{dynamics}' in book.replicate_sizes (its pretraining-seed runs)")
    replicated = [checkpoint_epoch(config, e) for e in book.dynamics_replicate_checkpoints]
    nulls = sizes if book.null_baselines else ([dynamics] if 0 in epochs else [])
    requests = [SpaceRequest(Role.FINAL, s) for s in sizes]
    requests += [SpaceRequest(Role.NULL, s, 0.0) for s in sizes if book.null_baselines]
    requests += [SpaceRequest(Role.SEED_REPLICATE, s, c, pretrain_seed=seed) for s in book.replicate_sizes
                 for seed in book.pretrain_seeds for c in book.replicate_checkpoints]
    requests += [SpaceRequest(Role.SPLIT_REPLICATE, config.chapter_size("split"), split_seed=seed)
                 for seed in book.split_seeds]
    requests += [SpaceRequest(Role.SPARSE, s, masks=sparse) for s in sizes if sparse]
    requests.append(SpaceRequest(Role.BASELINE, config.chapter_size("baseline"), method="plain"))
    requests += [SpaceRequest(Role.DYNAMICS, dynamics, e) for e in epochs]
    requests += [SpaceRequest(Role.SPARSE_DYNAMICS, dynamics, e, masks=sparse) for e in epochs if sparse]
    requests += [SpaceRequest(Role.SEED_REPLICATE, dynamics, e, pretrain_seed=seed) for e in replicated
                 for seed in book.pretrain_seeds]
    if book.random_mask_sparse and not (sparse and book.random_mask_sizes):
        raise ConfigError("book.random_mask_sparse needs book.sparse_fraction > 0 and book.random_mask_sizes "
                          "(the sizes whose control it repeats under the sparse rule)")
    requests += [SpaceRequest(Role.RANDOM_MASKS, s, mask_selection="random") for s in book.random_mask_sizes]
    requests += [SpaceRequest(Role.RANDOM_MASKS, s, masks=sparse, mask_selection="random")
                 for s in book.random_mask_sizes if book.random_mask_sparse]
    entries = [benchmark_entry(config, entry) for entry in book.benchmark_spaces]
    for s in book.benchmark_sizes:  # size by size, in the order named: the first size's generality is whole first
        for chosen, phenomena, paradigms in entries:
            covers = {"benchmarks": chosen, "phenomena": phenomena, "paradigms": paradigms}
            requests += [SpaceRequest(Role.BENCHMARK, s, c, **covers) for c in ("final", 0.0)]
            requests += [SpaceRequest(Role.BENCHMARK_SPLIT, s, split_seed=seed, **covers) for seed in book.split_seeds]
    requests += [SpaceRequest(Role.THRESHOLD_SWEEP, sweep, masks=Masks("threshold", t)) for t in book.sweep_thresholds]
    requests.append(SpaceRequest(Role.SHARE_SWEEP, sweep, masks=Masks("top_fraction", book.sweep_top_fraction)))
    requests += [SpaceRequest(Role.FTGD_SEED, sweep, ftgd_seed=seed) for seed in book.sweep_seeds]
    if not book.null_baselines:  # the untrained space RQ3 starts from is a null too
        requests += [SpaceRequest(Role.NULL, s, 0.0) for s in nulls]
    mask_rules = [None, sparse] if sparse else [None]  # None: the preset's own rule
    mask_sets = [SpaceRequest(Role.MASK_REPLICATE, dynamics, e, pretrain_seed=seed, masks=rule)
                 for rule in mask_rules for e in epochs for seed in book.pretrain_seeds] if book.mask_replicates else []
    return Plan(config, tuple(requests), tuple(mask_sets))


@dataclass(frozen=True)
class BenchmarkSet:
    """One ``book.benchmark_spaces`` entry, parsed once: ``zorro`` is one benchmark's own space
    (rule G1), ``blimp+zorro`` a cross-benchmark space (G2), ``blimp>clams`` the template check
    (G3), whose arrow is the direction the rule reads the transfer in."""

    benchmarks: tuple[str, ...]
    directed: bool = False

    @classmethod
    def parse(cls, entry: str) -> BenchmarkSet:
        directed = ">" in entry
        return cls(tuple(entry.split(">" if directed else "+")), directed)

    @property
    def rule(self) -> str:
        return "G3" if self.directed else "G2" if len(self.benchmarks) > 1 else "G1"

    @property
    def direction(self) -> tuple[str, ...] | None:
        """(source benchmark, target benchmark) for a directed entry, else None."""
        return self.benchmarks if self.directed else None

    @property
    def titles(self) -> tuple[str, ...]:
        return tuple(TITLES.get(name, name) for name in self.benchmarks)

    @property
    def title(self) -> str:
        """``Zorro``, ``BLiMP + Zorro``, ``BLiMP → CLAMS English``."""
        return (" → " if self.directed else " + ").join(self.titles)


def benchmark_entry(config: Config, entry: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The benchmarks, phenomena and paradigms (() where the phenomena say it) of one
    ``book.benchmark_spaces`` entry.

    ``"zorro"``: one benchmark's own space (rule G1); ``"blimp+zorro"``: a cross-benchmark space
    over every paradigm of both (G2); both cover the preset's phenomena (:func:`preset_phenomena`).
    ``"blimp>clams"``: the template check (G3), a space over both benchmarks restricted to the
    phenomena the second one tests, within the preset's; the arrow is the direction G3 reads.
    A paradigm with fewer pairs than the preset's split takes (``data.n_test + data.n_train``;
    four of CLAMS's at ``cpu``) cannot be split, so the space then names its paradigms, without it."""
    parsed = BenchmarkSet.parse(entry)
    chosen = parsed.benchmarks
    if not parsed.directed:
        return chosen, preset_phenomena(config), ()
    tested = {phenomenon_of(p, config.data.taxonomy) for p in paradigms_of(benchmark(chosen[-1]))}
    within = preset_phenomena(config)
    phenomena = tuple(sorted(tested & set(within) if within else tested))
    covered = apply_overrides(config, {"data.benchmarks": chosen, "data.paradigms": (), "data.phenomena": phenomena})
    names = selected_paradigms(covered.data)
    counts = pair_counts(covered.data, tuple(names))
    enough = tuple(p for p in names if counts[p] >= config.data.n_test + config.data.n_train)
    return (chosen, phenomena, ()) if len(enough) == len(names) else (chosen, (), enough)


@functools.lru_cache(maxsize=16)
def pair_counts(data, names: tuple[str, ...]) -> dict[str, int]:
    """How many pairs each paradigm of ``names`` has (the files are read and checked once per process)."""
    return {name: len(paradigm.pairs) for name, paradigm in load_pairs(data, names).items()}


def preset_phenomena(config: Config) -> tuple[str, ...]:
    """The phenomena a preset's BLiMP selection covers, which its spaces on other benchmarks cover
    too: () when it takes every paradigm (so every paradigm of the other benchmark)."""
    d = config.data
    if not d.paradigms and not d.phenomena:
        return ()
    return tuple(sorted({phenomenon_of(p, d.taxonomy) for p in selected_paradigms(d)}))


def pretraining_runs(config: Config) -> list[tuple[Config, str]]:
    """Every pretraining run the plan needs, as ``(config, size)``: each size at the preset's
    seed, then the pretraining-seed replicates (``book.replicate_sizes`` x ``book.pretrain_seeds``)."""
    runs = [(config, size) for size in config.sizes]
    for size in config.book.replicate_sizes:
        runs += [(apply_overrides(config, {"pretrain.seed": seed}), size) for seed in config.book.pretrain_seeds]
    return runs
