"""Configuration: the schema of every field, its validation, presets, overrides and stable hashes.

    schema   the sections (:class:`DataConfig` ... :class:`BookConfig`) and :class:`Config`
    fields   each field's constraint and the checks that enforce it
    build    presets, dotted overrides, notebook parameters, ``to_dict`` and ``stable_hash``
"""

from .build import (
    CONFIG_SECTIONS, LATER_FIELDS, PRESETS, apply_overrides, is_earlier_behaviour, load_preset,
    parameter_overrides, preset_hash, stable_hash, to_dict,
)
from .fields import PRECISIONS, check_device
from .schema import (
    BookConfig, Config, DataConfig, FTGDConfig, ModelSpec, PretrainConfig, ScoringConfig, SpaceConfig,
    TokenizerConfig,
)

__all__ = ["BookConfig", "CONFIG_SECTIONS", "Config", "DataConfig", "FTGDConfig", "LATER_FIELDS", "ModelSpec",
           "PRECISIONS", "PRESETS", "PretrainConfig", "ScoringConfig", "SpaceConfig", "TokenizerConfig",
           "apply_overrides", "check_device", "is_earlier_behaviour", "load_preset", "parameter_overrides",
           "preset_hash", "stable_hash", "to_dict"]
