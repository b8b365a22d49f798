"""Mask-only results: every paradigm's FTGD mask without fine-tuning or eval2, stored and committed apart."""

from __future__ import annotations

import numpy as np
import pytest

from taskspace_core.analysis.masks import overlap_within_between
from taskspace_core.config import apply_overrides
from taskspace_core.engine.compute import compute_masks
from taskspace_core.errors import ConfigError
from taskspace_core.lm.identity import model_identity
from taskspace_core.results.export import export_masks, write_index
from taskspace_core.results.read import find_masks, load_masks, read_stored_masks


@pytest.fixture(scope="module")
def ci_masks(ci_config, ci_checkpoints):
    return compute_masks(ci_config, ci_checkpoints[-1], label="ci-small-final", log=lambda *_: None, progress=False)


def test_the_masks_are_the_ones_the_task_space_fine_tunes_with(ci_masks, ci_space):
    assert ci_masks.paradigms == ci_space.paradigms
    np.testing.assert_array_equal(ci_masks.masks, ci_space.masks)
    np.testing.assert_array_equal(ci_masks.mask_overlap, ci_space.mask_overlap)
    assert ci_masks.mask_union_share == ci_space.mask_union_share
    assert ci_masks.store_dir.parent.name == "masks" and ci_masks.meta["key"]["result"] == "masks"
    assert ci_masks.store_dir.name.rsplit("-", 1)[1] != ci_space.store_dir.name.rsplit("-", 1)[1]


def test_a_mask_set_is_stored_once_and_read_back(ci_config, ci_checkpoints, ci_masks):
    again = compute_masks(ci_config, ci_checkpoints[-1], label="ci-small-final", log=lambda *_: None, progress=False)
    assert again.meta["jobs_computed"] == 0
    stored = read_stored_masks(ci_config, model_identity(ci_checkpoints[-1]))
    np.testing.assert_array_equal(stored.masks, ci_masks.masks)


def test_a_committed_mask_set_keeps_its_summaries(ci_config, ci_checkpoints, ci_masks, tmp_path):
    config = apply_overrides(ci_config, {"results_dir": str(tmp_path)})
    target = export_masks(ci_masks, config, config.reference_dir())
    write_index(config, config.reference_dir())
    assert find_masks(config, model_identity(ci_checkpoints[-1])) == target
    committed = load_masks(target, config)
    assert committed.masks is None and committed.paradigms == ci_masks.paradigms
    np.testing.assert_allclose(committed.mask_overlap, ci_masks.mask_overlap)
    assert committed.mask_union_share == pytest.approx(ci_masks.mask_union_share)
    assert committed.mask_tables.equals(ci_masks.mask_tables.reset_index(drop=True))


def test_plain_fine_tuning_has_no_mask_to_compute(ci_config, ci_checkpoints):
    plain = apply_overrides(ci_config, {"ftgd.method": "plain"})
    with pytest.raises(ConfigError, match="needs FTGD with a fixed mask"):
        compute_masks(plain, ci_checkpoints[-1], label="plain", log=lambda *_: None, progress=False)


def test_overlap_within_and_between_phenomena():
    overlap = np.array([[1, 0.5, 0.1], [0.5, 1, 0.2], [0.1, 0.2, 1]])
    assert overlap_within_between(overlap, ["A", "A", "B"]) == (0.5, pytest.approx(0.15))
    within, between = overlap_within_between(overlap, ["A", "B", "C"])
    assert np.isnan(within) and between == pytest.approx((0.5 + 0.1 + 0.2) / 3)
