"""Shipping weights with the results: a trained checkpoint's files and its model card, committed.

Where a preset ships a size (``book.shipped_sizes``), ``taskspace reproduce`` copies that size's
final checkpoint into ``results/<preset>/models/<run>/epoch-<E>/``: the files its record
(``epoch-<E>.json``) lists with their sha256, and a model card (``README.md``) written from that
record and the checkpoint's committed BLiMP scores. :mod:`taskspace_core.lm.shipped` installs it
back into a run directory, hash-checked, wherever a space needs that checkpoint.

    ship_weights   copy one size's final checkpoint and its card into committed results
    model_card     the card's Markdown, every number read from the committed records
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..analysis.accuracy import baselines
from ..config import Config
from ..paths import REPO_ROOT
from ..errors import DataError
from ..lm.checkpoints import checkpoint_epoch, checkpoint_problems, differing_files
from ..lm.identity import checkpoint_name, models_dir
from ..lm.shipped import MODEL_CARD
from ..provenance import atomic_dir, atomic_write_text


# what the card says about pretrain.init (records from before the field are "hf": nothing to say)
INIT_NOTES = {"hf": "", "scaled": ", residual output projections initialised with std 0.02 / sqrt(2 · layers)"}


def ship_weights(config: Config, root: Path, size: str) -> Path:
    """Copy the final checkpoint of ``size`` from the run directory into ``root/models/<run>/epoch-<E>/``
    with its model card. The checkpoint must be the one the committed record describes (same
    sha256 of every file): the committed task spaces were computed from those weights."""
    name = checkpoint_name(checkpoint_epoch(config, "final"))
    source = models_dir(config.run_dir(), config, size) / name
    committed = models_dir(root, config, size)
    record_path = committed / f"{name}.json"
    if not (source / "meta.json").is_file():
        raise DataError(source, f"no finished checkpoint to ship: `taskspace pretrain --preset {config.preset} "
                                f"--size {size}` trains it")
    if not record_path.is_file():
        raise DataError(record_path, "missing: export the checkpoint records first (`taskspace reproduce`)")
    problems = checkpoint_problems(source)
    if problems:
        raise DataError(source, f"damaged checkpoint: {'; '.join(problems)}")
    record = json.loads(record_path.read_text())
    local = json.loads((source / "meta.json").read_text())
    differing = differing_files(local, record)
    if differing:
        raise DataError(source, f"not the checkpoint {record_path} records (another sha256 of "
                                f"{', '.join(differing)}): pretraining did not reproduce it bit for bit here")
    scores_path = committed / f"{name}.blimp.json"
    scores = json.loads(scores_path.read_text()) if scores_path.is_file() else None
    target = committed / name
    with atomic_dir(target) as tmp:
        for file in record["files"]:
            shutil.copyfile(source / file, tmp / file)
        atomic_write_text(tmp / MODEL_CARD, model_card(config.preset, size, record, scores, repo_path(target)))
    return target


def repo_path(path: Path) -> str:
    """``path`` relative to the repository root when it lies inside it (as a reader's clone has it)."""
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def model_card(preset: str, size: str, record: dict, scores: dict | None, where: str) -> str:
    """A Hugging Face model card for one shipped checkpoint: what it is, how it was trained, how it
    scores, how to load and verify it, and what it is not for. Every number comes from ``record``
    (the checkpoint's ``meta.json``) and ``scores`` (its committed BLiMP test scores)."""
    spec = record["config"]["sizes"][size]
    pretrain, tokenizer = record["config"]["pretrain"], record["config"]["tokenizer"]
    books = record["corpus_split"]
    accuracy, below_ngram = "", ""  # without committed scores the card claims nothing about BLiMP
    if scores is not None:
        ngram = baselines(scores["config"]["data"]["taxonomy"])["ngram"]
        ours = scores["phenomenon_accuracy"]
        rows = "\n".join(f"| {p} | {a:.3f} | {ngram[p]:.3f} |" for p, a in sorted(ours.items()))
        below = sorted(p for p, a in ours.items() if a < ngram[p])
        below_ngram = (f", and it is below BLiMP's 5-gram baseline on {len(below)} of {len(ours)} phenomena "
                       f"({', '.join(below)})" if below else ", and it is not below BLiMP's 5-gram baseline on any phenomenon")
        accuracy = (
            f"## BLiMP\n\nOn the test split of every BLiMP paradigm ({scores['n_pairs']:,} minimal pairs, "
            f"{scores['scoring']['n_test']} per paradigm; a pair is right when the grammatical sentence has "
            f"the higher log-probability, ties wrong) the model scores **{scores['mean_accuracy']:.3f}**, the mean "
            f"over paradigms (chance 0.5; BLiMP's 5-gram model {ngram['overall']:.3f} on all of BLiMP). Per "
            f"phenomenon (the mean over its paradigms), beside the 5-gram model's published accuracy "
            f"(Warstadt et al. 2020):\n\n| phenomenon | accuracy | 5-gram |\n|---|---|---|\n{rows}\n\n"
            f"The per-pair scores are committed beside this folder (`{checkpoint_name(record['epoch'])}.blimp.csv.gz`).\n\n")
    return (
        f"---\nlicense: mit\nlanguage: en\nlibrary_name: transformers\npipeline_tag: text-generation\n"
        f"tags: [taskspace, blimp, minimal-pairs, children-books]\n---\n\n"
        f"# taskspace `{preset}` {size}, epoch {record['epoch']:g}\n\n"
        f"A {record['n_parameters'] / 1e6:.2f}M-parameter Llama-style causal language model (transformers "
        f"`LlamaForCausalLM`), pretrained from scratch by the taskspace package on children's books. It is "
        f"the {size} model of the `{preset}` reference results of *taskspace*, a re-implementation of "
        f"\"Interpretability of Language Models via Task Spaces\" (Weber, Jumelet, Bruni, Hupkes, ACL 2024). "
        f"It ships so that the book's exercises compute new task spaces on a model that knows some grammar, "
        f"without pretraining one first.\n\n"
        f"## Architecture\n\n"
        f"| | |\n|---|---|\n| parameters | {record['n_parameters']:,} (tied input and output embeddings) |\n"
        f"| layers, width, heads, MLP | {spec['n_layers']}, {spec['d_model']}, {spec['n_heads']}, {spec['d_mlp']} (SwiGLU, RMSNorm, rotary positions) |\n"
        f"| context | {spec['context']} tokens |\n| vocabulary | {tokenizer['vocab_size']:,}-token byte-level BPE, trained on the same books |\n\n"
        f"## Training\n\n"
        f"| | |\n|---|---|\n| data | {len(books['train'])} public-domain children's books from Project Gutenberg "
        f"(`data/corpus-13m`, corpus hash `{record['data_hash']['corpus']}`); {len(books['val'])} more held out for validation |\n"
        f"| tokens seen | {record['tokens_seen']:,} ({record['epoch']:g} epoch, {record['step']:,} steps of "
        f"{pretrain['batch_size']} × {pretrain['seq_len']} tokens) |\n"
        f"| optimizer | AdamW (β = {pretrain['beta1']}, {pretrain['beta2']}), peak rate {record['peak_lr']:g}, "
        f"{pretrain['warmup_steps']} warm-up steps, cosine decay to {pretrain['min_lr_ratio']:g} of the peak, "
        f"weight decay {pretrain['weight_decay']:g} on matrices, gradient clipping {pretrain['grad_clip']:g}, {record['precision']} autocast, seed {pretrain['seed']}"
        f"{INIT_NOTES[pretrain.get('init', 'hf')]} |\n"
        f"| validation loss | {record['val_loss']:.3f} nats per token (perplexity {record['val_ppl']:.1f}) |\n"
        f"| hardware | {record['host']['cpus']} CPU cores, {record['wall_time_s'] / 60:.0f} minutes |\n"
        f"| software | torch {record['packages']['torch']}, transformers {record['packages']['transformers']}, "
        f"taskspace {record['packages']['taskspace']} at `{record['git_commit'][:12]}` |\n\n"
        f"Retraining it (`taskspace pretrain --preset {preset} --size {size}`) reproduces these files bit for bit "
        f"on a CPU: the pretraining run hash `{record['pretrain_hash']}` names the config, corpus and tokenizer "
        f"(the record's label `{record['preset']}` is the preset's name when it was trained).\n\n"
        f"{accuracy}"
        f"## Use\n\n"
        f"```python\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
        f"model = AutoModelForCausalLM.from_pretrained(\"{where}\")\n"
        f"tokenizer = AutoTokenizer.from_pretrained(\"{where}\")\n```\n\n"
        f"Inside taskspace nothing needs to be done: any task space of this checkpoint (`taskspace space "
        f"--preset {preset} --size {size}`, or a chapter run with `-p size {size}`) installs it into the work "
        f"directory first, after checking the sha256 of every file against `{checkpoint_name(record['epoch'])}.json`, "
        f"the record beside this folder; a file that does not match is refused with its name.\n\n"
        f"## Limitations\n\n"
        f"A teaching and research model: small, trained on {record['tokens_seen'] / 1e6:.1f}M tokens of 19th- and early "
        f"20th-century children's books, with their vocabulary, spelling and views of the world. It does not "
        f"follow instructions, its text is not reliable{below_ngram}. Use it to study how a small language model "
        f"represents grammar, not to generate text for anyone to rely on.\n\n"
        f"## Licence\n\nThe weights: MIT, like the code that trained them. The training books are in the public "
        f"domain in the United States (Project Gutenberg).\n")
