"""Fuzzing the config and override parser: any input is either a valid Config or a ConfigError.

Never another exception (a TypeError, an OverflowError, a crash deep in a run), and a value that
was accepted reads back as what was written.
"""

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskspace_core.cli.args import parse_dotted_args
from taskspace_core.config import Config, apply_overrides, load_preset, stable_hash, to_dict
from taskspace_core.config.build import _build
from taskspace_core.config.fields import field_metadata
from taskspace_core.errors import ConfigError

BASE = load_preset("ci")
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def leaf_paths(tree, prefix=""):
    """Every dotted path to a scalar or list field of a config dict."""
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from leaf_paths(value, path + ".")
        else:
            yield path, value


LEAVES = dict(leaf_paths(to_dict(BASE)))
PATHS = sorted(LEAVES)

texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
scalars = st.one_of(
    texts, st.integers(min_value=-(10**30), max_value=10**30), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.none(), st.sampled_from(["1e400", "-1e400", "nan", "inf", "1e3", "0", "-1", "[1,2]", "true"]),
)
values = st.one_of(scalars, st.lists(scalars, max_size=4), st.dictionaries(texts, scalars, max_size=3))
paths = st.one_of(st.sampled_from(PATHS), texts, st.sampled_from(PATHS).map(lambda p: p + ".x"),
                  st.sampled_from(PATHS).map(lambda p: p.rsplit(".", 1)[0]))


def accepted_or_config_error(build):
    try:
        return build()
    except ConfigError as exc:
        assert str(exc)  # a message that says something
        return None


@FUZZ
@given(st.lists(texts, max_size=6))
def test_parse_dotted_args_accepts_or_names_the_problem(args):
    parsed = accepted_or_config_error(lambda: parse_dotted_args(args))
    if parsed is not None:
        assert all(isinstance(k, str) and "-" not in k for k in parsed)


@FUZZ
@given(st.dictionaries(paths, values, max_size=4))
def test_any_overrides_give_a_config_or_a_config_error(overrides):
    config = accepted_or_config_error(lambda: apply_overrides(BASE, overrides))
    if config is not None:
        assert isinstance(config, Config)
        assert _build(Config, to_dict(config), "config") == config  # what was accepted is a valid config
        for value in to_dict(config).values():
            if isinstance(value, float):
                assert math.isfinite(value)


@FUZZ
@given(st.dictionaries(st.sampled_from([f.split(".")[0] for f in PATHS] + ["sizes", "preset"]) | texts,
                       values, max_size=5))
def test_any_preset_file_content_gives_a_config_or_a_config_error(raw):
    accepted_or_config_error(lambda: _build(Config, raw, "config"))


def valid_value(path):
    """A strategy of values the field at ``path`` must accept, written as on the command line."""
    current = LEAVES[path]
    section, _, name = path.rpartition(".")
    choices = (field_metadata(type(getattr(BASE, section)))[name].get("choices")
               if section and "." not in section else None)
    if choices:
        return st.sampled_from(choices)
    if name == "device":
        return st.sampled_from(["cpu", "cuda", "cuda:1", "auto", "mps"])
    if isinstance(current, bool):
        return st.booleans()
    if isinstance(current, int):
        return st.integers(min_value=1, max_value=10**6)
    if isinstance(current, float):
        return st.floats(min_value=1e-6, max_value=0.99)
    return None


SETTABLE = [p for p in PATHS if not p.startswith(("sizes.", "book.", "data.paradigms", "data.phenomena",
                                                    "pretrain.checkpoints", "data.taxonomy"))
            and valid_value(p) is not None and p != "preset"]


@FUZZ
@given(st.sampled_from(SETTABLE).flatmap(lambda p: st.tuples(st.just(p), valid_value(p))))
def test_an_accepted_value_reads_back_as_written(path_and_value):
    path, value = path_and_value
    config = apply_overrides(BASE, {path: str(value)})
    node = config
    for part in path.split("."):
        node = getattr(node, part)
    if isinstance(value, float):
        assert node == pytest.approx(value, rel=1e-12)
    else:
        assert node == value
    assert stable_hash(config) == stable_hash(apply_overrides(BASE, {path: str(value)}))  # deterministic
