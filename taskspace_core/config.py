"""Configuration: frozen dataclasses, YAML presets, dotted overrides and stable hashes.

A *preset* (``ci``, ``tiny``, ``cpu-v1``, ``cpu``, ``paper``) is one YAML file in ``presets/`` that fills
in a whole consistent :class:`Config`. Any field can then be overridden with a dotted path,
e.g. ``pretrain.lr=1e-3`` or ``sizes.small.n_layers=3``; an unknown field or a value of the
wrong type raises :class:`ConfigError` naming it. No config is ever ``exec``'d.

This module is longer than the others (about 500 lines) because it is the whole schema: every
field of every section with its default, its constraint and a comment on what it does, next to
the few functions that build, override and hash it. Split, a reader would have to hold two
files open to see what a field may be.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import functools
import hashlib
import json
import math
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Mapping

import yaml

from .errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
# A clone: the repository holds the package, its data/, the committed results and the book's
# sources. An installed wheel carries the small data as the package `taskspace_core.data`
# (BLiMP, its baselines, the paper's table: pyproject.toml maps data/ onto it) and nothing
# else of the repository: what needs more says so in one line (see ``repo_file``).
REPO_ROOT = PACKAGE_DIR.parent
IN_CLONE = (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "data" / "blimp").is_dir()
DATA_DIR = REPO_ROOT / "data" if IN_CLONE else PACKAGE_DIR / "data"
PRESET_DIR = PACKAGE_DIR / "presets"
PRESETS = ("ci", "tiny", "cpu-v1", "cpu", "paper")
# preset -> the preset whose committed reference results it replaces: the claims chapter sets the
# two presets' verdicts side by side (``evidence.verdicts_beside``)
REPLACES = {"cpu": "cpu-v1"}
PRECISIONS = ("fp32", "bf16", "auto")  # see precision.py
CONFIG_SECTIONS = ("data", "tokenizer", "pretrain", "scoring", "ftgd", "space", "book")  # settable as <section>_<field>


# Constraints sit next to their fields, as dataclass field metadata, so renaming a field keeps its
# check. They are enforced when a config is built (:func:`_check_value`), so a bad preset or
# override fails with the field's dotted name before any work starts.
def choice(default: str, options: tuple[str, ...]):
    """A string field that must be one of ``options`` (``default`` among them)."""
    if default not in options:
        raise ValueError(f"default '{default}' is not one of {options}")
    return field(default=default, metadata={"choices": tuple(options)})


def positive(default=dataclasses.MISSING):
    """A number that must be > 0."""
    return field(default=default, metadata={"check": "positive"})


def non_negative(default):
    """A number that must be >= 0."""
    return field(default=default, metadata={"check": "non_negative"})


def bounded(default, low: float, high: float, high_inclusive: bool):
    """A number in [low, high] or [low, high)."""
    return field(default=default, metadata={"range": (low, high, high_inclusive)})


def fraction(default: float):
    """A share in (0, 1]."""
    return field(default=default, metadata={"check": "positive", "range": (0, 1, True)})


def non_negative_each(default: tuple):
    """A tuple of numbers, each >= 0."""
    return field(default=default, metadata={"check": "non_negative_each"})


def positive_values():
    """A mapping whose every value must be a finite number > 0."""
    return field(default_factory=dict, metadata={"check": "positive_values"})


def device_field(default: str = "cpu"):
    """A device name: cpu, cuda, cuda:N, mps or auto."""
    return field(default=default, metadata={"device": True})



@dataclass(frozen=True)
class DataConfig:
    """Where BLiMP and the corpus live, and how BLiMP pairs are split."""

    # "" = the copy vendored in the repo (data/blimp); a directory of BLiMP files; or
    # "hf:nyu-mll/blimp" (the hub, by name) / "hf:<local copy>" read through Hugging Face datasets
    blimp_dir: str = ""
    corpus_dir: str = ""  # "" = the subset vendored in the repo (data/corpus)
    taxonomy: str = choice("12", ("12", "13"))  # "12" phenomena (s-selection inside ARG-S) or "13" (BLiMP's labels)
    split_seed: int = 0
    n_test: int = positive(100)  # test pairs per paradigm (taken first, so they never depend on n_train)
    n_train: int = non_negative(200)  # training pairs per paradigm (for fine-tuning)
    paradigms: tuple[str, ...] = ()  # the paradigms a task space covers; () = all 67
    # phenomena (under ``taxonomy``, e.g. DN-AGR) whose paradigms are added to ``paradigms``;
    # both empty = all 67
    phenomena: tuple[str, ...] = ()


@dataclass(frozen=True)
class TokenizerConfig:
    """Corpus split and byte-level BPE training."""

    vocab_size: int = positive(8192)
    val_books: int = non_negative(2)  # whole books held out for validation (the split is by book)
    corpus_seed: int = 0  # order of books, and which are held out
    max_train_chars: int = non_negative(0)  # 0 = the whole training split; >0 truncates it (ci preset)


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the size registry: a Llama-style decoder."""

    d_model: int = positive()
    n_layers: int = positive()
    n_heads: int = positive()
    d_mlp: int = positive()
    context: int = positive(128)


@dataclass(frozen=True)
class PretrainConfig:
    """AdamW with linear warm-up and cosine decay; checkpoints at fractions of epochs."""

    seq_len: int = positive(128)
    batch_size: int = positive(32)
    lr: float = positive(2e-3)
    # peak learning rate of particular sizes ({large: 1e-3}); a size not named here uses ``lr``
    lr_by_size: Mapping[str, float] = positive_values()
    min_lr_ratio: float = bounded(0.1, 0, 1, True)
    warmup_steps: int = non_negative(100)
    weight_decay: float = non_negative(0.1)
    beta1: float = bounded(0.9, 0, 1, False)
    beta2: float = bounded(0.95, 0, 1, False)
    grad_clip: float = non_negative(1.0)
    epochs: float = non_negative(2.0)
    checkpoints: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0)  # in epochs; 0 = initialisation
    seed: int = 0
    max_steps: int = non_negative(0)  # >0 caps the run (smoke tests); the schedule keeps its full length
    val_blocks: int = non_negative(64)  # validation blocks (of seq_len tokens) scored at each checkpoint
    log_every: int = positive(20)
    # "fp32", "bf16" (autocast: bfloat16 matmuls, float32 master weights and optimizer state)
    # or "auto" (bf16 where the device has fast bfloat16 matmuls); part of the run's identity
    precision: str = choice("fp32", PRECISIONS)


@dataclass(frozen=True)
class ScoringConfig:
    """Minimal-pair scoring policy (recorded in every result)."""

    bos: str = choice("prepend", ("prepend", "none"))  # "prepend": log p(s | BOS), every token scored; "none": first token unscored
    batch_tokens: int = positive(2048)  # tokens per evaluation batch; a batch holds sentences of one length
    pack_pairs: bool = True  # score a pair's shared prefix once (Llama-family models; others ignore it)
    precision: str = choice("fp32", PRECISIONS)  # "fp32" (exact: the 1e-5 contract), "bf16" or "auto"; see precision.py


@dataclass(frozen=True)
class FTGDConfig:
    """Fine-tuning on one paradigm's training pairs (see ``ftgd.py`` and book/methods.md)."""

    method: str = choice("ftgd", ("ftgd", "plain"))  # "ftgd": masked gradient-differential tuning; "plain": LM loss on good sentences, no mask
    mask_rule: str = choice("threshold", ("threshold", "top_fraction"))  # "threshold": |g_diff| >= threshold; "top_fraction": the largest |g_diff|
    threshold: float = non_negative(1e-3)  # the paper's value
    top_fraction: float = fraction(0.05)  # share of parameters kept by mask_rule="top_fraction"
    mask_from: str = choice("train", ("train", "first_batch", "step"))  # "train": differential over the whole training split, fixed;
    #                           "first_batch": the first batch's, fixed; "step": recomputed every step
    mask_reduction: str = choice("mean", ("mean", "sum"))  # per-pair differentials averaged ("mean") or summed ("sum") for the mask
    objective: str = choice("logistic", ("logistic", "hinge", "differential"))  # "logistic": -log sigmoid(margin); "hinge": relu(hinge_margin - margin);
    #                              "differential": -margin (unbounded; bounded only by the step count)
    hinge_margin: float = positive(1.0)
    optimizer: str = choice("sgd", ("sgd", "adam", "adamw"))  # "sgd" (no momentum), "adam" or "adamw"
    lr: float = positive(5e-3)
    weight_decay: float = non_negative(0.0)  # adamw only
    steps: int = positive(20)
    batch_size: int = positive(32)  # training pairs per step
    seed: int = 0  # batch order
    # forward/backward of the fine-tuning steps: "fp32", "bf16" or "auto" (the mask is always
    # decided on float32 gradients)
    precision: str = choice("fp32", PRECISIONS)


@dataclass(frozen=True)
class SpaceConfig:
    """How transfers become a task space and how it is compared with the hypothesis space."""

    metric: str = choice("effect", ("accuracy", "margin", "effect"))  # transfer metric the similarity uses: "accuracy", "margin" or "effect"
    similarity: str = choice("profile", ("profile", "rows", "columns", "mutual"))  # "profile": mean of row and column correlations; "rows"; "columns"; "mutual"
    bootstrap: int = non_negative(1000)  # resamples of test pairs for the transfer CIs
    permutations: int = non_negative(9999)  # label permutations of the Mantel tests
    seed: int = 0
    # how the per-paradigm jobs run: "serial"; "processes" (local worker processes); "dask"
    # (Dask distributed: a LocalCluster of ``workers`` processes, or the cluster at ``scheduler``)
    executor: str = choice("serial", ("serial", "processes", "dask"))
    workers: int = positive(2)
    scheduler: str = ""  # address of a running Dask scheduler (e.g. tcp://10.0.0.5:8786); "" = start a LocalCluster
    threads: int = non_negative(0)  # torch threads per job; 0 = the cores divided among the workers (1 thread each when serial)


@dataclass(frozen=True)
class BookConfig:
    """The book's experiment plan: which model size each chapter studies (``""``: the chapter's
    default, noted per field), what the critique sweeps, and which null baselines, replicates and
    sparse-mask spaces back the claims (all off by default).

    A preset sets these to fit its compute budget; the choice never changes a result, only which
    results the book shows (see :func:`chapter_size` and ``experiments.book_spaces``).
    """

    rq1_size: str = ""  # RQ1's task space; "": the largest size
    baseline_size: str = ""  # RQ1's plain fine-tuning baseline (next to FTGD on the same size); "": rq1_size
    dynamics_size: str = ""  # RQ3 and the critique's profile over training; "": the largest size
    dynamics_checkpoints: tuple[float, ...] = ()  # the epochs RQ3 studies; (): every checkpoint
    sweep_size: str = ""  # the critique's threshold and seed sweeps; "": the smallest size
    sweep_thresholds: tuple[float, ...] = non_negative_each((1e-4, 1e-3, 1e-2))  # FTGD thresholds the critique sweeps (the paper's is 1e-3)
    sweep_top_fraction: float = fraction(0.05)  # the share-fixing mask rule the critique compares with the thresholds
    sweep_seeds: tuple[int, ...] = (0, 1, 2)  # FTGD batch-order seeds: the critique's and the claims' noise floor
    # the untrained (epoch-0) space of every size: the null a trained model's numbers are read against
    null_baselines: bool = False
    # pretraining-seed replicates: runs of these sizes with each of these extra ``pretrain.seed``
    # values, each with its space at these checkpoints ("final" and/or epochs, e.g. [final, 0])
    replicate_sizes: tuple[str, ...] = ()
    pretrain_seeds: tuple[int, ...] = ()
    replicate_checkpoints: tuple[str, ...] = ("final",)
    # data-split replicates: the final space of ``split_size`` ("": the sweep size) with each of
    # these extra ``data.split_seed`` values (other FTGD training pairs, so other masks)
    split_seeds: tuple[int, ...] = ()
    split_size: str = ""
    # > 0: every size's final space and every checkpoint of the dynamics size also with the
    # top-fraction mask rule at this share (the paper's "about 5%" as a fixed share); 0: off
    sparse_fraction: float = bounded(0.0, 0, 1, True)


@dataclass(frozen=True)
class Config:
    """Everything one preset fixes."""

    preset: str = "ci"
    work_dir: str = "runs"  # models, tokenizers and caches go under work_dir/<preset>/
    # committed reference results, looked up before anything is computed; a relative path is
    # relative to the repository root; "" turns the lookup off
    results_dir: str = "results"
    # where pretraining, scoring and fine-tuning run; never part of a result's identity (see
    # models.resolve_devices); "auto" picks cuda, then mps, then cpu
    device: str = device_field()
    data: DataConfig = field(default_factory=DataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    ftgd: FTGDConfig = field(default_factory=FTGDConfig)
    space: SpaceConfig = field(default_factory=SpaceConfig)
    book: BookConfig = field(default_factory=BookConfig)
    sizes: Mapping[str, ModelSpec] = field(default_factory=dict)

    def size(self, name: str) -> ModelSpec:
        if name not in self.sizes:
            raise ConfigError(
                f"unknown size '{name}' for preset '{self.preset}' (choose from {', '.join(self.sizes)})"
            )
        return self.sizes[name]

    def run_dir(self) -> Path:
        return Path(self.work_dir) / self.preset

    def reference_dir(self) -> Path | None:
        """``<results_dir>/<preset>``, where this preset's committed results live (None: lookup off)."""
        if not self.results_dir:
            return None
        root = Path(self.results_dir)
        return (root if root.is_absolute() else REPO_ROOT / root) / self.preset

    def chapter_size(self, chapter: str) -> str:
        """The size a chapter studies: ``rq1``, ``baseline``, ``dynamics``, ``sweep`` or ``split`` (see :class:`BookConfig`)."""
        names = list(self.sizes)
        chosen = getattr(self.book, f"{chapter}_size")
        if chosen:
            self.size(chosen)  # an unknown size fails here, naming the preset's sizes
            return chosen
        if chapter == "baseline":
            return self.chapter_size("rq1")
        if chapter == "split":
            return self.chapter_size("sweep")
        return names[0] if chapter == "sweep" else names[-1]


# --------------------------------------------------------------------------- building


def _build(cls, values: Mapping[str, Any], where: str):
    """Build dataclass ``cls`` from a mapping, checking names and coercing types."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in names:
            raise ConfigError(f"unknown config field '{where}.{key}' (known: {', '.join(sorted(names))})")
        kwargs[key] = _coerce(hints[key], value, f"{where}.{key}")
        _check_value(cls, key, kwargs[key], f"{where}.{key}")
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required field is missing
        raise ConfigError(f"{where}: {exc}") from None


def _check_value(cls, key: str, value, where: str) -> None:
    """Enforce the constraint in the metadata of field ``key`` of ``cls`` (see :func:`choice` and friends)."""
    meta = _field_metadata(cls)[key]
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}: must be a finite number, got {value}")
    if meta.get("device"):
        check_device(value, where)
    if "choices" in meta and value not in meta["choices"]:
        raise ConfigError(f"{where}: '{value}' is not one of {', '.join(meta['choices'])}")
    check = meta.get("check")
    if check == "positive" and not value > 0:
        raise ConfigError(f"{where}: must be > 0, got {value}")
    if check == "non_negative" and not value >= 0:
        raise ConfigError(f"{where}: must be >= 0, got {value}")
    if check == "non_negative_each" and not all(math.isfinite(v) and v >= 0 for v in value):
        raise ConfigError(f"{where}: every value must be a finite number >= 0, got {list(value)}")
    if check == "positive_values":
        for name, number in value.items():
            if not (math.isfinite(number) and number > 0):
                raise ConfigError(f"{where}.{name}: must be a finite number > 0, got {number}")
    if "range" in meta:
        low, high, high_inclusive = meta["range"]
        if not (low <= value <= high if high_inclusive else low <= value < high):
            what = "a fraction in (0, 1]" if check == "positive" else f"in [{low}, {high}{']' if high_inclusive else ')'}"
            raise ConfigError(f"{where}: must be {what}, got {value}")


@functools.cache
def _field_metadata(cls) -> dict[str, Mapping]:
    return {f.name: f.metadata for f in dataclasses.fields(cls)}


def field_choices(cls, name: str) -> tuple[str, ...] | None:
    """The allowed values of string field ``name`` of dataclass ``cls`` (None if any string goes)."""
    return _field_metadata(cls)[name].get("choices")


_DEVICE = re.compile(r"^(cpu|auto|mps|cuda(:\d+)?)$")


def check_device(value: str, where: str = "--device") -> str:
    """``value`` if it names a device (cpu, cuda, cuda:N, mps or auto), else a ConfigError naming ``where``."""
    if not _DEVICE.match(value):
        raise ConfigError(f"{where}: '{value}' is not a device (cpu, cuda, cuda:N, mps or auto)")
    return value


def _parse_text(text: str, where: str):
    """A list or mapping written as JSON or YAML flow text, or a ConfigError naming ``where``."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: cannot read {text!r} as JSON or YAML "
                          f"({getattr(exc, 'problem', None) or exc})") from None


def _coerce(hint, value, where: str):
    """Convert ``value`` (from YAML or the command line) to the type ``hint`` names."""
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return value if isinstance(value, hint) else _build(hint, value, where)
    if origin in (Mapping, dict, collections.abc.Mapping):
        _, value_type = typing.get_args(hint)
        if isinstance(value, str):  # '{"small": 3e-3}' or '{small: 3e-3}' from a command line or papermill -p
            value = _parse_text(value, where)
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return {str(k): _coerce(value_type, v, f"{where}.{k}") for k, v in value.items()}
    if origin is tuple:
        (item_type, _) = typing.get_args(hint)
        if isinstance(value, str):
            # '["DN-AGR", "SV-AGR"]' (JSON or YAML, as papermill -p passes it), "[0, 0.5, 1]" and
            # "0,0.5,1" all read as a list
            text = value.strip()
            value = _parse_text(text, where) if text.startswith("[") else [
                v.strip().strip("'\"") for v in text.strip("()").split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return tuple(_coerce(item_type, v, where) for v in value)
    try:
        if hint is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("true", "1", "yes")
            if isinstance(value, bool) or value in (0, 1):
                return bool(value)
            raise ValueError(value)
        if hint is int:
            if isinstance(value, bool):
                raise ValueError(value)
            if isinstance(value, str) and "e" in value.lower():
                value = float(value)  # "1e3"
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)  # also nan and inf
            return int(value)
        if hint is float:
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise ValueError(value)
            return float(value)
        if hint is str:
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise ValueError(value)  # YAML may read `taxonomy: 12` as a number; a list is never a string
            return str(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{where}: cannot read {value!r} as {hint.__name__}") from None
    raise ConfigError(f"{where}: unsupported type {hint}")


def repo_file(relative: str) -> Path:
    """``REPO_ROOT / relative``, or a ConfigError saying that it lives in a clone of the repository
    only (an installed wheel carries the package and its small data, not the corpus, the
    committed results or the book's sources)."""
    path = REPO_ROOT / relative
    if not path.exists():
        raise ConfigError(f"{relative} is part of the taskspace repository, not of the installed package "
                          f"(looked in {REPO_ROOT}): run this from a clone, or point the command at a copy")
    return path


def load_preset(name: str, overrides: Mapping[str, Any] | None = None) -> Config:
    """Load preset ``name`` and apply dotted ``overrides`` ({"pretrain.lr": "1e-3", ...})."""
    path = PRESET_DIR / f"{name}.yaml"
    if name not in PRESETS or not path.exists():
        raise ConfigError(f"unknown preset '{name}' (choose from {', '.join(PRESETS)})")
    raw = yaml.safe_load(path.read_text()) or {}
    raw["preset"] = name
    config = _build(Config, raw, "config")
    return apply_overrides(config, overrides or {})


def preset_hash(name: str) -> str:
    """Hash of preset ``name`` as shipped (``work_dir`` and ``results_dir`` aside): a benchmark that
    records it can tell whether it measured today's preset or an older version of it."""
    raw = to_dict(load_preset(name))
    for where in ("work_dir", "results_dir"):
        raw.pop(where, None)
    return stable_hash(raw)


def _check_size_names(config: Config) -> Config:
    """Every size a field names (``book.*_size``, ``pretrain.lr_by_size``) is one of ``sizes``."""
    named = [(f"book.{f.name}", getattr(config.book, f.name)) for f in dataclasses.fields(BookConfig)
             if f.name.endswith("_size")]
    named += [(f"book.replicate_sizes.{size}", size) for size in config.book.replicate_sizes]
    named += [(f"pretrain.lr_by_size.{size}", size) for size in config.pretrain.lr_by_size]
    for where, chosen in named:
        if chosen and chosen not in config.sizes:
            raise ConfigError(f"{where}: unknown size '{chosen}' for preset '{config.preset}' "
                              f"(choose from {', '.join(config.sizes)})")
    return config


def apply_overrides(config: Config, overrides: Mapping[str, Any]) -> Config:
    """Return a copy of ``config`` with dotted-path overrides applied."""
    raw = to_dict(config)
    for path, value in overrides.items():
        parts = path.split(".")
        node, hint = raw, Config
        for i, part in enumerate(parts):
            # inside a mapping of scalars (e.g. pretrain.lr_by_size) a new key may be added
            open_mapping = _is_mapping(hint) and not dataclasses.is_dataclass(typing.get_args(hint)[1])
            if not isinstance(node, dict) or (part not in node and not open_mapping):
                raise ConfigError(f"unknown config field '{path}'")
            hint = typing.get_type_hints(hint)[part] if dataclasses.is_dataclass(hint) else typing.get_args(hint)[1]
            if i == len(parts) - 1:
                if dataclasses.is_dataclass(hint) or (isinstance(node.get(part), dict) and not _is_mapping(hint)):
                    raise ConfigError(f"config field '{path}' is a section; set one of its fields")
                if _is_mapping(hint) and not isinstance(value, Mapping):
                    raise ConfigError(f"config field '{path}' is a mapping; set one of its entries "
                                      f"('{path}.NAME VALUE') or give a mapping")
                node[part] = value
            else:
                node = node[part]
    return _check_size_names(_build(Config, raw, "config"))


def parameter_overrides(**parameters) -> dict[str, object]:
    """Flat parameter names -> dotted overrides: ``{"ftgd_threshold": 1e-3, "work_dir": "runs"}`` ->
    ``{"ftgd.threshold": 1e-3, "work_dir": "runs"}``.

    The notebooks' parameters (and the changes of a planned task space) use these flat names: the
    config's section and field joined by an underscore. ``None`` means "the preset's value".
    """
    top_level = {f.name for f in dataclasses.fields(Config)}
    overrides = {}
    for name, value in parameters.items():
        if value is None:
            continue
        if name in top_level:
            overrides[name] = value
            continue
        section, _, field = name.partition("_")
        if section not in CONFIG_SECTIONS or not field:
            raise ConfigError(f"notebook parameter '{name}' is not a config field "
                              f"(use <section>_<field> with section one of {', '.join(CONFIG_SECTIONS)})")
        overrides[f"{section}.{field}"] = list(value) if isinstance(value, tuple) else value
    return overrides


def _is_mapping(hint) -> bool:
    return typing.get_origin(hint) in (Mapping, dict, collections.abc.Mapping)


def to_dict(obj) -> Any:
    """Plain JSON-able dict/list form of a config (tuples become lists)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj


def stable_hash(obj, length: int = 12) -> str:
    """A short sha256 of the canonical JSON form of ``obj`` (dataclasses included)."""
    text = json.dumps(to_dict(obj), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def parse_dotted_args(args: list[str]) -> dict[str, str]:
    """Turn ``["--pretrain.lr", "1e-3", "--data.n_test=50"]`` into ``{"pretrain.lr": "1e-3", ...}``.

    Dashes in names are read as underscores (``--work-dir`` = ``--work_dir``).
    """
    overrides, i = {}, 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or len(arg) < 3:
            raise ConfigError(f"unrecognised argument '{arg}' (config overrides look like --section.field VALUE)")
        if "=" in arg:
            key, value = arg[2:].split("=", 1)
            i += 1
        else:
            if i + 1 >= len(args):
                raise ConfigError(f"override '{arg}' needs a value")
            key, value = arg[2:], args[i + 1]
            i += 2
        overrides[key.replace("-", "_")] = value
    return overrides
