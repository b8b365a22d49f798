"""Command-line arguments: the options several commands share, and a config from them.

Every command takes dotted overrides of any config field after its own options
(``--pretrain.lr 1e-3 --data.n_test=50``): :func:`parse_dotted_args` reads them and
:func:`config_from_args` applies them to the chosen preset.
"""

from __future__ import annotations

import argparse

from ..config import PRESETS
from ..errors import ConfigError


def add_config_args(parser: argparse.ArgumentParser, preset_required: bool) -> None:
    parser.add_argument("--preset", required=preset_required, default=None,
                        help=f"{', '.join(PRESETS[:-1])} or {PRESETS[-1]}")
    parser.add_argument("--data-dir", default=None, help="another copy of BLiMP (sets data.blimp_dir): a directory of "
                        "BLiMP files, or hf:nyu-mll/blimp / hf:DIR through Hugging Face datasets")
    parser.add_argument("--device", default=None,
                        help="cpu, cuda, cuda:N, mps or auto, for pretraining, scoring and fine-tuning")
    parser.add_argument("--workers", default=None,
                        help="run the per-paradigm jobs on a Dask LocalCluster of N worker processes")
    parser.add_argument("--scheduler", default=None,
                        help="run the per-paradigm jobs on the Dask cluster at ADDRESS (tcp://host:8786)")


def add_model_args(parser: argparse.ArgumentParser, required: bool, help_text: str) -> None:
    parser.add_argument("--model", required=required, default=None, help=help_text)
    parser.add_argument("--revision", default=None, help="hub revision (branch, tag or commit) of --model")



def config_from_args(args, extra: list[str], typed: dict | None = None, default_preset: str = "cpu"):
    """The preset a command names (``default_preset`` if none) with its dotted overrides
    (``extra``), the shared options (``--data-dir``, ``--device``, ``--workers``,
    ``--scheduler``) and a command's own typed options (``typed``: dotted field -> value)."""
    from ..config import load_preset

    overrides = {**parse_dotted_args(extra), **(typed or {})}
    if args.data_dir:
        overrides["data.blimp_dir"] = args.data_dir
    if getattr(args, "device", None):
        overrides["device"] = args.device
    if getattr(args, "workers", None) or getattr(args, "scheduler", None):
        overrides["space.executor"] = "dask"
        if args.workers:
            overrides["space.workers"] = args.workers
        if args.scheduler:
            overrides["space.scheduler"] = args.scheduler
    return load_preset(args.preset or default_preset, overrides)


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
