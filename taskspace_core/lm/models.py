"""Models: size registry entry -> Hugging Face Llama config, and loading any HF causal LM.

Our models are plain ``transformers`` ``LlamaForCausalLM`` objects saved with
``save_pretrained`` (with their tokenizer beside them), so any HF tool can load them.
:func:`load_model` also loads other people's causal LMs: a local directory, or a hub name
plus revision (e.g. ``EleutherAI/pythia-70m`` at ``step3000``).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
from transformers.utils import logging as hf_logging

from ..config import ModelSpec
from ..errors import ModelLoadError
from .precision import resolve_precision

# transformers' own per-file progress bars ("Loading weights", "Writing model shards") would
# drown ours; its warnings stay on.
hf_logging.disable_progress_bar()

# A hub repo id is "owner/name"; anything else that does not exist locally is a missing path.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")


def llama_config(spec: ModelSpec, vocab_size: int, bos_id: int, eos_id: int, pad_id: int) -> LlamaConfig:
    """HF config for a small Llama-style decoder with tied input/output embeddings."""
    if spec.d_model % spec.n_heads:
        raise ModelLoadError(f"d_model={spec.d_model} is not divisible by n_heads={spec.n_heads}")
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=spec.d_model,
        intermediate_size=spec.d_mlp,
        num_hidden_layers=spec.n_layers,
        num_attention_heads=spec.n_heads,
        num_key_value_heads=spec.n_heads,
        max_position_embeddings=spec.context,
        rms_norm_eps=1e-5,
        initializer_range=0.02,
        tie_word_embeddings=True,
        attention_dropout=0.0,
        bos_token_id=bos_id,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
    )


def build_model(spec: ModelSpec, tokenizer, seed: int, init: str = "hf") -> LlamaForCausalLM:
    """A freshly initialised model; the same seed gives the same weights.

    ``init="scaled"`` redraws each layer's residual output projections (attention ``o_proj``, MLP
    ``down_proj``) with std ``0.02 / sqrt(2 * n_layers)`` (GPT-2's rule; ``pretrain.init``)."""
    if init not in ("hf", "scaled"):
        raise ModelLoadError(f"pretrain.init={init!r}: expected 'hf' or 'scaled'")
    config = llama_config(
        spec, len(tokenizer), tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    if init == "scaled":
        # 2 * n_layers branches add to the residual stream: each gets 1/(2L) of the variance
        std = config.initializer_range / (2 * spec.n_layers) ** 0.5
        with torch.no_grad():
            for layer in model.model.layers:
                for weight in (layer.self_attn.o_proj.weight, layer.mlp.down_proj.weight):
                    weight.normal_(0.0, std)
    return model


def count_parameters(model: torch.nn.Module) -> int:
    """Unique parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def spec_parameters(spec: ModelSpec, vocab_size: int) -> int:
    """Parameter count of a spec without building it (tied embeddings, SwiGLU MLP, RMSNorm)."""
    d, m = spec.d_model, spec.d_mlp
    per_layer = 4 * d * d + 3 * d * m + 2 * d
    return vocab_size * d + spec.n_layers * per_layer + d


def _resolve(name_or_path: str | Path, revision: str | None) -> tuple[str, dict, bool]:
    """(source for from_pretrained, its kwargs, is_local); names the culprit if neither works."""
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelLoadError(f"model path '{path}' is not a directory")
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"'{path}' is not a model directory (no config.json)")
        return str(path), {}, True
    if _HUB_ID.match(str(name_or_path)) and not str(name_or_path).startswith((".", "/", "~")):
        return str(name_or_path), {"revision": revision}, False
    raise ModelLoadError(f"model directory '{name_or_path}' does not exist (hub models are named owner/name)")


def _load(loader, name_or_path, revision, **extra):
    source, kwargs, is_local = _resolve(name_or_path, revision)
    try:
        return loader(source, **kwargs, **extra)
    except Exception as exc:  # noqa: BLE001 - any loader failure is reported as one line
        what = f"'{source}'" + (f" at revision '{revision}'" if revision and not is_local else "")
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "Unrecognized configuration class" in first_line and getattr(loader, "__self__", None) is AutoModelForCausalLM:
            kind = re.search(r"\.(\w+)Config'>", first_line)
            raise ModelLoadError(f"{what} is not a causal language model ({kind.group(1) if kind else 'its config'} "
                                 "has no AutoModelForCausalLM class); taskspace scores and fine-tunes causal LMs "
                                 "only") from None
        hint = "" if is_local else " (no such local directory either)"
        raise ModelLoadError(f"cannot load model {what}{hint}: {first_line}") from None


def check_causal_lm(name_or_path: str | Path, revision: str | None = None) -> None:
    """Raise :class:`ModelLoadError` unless ``name_or_path`` is a causal LM, reading only its config."""
    config = _load(AutoConfig.from_pretrained, name_or_path, revision)
    if config.model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise ModelLoadError(f"'{name_or_path}' is not a causal language model (model_type '{config.model_type}' "
                             "has no AutoModelForCausalLM class); taskspace scores and fine-tunes causal LMs only")


def load_tokenizer(name_or_path: str | Path, revision: str | None = None):
    """The tokenizer of a model (see :func:`load_model`), with a pad token set."""
    tokenizer = _load(AutoTokenizer.from_pretrained, name_or_path, revision)
    if tokenizer.pad_token_id is None:  # e.g. GPT-2 / Pythia: padding is masked out anyway
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(name_or_path: str | Path, revision: str | None = None, device: str = "cpu"):
    """Load a causal LM and its tokenizer, in eval mode.

    ``name_or_path`` is a local model directory (ours or any HF checkpoint), or a hub repo id
    such as ``EleutherAI/pythia-160m`` with an optional ``revision`` (branch, tag or commit,
    e.g. ``step3000``). Raises :class:`ModelLoadError` with the culprit named on failure.
    """
    tokenizer = load_tokenizer(name_or_path, revision)
    model = _load(AutoModelForCausalLM.from_pretrained, name_or_path, revision, dtype=torch.float32)
    model.to(device).eval()
    return model, tokenizer


def resolve_device(name: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is usable, else ``cpu``; a GPU asked for but absent is an error."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError(f"device '{name}' was asked for, but torch sees no CUDA GPU "
                             f"(torch {torch.__version__}; use --device cpu or auto)")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ModelLoadError("device 'mps' was asked for, but torch sees no Apple GPU (use --device cpu or auto)")
    return name


def resolve_devices(config):
    """``config`` with its ``device`` resolved by :func:`resolve_device`, and the ``precision`` of
    pretraining, scoring and fine-tuning resolved for that device (``auto`` -> ``bf16`` or ``fp32``).

    Resolution happens where the work runs (a Dask worker on a GPU node resolves ``auto`` to its
    GPU). Devices are not part of any result's identity; a resolved precision other than fp32 is.
    """
    device = resolve_device(config.device)
    sections = {name: dataclasses.replace(getattr(config, name),
                                          precision=resolve_precision(getattr(config, name).precision, device))
                for name in ("pretrain", "scoring", "ftgd")}
    return dataclasses.replace(config, device=device, **sections)


# Model families whose logits are exactly ``head(base_model(x).last_hidden_state)``: no logit
# scaling or soft-capping. For them the vocabulary projection is applied to the scored
# positions only; any other causal LM goes through its full ``.logits``.
PLAIN_HEAD_MODEL_TYPES = frozenset({"llama", "mistral", "qwen2", "gpt2", "gpt_neox"})


def decoder_and_head(model) -> tuple[torch.nn.Module, torch.nn.Module] | None:
    """(decoder returning hidden states, output projection), or None when logits need the full model."""
    if getattr(model.config, "model_type", None) not in PLAIN_HEAD_MODEL_TYPES:
        return None
    head = model.get_output_embeddings()
    if head is None or model.base_model is model:
        return None
    return model.base_model, head
