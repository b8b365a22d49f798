"""Numerical precision: ``fp32``, or ``bf16`` mixed precision where the hardware runs it fast.

``bf16`` means ``torch.autocast(dtype=torch.bfloat16)`` around forward passes: matmuls run in
bfloat16 (on this project's CPUs, on the AVX-512 BF16 / AMX units, about 2.5-3x the float32
matmul rate), while master weights, optimizer state, losses, log-softmax and reductions stay in
float32. ``auto`` picks ``bf16`` where the device has fast bfloat16 matmuls (a CPU with
AVX-512 BF16 or AMX, checked at run time; a CUDA GPU that supports bf16) and ``fp32`` elsewhere.

The precision actually used is part of the identity of whatever it can change (a pretraining
run, a task space), so ``auto`` is resolved before anything is keyed. Presets pin ``bf16`` or
``fp32`` rather than ``auto``: a committed result must be found by the same key on a machine
without bfloat16 units (autocast to bfloat16 works there too, only slower).
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import torch

from ..config import PRECISIONS
from ..errors import ConfigError

CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    """Whether this CPU has bfloat16 matmul units (AVX-512 BF16 or AMX), from torch or /proc/cpuinfo."""
    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if any(probe is not None and probe() for probe in probes):
        return True
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return any(flag in flags for flag in CPU_BF16_FLAGS)


def bf16_is_fast(device: str) -> bool:
    """Whether bfloat16 mixed precision is faster than float32 on ``device`` (a resolved device name)."""
    if device.startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device == "cpu":
        return cpu_has_fast_bf16()
    return False  # mps and others: keep float32


def resolve_precision(precision: str, device: str) -> str:
    """``fp32`` or ``bf16``: ``auto`` resolved for ``device`` (``auto`` there means the GPU if any)."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision '{precision}' is not one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        return "bf16" if bf16_is_fast(device) else "fp32"
    return precision


def autocast(precision: str, device: str):
    """A context for forward passes at ``precision`` (``fp32`` or ``bf16``, already resolved) on ``device``."""
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision != "bf16":
        raise ConfigError(f"precision '{precision}' must be resolved to fp32 or bf16 before use")
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


def compute_dtype(precision: str) -> torch.dtype:
    """The matmul dtype of a resolved precision."""
    return torch.bfloat16 if precision == "bf16" else torch.float32


def key_precision(section, device: str) -> dict:
    """What a key records of a config section's precision (resolved for ``device``): nothing for
    fp32, the exact default, so keys of results computed before precision existed stay valid; else
    ``{"precision": ...}``."""
    precision = resolve_precision(section.precision, device)
    return {} if precision == "fp32" else {"precision": precision}
