"""Configuration: the schema of every field, its validation, presets, overrides and stable hashes.

    schema   the sections (:class:`DataConfig` ... :class:`BookConfig`) and :class:`Config`
    fields   each field's constraint and the checks that enforce it
    build    presets, dotted overrides, notebook parameters, ``to_dict`` and ``stable_hash``
"""

from .build import (
    CONFIG_SECTIONS, PRESETS, apply_overrides, load_preset, parameter_overrides, preset_hash, stable_hash,
    to_dict,
)
from .fields import PRECISIONS, check_device
from .schema import (
    BookConfig, Config, DataConfig, FTGDConfig, ModelSpec, PretrainConfig, ScoringConfig, SpaceConfig,
    TokenizerConfig,
)

__all__ = ["BookConfig", "CONFIG_SECTIONS", "Config", "DataConfig", "FTGDConfig", "ModelSpec", "PRECISIONS",
           "PRESETS", "PretrainConfig", "ScoringConfig", "SpaceConfig", "TokenizerConfig", "apply_overrides",
           "check_device", "load_preset", "parameter_overrides", "preset_hash", "stable_hash", "to_dict"]
