"""Shipped weights: a checkpoint committed with the results, with its card, installed back hash-checked."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from taskspace_core.config import apply_overrides
from taskspace_core.errors import DataError
from taskspace_core.lm.checkpoints import checkpoint_problems
from taskspace_core.lm.pretrain import ensure_checkpoint, pretrain
from taskspace_core.lm.shipped import MODEL_CARD, shipped_dir
from taskspace_core.results.export import export_checkpoints
from taskspace_core.results.weights import ship_weights

QUIET = {"log": lambda *_: None}


@pytest.fixture
def shipped(ci_config, ci_checkpoints, tmp_path):
    """``(results root, shipped directory, a config with an empty work dir reading that root)``."""
    results = tmp_path / "results"
    config = apply_overrides(ci_config, {"results_dir": str(results)})
    root = config.reference_dir()
    export_checkpoints(config, root, ["small"])
    target = ship_weights(config, root, "small")
    reader = apply_overrides(config, {"work_dir": str(tmp_path / "empty-runs")})
    return root, target, reader


def test_the_shipped_checkpoint_is_its_record_s_files_and_a_card(ci_config, ci_checkpoints, shipped):
    root, target, _ = shipped
    record = json.loads((target.parent / f"{target.name}.json").read_text())
    assert target.name == ci_checkpoints[-1].name
    assert sorted(p.name for p in target.iterdir()) == sorted([*record["files"], MODEL_CARD])
    assert not (target / "training_state.pt").exists() and not (target / "meta.json").exists()
    card = (target / MODEL_CARD).read_text()
    assert card.startswith("---\nlicense: mit\n")  # Hugging Face metadata
    assert "5-gram" not in card  # no committed BLiMP scores here: the card claims nothing about BLiMP
    for number in (f"{record['n_parameters']:,}", f"{record['val_loss']:.3f}", f"{record['tokens_seen']:,}",
                   record["pretrain_hash"]):
        assert number in card, number
    # a Hugging Face model directory as it stands, loaded as the card says
    assert AutoModelForCausalLM.from_pretrained(target).config.hidden_size == ci_config.size("small").d_model
    assert AutoTokenizer.from_pretrained(target).vocab_size == ci_config.tokenizer.vocab_size


def test_a_space_s_checkpoint_is_installed_from_the_shipped_weights_not_trained(ci_checkpoints, shipped):
    _, target, reader = shipped
    messages = []
    path = ensure_checkpoint(reader, "small", "final", train_if_missing=False, log=messages.append)
    assert checkpoint_problems(path) == [] and "sha256 checked" in messages[-1]
    assert json.loads((path / "meta.json").read_text()) == json.loads((ci_checkpoints[-1] / "meta.json").read_text()) | {
        "preset": json.loads((path / "meta.json").read_text())["preset"]}
    trained, installed = load_file(ci_checkpoints[-1] / "model.safetensors"), load_file(path / "model.safetensors")
    assert all(torch.equal(trained[k], installed[k]) for k in trained)
    # an earlier checkpoint is still trained (from scratch: the shipped one has no optimizer state)
    early = pretrain(reader, "small", until_epoch=0.5, **QUIET)
    assert [c.name for c in early] == ["epoch-0", "epoch-0.5", "epoch-1"]
    assert json.loads((early[1] / "meta.json").read_text())["files"] == json.loads(
        (ci_checkpoints[1] / "meta.json").read_text())["files"]


def test_shipped_weights_that_do_not_hash_as_recorded_are_refused_by_name(shipped):
    _, target, reader = shipped
    weights = target / "model.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(good[:-8] + b"\0" * 8)
    with pytest.raises(DataError, match=r"model.safetensors: sha256 does not match its record epoch-1.json"):
        ensure_checkpoint(reader, "small", "final", train_if_missing=False, **QUIET)
    assert not (reader.run_dir() / "models" / "small" / "epoch-1").exists()  # nothing half-installed
    weights.write_bytes(good)
    (target / "tokenizer.json").unlink()
    with pytest.raises(DataError, match=r"tokenizer.json: missing"):
        ensure_checkpoint(reader, "small", "final", train_if_missing=False, **QUIET)


def test_shipped_weights_of_another_config_are_not_used(shipped):
    _, _, reader = shipped
    other = apply_overrides(reader, {"pretrain.lr": 0.5})
    assert shipped_dir(reader, "small", 1.0) is not None and shipped_dir(other, "small", 1.0) is None


def test_only_the_recorded_checkpoint_ships(ci_config, ci_checkpoints, shipped, tmp_path):
    root, _, _ = shipped
    config = apply_overrides(ci_config, {"results_dir": str(root.parent)})
    record = root / "models" / "small" / "epoch-1.json"
    meta = json.loads(record.read_text())
    meta["files"]["model.safetensors"] = "0" * 64
    record.write_text(json.dumps(meta))
    with pytest.raises(DataError, match=r"another sha256 of model.safetensors"):
        ship_weights(config, root, "small")
    missing = apply_overrides(config, {"work_dir": str(tmp_path / "nothing")})
    with pytest.raises(DataError, match="no finished checkpoint to ship"):
        ship_weights(missing, root, "small")
    shutil.rmtree(root / "models")


def test_the_committed_model_card_is_the_one_its_records_write():
    """The committed card of the cpu small model is what ``model_card`` writes from the committed
    records today, and its 5-gram comparison is read from BLiMP's published baselines."""
    from taskspace_core.analysis.accuracy import baselines
    from taskspace_core.paths import REPO_ROOT
    from taskspace_core.results.weights import model_card, repo_path

    folder = REPO_ROOT / "results/cpu/models/small/epoch-0.5"
    record = json.loads((folder.parent / "epoch-0.5.json").read_text())
    scores = json.loads((folder.parent / "epoch-0.5.blimp.json").read_text())
    card = model_card("cpu", "small", record, scores, repo_path(folder))
    assert (folder / MODEL_CARD).read_text() == card
    ngram = baselines()["ngram"]
    assert f"5-gram model {ngram['overall']:.3f}" in card
    below = [p for p, a in scores["phenomenon_accuracy"].items() if a < ngram[p]]
    assert 0 < len(below) < 12 and f"on {len(below)} of 12 phenomena" in card
    for phenomenon in below:
        assert f"| {phenomenon} | {scores['phenomenon_accuracy'][phenomenon]:.3f} | {ngram[phenomenon]:.3f} |" in card
