import pytest
import torch

from taskspace_core.config import ModelSpec, apply_overrides
from taskspace_core.errors import ModelLoadError
from taskspace_core.lm.identity import pretrain_hash
from taskspace_core.lm.models import build_model, count_parameters, load_model, spec_parameters


def test_build_save_load_round_trip(ci_model, tmp_path):
    _, tokenizer = ci_model
    spec = ModelSpec(d_model=32, n_layers=2, n_heads=4, d_mlp=48)
    model = build_model(spec, tokenizer, seed=3)
    assert count_parameters(model) == spec_parameters(spec, len(tokenizer))
    assert model.config.tie_word_embeddings
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    loaded, loaded_tok = load_model(tmp_path)
    ids = torch.tensor([[1, 5, 9, 2]])
    model.eval()
    assert torch.equal(model(input_ids=ids).logits, loaded(input_ids=ids).logits)
    assert loaded_tok.get_vocab() == tokenizer.get_vocab()
    # the same seed gives the same initialisation, another seed does not
    same = build_model(spec, tokenizer, seed=3).state_dict()
    other = build_model(spec, tokenizer, seed=4).state_dict()
    key = "model.layers.0.mlp.up_proj.weight"
    assert torch.equal(same[key], model.state_dict()[key])
    assert not torch.equal(other[key], model.state_dict()[key])


def test_load_errors_name_the_culprit(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(tmp_path / "missing")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ModelLoadError, match="not a directory"):
        load_model(tmp_path / "file.txt")
    with pytest.raises(ModelLoadError, match="no config.json"):
        load_model(tmp_path)
    (tmp_path / "config.json").write_text("{broken")
    with pytest.raises(ModelLoadError, match="cannot load model"):
        load_model(tmp_path)


def test_foreign_hf_checkpoint_loads_from_a_local_directory(tmp_path, ci_model):
    """load_model is not tied to our models: a GPT-2 checkpoint directory loads too."""
    from transformers import GPT2Config, GPT2LMHeadModel

    _, tokenizer = ci_model
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_embd=16, n_layer=1, n_head=2, n_positions=64))
    gpt2.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    model, _ = load_model(tmp_path)
    assert model.config.model_type == "gpt2" and not model.training


def test_scaled_init_shrinks_only_the_residual_output_projections(ci_model, ci_config):
    _, tokenizer = ci_model
    spec = ModelSpec(d_model=64, n_layers=4, n_heads=4, d_mlp=128)
    hf = build_model(spec, tokenizer, seed=0).state_dict()
    scaled = build_model(spec, tokenizer, seed=0, init="scaled").state_dict()
    residual_out = ("self_attn.o_proj.weight", "mlp.down_proj.weight")
    for key, weight in scaled.items():
        if key.endswith(residual_out):
            # 0.02 / sqrt(2 * 4 layers) = 0.00707; 4,096 to 8,192 draws pin the std within a few per cent
            assert abs(weight.std().item() - 0.02 / 8 ** 0.5) < 0.0006, key
        else:
            assert torch.equal(weight, hf[key]), key
    with pytest.raises(ModelLoadError, match="pretrain.init='xavier'"):
        build_model(spec, tokenizer, seed=0, init="xavier")
    # a run under the scaled init is another run; the default's identity is the one before the field
    scaled_config = apply_overrides(ci_config, {"pretrain.init": "scaled"})
    assert pretrain_hash(scaled_config, "small", "c") != pretrain_hash(ci_config, "small", "c")
