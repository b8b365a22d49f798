"""Building a config: a preset's YAML, dotted overrides, notebook parameters, and stable hashes.

Any field can be overridden with a dotted path, e.g. ``pretrain.lr=1e-3`` or
``sizes.small.n_layers=3``; an unknown field or a value of the wrong type raises
:class:`~taskspace_core.errors.ConfigError` naming it. No config is ever ``exec``'d.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import hashlib
import json
import typing
from collections.abc import Mapping
from typing import Any

import yaml

from ..errors import ConfigError
from ..paths import PRESET_DIR
from .fields import check_value
from .schema import BookConfig, Config

PRESETS = ("ci", "tiny", "cpu-v1", "cpu", "cpu-next", "paper")
CONFIG_SECTIONS = ("data", "tokenizer", "pretrain", "scoring", "ftgd", "space", "book")  # settable as <section>_<field>


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
        check_value(cls, key, kwargs[key], f"{where}.{key}")
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required field is missing
        raise ConfigError(f"{where}: {exc}") from None


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


def load_preset(name: str, overrides: Mapping[str, Any] | None = None) -> Config:
    """Load preset ``name`` and apply dotted ``overrides`` ({"pretrain.lr": "1e-3", ...})."""
    path = PRESET_DIR / f"{name}.yaml"
    if name not in PRESETS or not path.exists():
        raise ConfigError(f"unknown preset '{name}' (choose from {', '.join(PRESETS)})")
    raw = yaml.safe_load(path.read_text()) or {}
    raw["preset"] = name
    config = _build(Config, raw, "config")
    return apply_overrides(config, overrides or {})


# Fields added after results were committed, with the value that does what the code did before
# them. Hashes leave such a field out at that value (a preset's hash here, a space's key in
# results/keys.py), so adding a field does not orphan a committed result or a benchmark that
# measured the same computation.
LATER_FIELDS: dict[tuple[str, str], Any] = {("scoring", "eval2"): "sentences", ("ftgd", "mask_selection"): "gradient",
                                             ("book", "random_mask_sizes"): (), ("data", "benchmarks"): ("blimp",),
                                             ("book", "benchmark_spaces"): (), ("book", "benchmark_sizes"): (),
                                             ("pretrain", "init"): "hf", ("book", "dynamics_replicate_checkpoints"): (),
                                             ("book", "mask_replicates"): False, ("book", "random_mask_sparse"): False}


def is_earlier_behaviour(config: Config, section: str, name: str) -> bool:
    """Whether ``config``'s later-added field ``section.name`` holds its before-the-field value."""
    return getattr(getattr(config, section), name) == LATER_FIELDS[(section, name)]


def preset_hash(name: str) -> str:
    """Hash of preset ``name`` as shipped (``work_dir`` and ``results_dir`` aside): a benchmark that
    records it can tell whether it measured today's preset or an older version of it."""
    config = load_preset(name)
    raw = to_dict(config)
    for where in ("work_dir", "results_dir"):
        raw.pop(where, None)
    for section, field_name in LATER_FIELDS:
        if is_earlier_behaviour(config, section, field_name):
            raw[section].pop(field_name)
    return stable_hash(raw)


def _check_size_names(config: Config) -> Config:
    """Every size a field names (``book.*_size``, ``pretrain.lr_by_size``) is one of ``sizes``."""
    named = [(f"book.{f.name}", getattr(config.book, f.name)) for f in dataclasses.fields(BookConfig)
             if f.name.endswith("_size")]
    named += [(f"book.replicate_sizes.{size}", size) for size in config.book.replicate_sizes]
    named += [(f"book.random_mask_sizes.{size}", size) for size in config.book.random_mask_sizes]
    named += [(f"book.benchmark_sizes.{size}", size) for size in config.book.benchmark_sizes]
    named += [(f"book.shipped_sizes.{size}", size) for size in config.book.shipped_sizes]
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

