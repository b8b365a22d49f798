"""Mixed precision: the fused loss is exact in float32, keys record a precision other than fp32,
and bf16 pretraining, fine-tuning and scoring run and stay close to float32."""

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from taskspace_core.config import apply_overrides
from taskspace_core.errors import ConfigError
from taskspace_core.lm.fused_loss import linear_cross_entropy
from taskspace_core.lm.identity import pretrain_hash
from taskspace_core.lm.precision import autocast, bf16_is_fast, resolve_precision
from taskspace_core.lm.pretrain import lm_loss


@pytest.mark.parametrize("chunk_rows", [7, 64, 1000])
def test_fused_loss_equals_cross_entropy_and_its_gradients_in_float32(chunk_rows):
    torch.manual_seed(0)
    hidden = torch.randn(300, 16, requires_grad=True)
    weight = torch.randn(50, 16, requires_grad=True)
    targets = torch.randint(0, 50, (300,))
    reference = F.cross_entropy(hidden @ weight.T, targets)
    ref_grads = torch.autograd.grad(3.0 * reference, (hidden, weight))
    fused = linear_cross_entropy(hidden, weight, targets, torch.float32, chunk_rows)
    fused_grads = torch.autograd.grad(3.0 * fused, (hidden, weight))  # the incoming gradient is applied
    assert abs(fused.item() - reference.item()) < 1e-5
    for got, want in zip(fused_grads, ref_grads):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_bf16_lm_loss_is_close_to_fp32(ci_model):
    model, _ = ci_model
    blocks = torch.randint(0, model.config.vocab_size, (4, 33))
    exact = lm_loss(model, blocks, "fp32").item()
    mixed = lm_loss(model, blocks, "bf16").item()
    assert abs(mixed - exact) / exact < 0.02


def test_precision_resolution_and_errors():
    assert resolve_precision("fp32", "cpu") == "fp32"
    assert resolve_precision("bf16", "cpu") == "bf16"
    assert resolve_precision("auto", "cpu") == ("bf16" if bf16_is_fast("cpu") else "fp32")
    assert resolve_precision("auto", "mps") == "fp32"
    with pytest.raises(ConfigError, match="precision 'half'"):
        resolve_precision("half", "cpu")
    with pytest.raises(ConfigError, match="must be resolved"):
        autocast("auto", "cpu")


def test_precision_is_a_checked_config_field(ci_config):
    with pytest.raises(ConfigError, match="config.pretrain.precision: 'fp16' is not one of"):
        apply_overrides(ci_config, {"pretrain.precision": "fp16"})
    assert apply_overrides(ci_config, {"ftgd.precision": "auto"}).ftgd.precision == "auto"


def test_fp32_keeps_the_hash_and_bf16_changes_it(ci_config):
    """fp32 adds nothing to the pretraining identity (committed checkpoints stay valid); bf16 does."""
    fp32 = pretrain_hash(ci_config, "small", "corpus")
    bf16 = pretrain_hash(apply_overrides(ci_config, {"pretrain.precision": "bf16"}), "small", "corpus")
    assert fp32 != bf16
    legacy = dataclasses.asdict(ci_config.pretrain)
    assert legacy.pop("precision") == "fp32"


def test_bf16_space_key_differs_only_where_precision_is_not_fp32(ci_config):
    from taskspace_core.results.keys import space_key

    identity = {"kind": "test"}
    base = space_key(ci_config, identity, "data", ["a"])
    assert "precision" not in base["ftgd"] and base["scoring"] == {"eval2": "margins"}
    mixed = space_key(apply_overrides(ci_config, {"ftgd.precision": "bf16", "scoring.precision": "bf16"}),
                      identity, "data", ["a"])
    assert mixed["ftgd"]["precision"] == "bf16" and mixed["scoring"] == {"precision": "bf16", "eval2": "margins"}
    # the full-sentence eval2 at fp32, as the committed `cpu` spaces were computed, keys no scoring field
    sentences = space_key(apply_overrides(ci_config, {"scoring.eval2": "sentences"}), identity, "data", ["a"])
    assert "scoring" not in sentences


def test_bf16_pretraining_records_its_precision(ci_config, tmp_path):
    import json

    from taskspace_core.lm.pretrain import pretrain

    config = apply_overrides(ci_config, {"pretrain.precision": "bf16", "pretrain.max_steps": 3,
                                         "pretrain.checkpoints": "0,1"})
    done = pretrain(config, "small", tmp_path / "m", log=lambda *_: None)
    meta = json.loads((done[-1] / "meta.json").read_text())
    assert meta["precision"] == "bf16" and meta["config"]["pretrain"]["precision"] == "bf16"
    assert np.isfinite(meta["val_loss"])


def test_lr_by_size_sets_one_sizes_learning_rate_and_its_identity(ci_config):
    """A size named in pretrain.lr_by_size trains (and is keyed) exactly as if pretrain.lr were its value."""
    from taskspace_core.lm.identity import size_recipe

    per_size = apply_overrides(ci_config, {"pretrain.lr_by_size": {"large": 1e-3}})
    assert size_recipe(per_size, "large").lr == 1e-3 and size_recipe(per_size, "small").lr == ci_config.pretrain.lr
    as_if = apply_overrides(ci_config, {"pretrain.lr": 1e-3})
    assert pretrain_hash(per_size, "large", "c") == pretrain_hash(as_if, "large", "c")
    assert pretrain_hash(per_size, "small", "c") == pretrain_hash(ci_config, "small", "c")
    dotted = apply_overrides(ci_config, {"pretrain.lr_by_size.large": "1e-3"})  # as --pretrain.lr_by_size.large 1e-3
    assert dotted.pretrain.lr_by_size == {"large": 1e-3}
    with pytest.raises(ConfigError, match="is a mapping"):
        apply_overrides(ci_config, {"pretrain.lr_by_size": "1e-3"})
    with pytest.raises(ConfigError, match="pretrain.lr_by_size.huge: unknown size 'huge'"):
        apply_overrides(ci_config, {"pretrain.lr_by_size": {"huge": 1e-3}})
    with pytest.raises(ConfigError, match="lr_by_size.large: must be a finite number > 0"):
        apply_overrides(ci_config, {"pretrain.lr_by_size": {"large": -1.0}})
