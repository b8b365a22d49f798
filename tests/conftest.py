"""Shared fixtures: one small pretraining run (the `ci` preset) reused by many tests."""

from __future__ import annotations

import numpy as np
import pytest

from taskspace_core.config import load_preset

# Tests that use these fixtures build a whole book, a reproduce run or a second task space:
# they are marked slow, so that `pytest -m "not slow"` is the fast loop (README, Contributing).
SLOW_FIXTURES = {"ci_book", "ci_reference", "ci_space_one_thread"}


def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def ci_config(tmp_path_factory):
    work = tmp_path_factory.mktemp("runs")
    return load_preset("ci", {"work_dir": str(work)})


@pytest.fixture(scope="session")
def ci_checkpoints(ci_config):
    """Checkpoint directories of the `ci` preset's small model (trained once per session)."""
    from taskspace_core.lm.pretrain import pretrain

    return pretrain(ci_config, "small", log=lambda *_: None)


@pytest.fixture(scope="session")
def ci_model(ci_checkpoints):
    from taskspace_core.lm.models import load_model

    return load_model(ci_checkpoints[-1])


@pytest.fixture(scope="session")
def ci_space(ci_config, ci_checkpoints):
    """The `ci` task space (8 paradigms) of the small model's final checkpoint."""
    from taskspace_core.engine.compute import compute_space

    return compute_space(ci_config, ci_checkpoints[-1], label="ci-small-final", log=lambda *_: None, progress=False)


@pytest.fixture(scope="session")
def ci_reference(ci_config, tmp_path_factory):
    """`taskspace reproduce --preset ci` into a temporary results dir: (config, problems left)."""
    from taskspace_core.config import apply_overrides
    from taskspace_core.plan.reproduce import reproduce

    config = apply_overrides(ci_config, {"results_dir": str(tmp_path_factory.mktemp("results"))})
    return config, reproduce(config, log=lambda *_: None)


@pytest.fixture(scope="session")
def ci_book(ci_reference, tmp_path_factory):
    """The `ci` book, built once per session as `taskspace book --preset ci` builds it, from the
    exported reference results and an *empty* work dir: the book must need no weights."""
    from taskspace_core.book.build import build_book

    config, _ = ci_reference
    out = tmp_path_factory.mktemp("book")
    empty_work_dir = tmp_path_factory.mktemp("empty-runs")
    lines = []
    index = build_book("ci", str(empty_work_dir), out, log=lines.append, results_dir=config.results_dir)
    assert not (empty_work_dir / "ci" / "models").exists(), "the book pretrained a model instead of using results"
    assert any("2 at a time" in line for line in lines), "complete results: the pages run side by side"
    return index


def assert_same_space(a, b):
    """Two task spaces are bit-identical: transfers, eval1/eval2 margins and masks."""
    from taskspace_core.analysis.space import METRICS

    for metric in METRICS:
        assert np.array_equal(a.transfer[metric], b.transfer[metric]), metric
    assert np.array_equal(a.margins.eval1, b.margins.eval1)
    assert np.array_equal(a.margins.eval2, b.margins.eval2)
    assert np.array_equal(a.masks, b.masks)


@pytest.fixture(scope="session")
def ci_space_one_thread(ci_config, ci_checkpoints, tmp_path_factory):
    """The `ci` task space computed with one torch thread per job (``space.threads 1``).

    Float reductions depend on the thread count, so tests that demand bit-identical results
    from another process, engine or run pin it: with it pinned, equal means equal.
    """
    from taskspace_core.config import apply_overrides
    from taskspace_core.engine.compute import compute_space

    config = apply_overrides(ci_config, {"work_dir": str(tmp_path_factory.mktemp("one-thread")), "space.threads": 1})
    return compute_space(config, ci_checkpoints[-1], label="ci-small-final", log=lambda *_: None, progress=False)
