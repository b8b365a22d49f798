"""Config fields with their constraints, and the checks that enforce them.

A constraint sits next to its field, as dataclass field metadata (``choice``, ``positive``, ...),
so renaming a field keeps its check. :func:`check_value` enforces it when a config is built, so a
bad preset or override fails with the field's dotted name before any work starts.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Mapping
from dataclasses import field

from ..errors import ConfigError

PRECISIONS = ("fp32", "bf16", "auto")  # see lm/precision.py


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



def check_value(cls, key: str, value, where: str) -> None:
    """Enforce the constraint in the metadata of field ``key`` of ``cls`` (see :func:`choice` and friends)."""
    meta = field_metadata(cls)[key]
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
def field_metadata(cls) -> dict[str, Mapping]:
    return {f.name: f.metadata for f in dataclasses.fields(cls)}


_DEVICE = re.compile(r"^(cpu|auto|mps|cuda(:\d+)?)$")


def check_device(value: str, where: str = "--device") -> str:
    """``value`` if it names a device (cpu, cuda, cuda:N, mps or auto), else a ConfigError naming ``where``."""
    if not _DEVICE.match(value):
        raise ConfigError(f"{where}: '{value}' is not a device (cpu, cuda, cuda:N, mps or auto)")
    return value

