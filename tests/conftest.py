"""Shared fixtures: one small pretraining run (the `ci` preset) reused by many tests."""

from __future__ import annotations

import pytest

from taskspace_core.config import load_preset


@pytest.fixture(scope="session")
def ci_config(tmp_path_factory):
    work = tmp_path_factory.mktemp("runs")
    return load_preset("ci", {"work_dir": str(work)})


@pytest.fixture(scope="session")
def ci_checkpoints(ci_config):
    """Checkpoint directories of the `ci` preset's small model (trained once per session)."""
    from taskspace_core.pretrain import pretrain

    return pretrain(ci_config, "small", log=lambda *_: None)


@pytest.fixture(scope="session")
def ci_model(ci_checkpoints):
    from taskspace_core.models import load_model

    return load_model(ci_checkpoints[-1])


@pytest.fixture(scope="session")
def ci_space(ci_config, ci_checkpoints):
    """The `ci` task space (8 paradigms) of the small model's final checkpoint."""
    from taskspace_core.probing import compute_space

    return compute_space(ci_config, ci_checkpoints[-1], label="ci-small-final", log=lambda *_: None, progress=False)


@pytest.fixture(scope="session")
def ci_book(ci_config, tmp_path_factory):
    """The `ci` book, built once per session exactly as `taskspace book --preset ci` builds it."""
    from taskspace_core.book import build_book

    out = tmp_path_factory.mktemp("book")
    return build_book("ci", ci_config.work_dir, out, log=lambda *_: None)
