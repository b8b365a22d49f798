"""The `paper` preset on CPU: the real sizes, tokenizer and code path, with a step cap.

It is meant for a GPU (see the reproducing chapter for its cost); here it must merely run, so
that it is never a stub: tokenizer, pretraining steps, a checkpoint, scoring and FTGD on the
smallest size, and the other sizes built at their registered parameter counts.
"""

import json
import time

import numpy as np
import pytest

from taskspace_core.config import load_preset
from taskspace_core.lm.models import build_model, count_parameters, spec_parameters

SMOKE = {
    "pretrain.max_steps": 2,  # the cap: two optimizer steps of the real batch (64 x 256 tokens)
    "pretrain.val_blocks": 4,
    "data.paradigms": "anaphor_gender_agreement,npi_present_1",
    "data.n_test": 8,
    "data.n_train": 16,
    "ftgd.steps": 2,
    "ftgd.batch_size": 8,
    "space.bootstrap": 20,
    "space.permutations": 9,
}


@pytest.fixture(scope="module")
def paper_config(tmp_path_factory):
    return load_preset("paper", {"work_dir": str(tmp_path_factory.mktemp("paper")), **SMOKE})


@pytest.mark.slow
def test_the_paper_preset_pretrains_and_probes_on_cpu_with_a_step_cap(paper_config):
    from taskspace_core.engine.compute import compute_space
    from taskspace_core.lm.pretrain import pretrain

    started = time.perf_counter()
    checkpoints = pretrain(paper_config, "small", log=lambda *_: None)
    assert [c.name for c in checkpoints] == ["epoch-0"]  # the cap stops long before the first later checkpoint
    meta = json.loads((checkpoints[0] / "meta.json").read_text())
    assert meta["n_parameters"] == spec_parameters(paper_config.size("small"), paper_config.tokenizer.vocab_size)
    assert meta["total_steps"] > 1000  # the real schedule (20 epochs), of which two steps ran
    log = [json.loads(line) for line in (checkpoints[0].parent / "train_log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 2 and np.isfinite(log[-1]["loss"])
    pretrain_s = time.perf_counter() - started

    space = compute_space(paper_config, checkpoints[0], label="paper-small-epoch-0", log=lambda *_: None,
                          progress=False)
    assert space.transfer["accuracy"].shape == (2, 2) and np.isfinite(space.transfer["margin"]).all()
    assert 0 < space.mask_share.min() and space.mask_share.max() < 1
    print(f"\npaper smoke: tokenizer + 2 pretraining steps of small {pretrain_s:.0f}s, "
          f"task space (2 paradigms) {space.meta['wall_time_s']:.0f}s")


@pytest.mark.parametrize("size", ["medium", "large"])
def test_the_larger_paper_sizes_build_at_their_registered_size(paper_config, size):
    spec = paper_config.size(size)

    class Vocabulary:  # build_model needs only these of a tokenizer
        bos_token_id, eos_token_id, pad_token_id = 1, 2, 0

        def __len__(self):
            return paper_config.tokenizer.vocab_size

    model = build_model(spec, Vocabulary(), seed=0)
    assert count_parameters(model) == spec_parameters(spec, paper_config.tokenizer.vocab_size)
    assert 60e6 < count_parameters(model) < 210e6
