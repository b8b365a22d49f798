"""The schema: every section of a config, each field with its default, constraint and meaning.

A *preset* (``ci``, ``tiny``, ``cpu-v1``, ``cpu``, ``paper``) is one YAML file in ``presets/``
that fills in a whole consistent :class:`Config` (:mod:`.build`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..paths import REPO_ROOT
from .fields import (
    PRECISIONS, bounded, choice, device_field, fraction, non_negative, non_negative_each, positive,
    positive_values,
)


@dataclass(frozen=True)
class DataConfig:
    """Where the benchmarks and the corpus live, which paradigms a run covers, how pairs are split."""

    # "" = the copy vendored in the repo (data/blimp); a directory of BLiMP files; or
    # "hf:nyu-mll/blimp" (the hub, by name) / "hf:<local copy>" read through Hugging Face datasets
    blimp_dir: str = ""
    corpus_dir: str = ""  # "" = the subset vendored in the repo (data/corpus)
    taxonomy: str = choice("12", ("12", "13"))  # "12" phenomena (s-selection inside ARG-S) or "13" (BLiMP's labels)
    split_seed: int = 0
    n_test: int = positive(100)  # test pairs per paradigm (taken first, so they never depend on n_train)
    n_train: int = non_negative(200)  # training pairs per paradigm (for fine-tuning)
    # the minimal-pair benchmarks a run covers: blimp, zorro, clams, or the folder of a set of
    # your own (taskspace_core/corpora/own_pairs.py); their paradigms are <benchmark>:<paradigm>,
    # BLiMP's keep their names
    benchmarks: tuple[str, ...] = ("blimp",)
    # the paradigms a task space covers; () = every paradigm of ``benchmarks`` (BLiMP's 67)
    paradigms: tuple[str, ...] = ()
    # phenomena (under ``taxonomy``, e.g. DN-AGR) whose paradigms, in every benchmark, are added
    # to ``paradigms``; both empty = every paradigm of ``benchmarks``
    phenomena: tuple[str, ...] = ()


@dataclass(frozen=True)
class TokenizerConfig:
    """Corpus split and byte-level BPE training."""

    vocab_size: int = positive(8192)
    val_books: int = non_negative(2)  # whole books held out for validation (the split is by book)
    corpus_seed: int = 0  # order of books, and which are held out
    max_train_chars: int = non_negative(0)  # 0 = the whole training split; >0 truncates it (ci preset)


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the size registry: a Llama-style decoder."""

    d_model: int = positive()
    n_layers: int = positive()
    n_heads: int = positive()
    d_mlp: int = positive()
    context: int = positive(128)


@dataclass(frozen=True)
class PretrainConfig:
    """AdamW with linear warm-up and cosine decay; checkpoints at fractions of epochs."""

    seq_len: int = positive(128)
    batch_size: int = positive(32)
    lr: float = positive(2e-3)
    # peak learning rate of particular sizes ({large: 1e-3}); a size not named here uses ``lr``
    lr_by_size: Mapping[str, float] = positive_values()
    min_lr_ratio: float = bounded(0.1, 0, 1, True)
    warmup_steps: int = non_negative(100)
    weight_decay: float = non_negative(0.1)
    beta1: float = bounded(0.9, 0, 1, False)
    beta2: float = bounded(0.95, 0, 1, False)
    grad_clip: float = non_negative(1.0)
    # "hf": every matrix drawn from N(0, 0.02) (transformers' Llama init, what every committed model
    # used); "scaled": the same, but the two matrices that write into the residual stream in each
    # layer (attention o_proj, MLP down_proj) drawn with std 0.02 / sqrt(2 * n_layers), GPT-2's rule
    # (Radford et al. 2019), so the residual stream's initial variance does not grow with depth
    init: str = choice("hf", ("hf", "scaled"))
    epochs: float = non_negative(2.0)
    checkpoints: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0)  # in epochs; 0 = initialisation
    seed: int = 0
    max_steps: int = non_negative(0)  # >0 caps the run (smoke tests); the schedule keeps its full length
    val_blocks: int = non_negative(64)  # validation blocks (of seq_len tokens) scored at each checkpoint
    log_every: int = positive(20)
    # "fp32", "bf16" (autocast: bfloat16 matmuls, float32 master weights and optimizer state)
    # or "auto" (bf16 where the device has fast bfloat16 matmuls); part of the run's identity
    precision: str = choice("fp32", PRECISIONS)


@dataclass(frozen=True)
class ScoringConfig:
    """Minimal-pair scoring policy (recorded in every result)."""

    bos: str = choice("prepend", ("prepend", "none"))  # "prepend": log p(s | BOS), every token scored; "none": first token unscored
    batch_tokens: int = positive(2048)  # tokens per evaluation batch; a batch holds sentences of one length
    pack_pairs: bool = True  # score a pair's shared prefix once (Llama-family models; others ignore it)
    precision: str = choice("fp32", PRECISIONS)  # "fp32" (exact: the 1e-5 contract), "bf16" or "auto"; see precision.py
    # what eval2 (scoring every test pair after each fine-tune) keeps: "margins", each pair's
    # log p(good) - log p(bad) with the shared prefix run once and not projected to the
    # vocabulary (it cancels; exact to 1e-5, faster); or "sentences", both sentences' full
    # log-probs. Eval1 and `taskspace score` always keep full log-probs.
    eval2: str = choice("margins", ("margins", "sentences"))


@dataclass(frozen=True)
class FTGDConfig:
    """Fine-tuning on one paradigm's training pairs (see ``ftgd.py`` and book/methods.md)."""

    method: str = choice("ftgd", ("ftgd", "plain"))  # "ftgd": masked gradient-differential tuning; "plain": LM loss on good sentences, no mask
    mask_rule: str = choice("threshold", ("threshold", "top_fraction"))  # "threshold": |g_diff| >= threshold; "top_fraction": the largest |g_diff|
    threshold: float = non_negative(1e-3)  # the paper's value
    top_fraction: float = fraction(0.05)  # share of parameters kept by mask_rule="top_fraction"
    # which coordinates a mask holds: "gradient" (FTGD: the largest |g_diff|, by mask_rule), or "random":
    # as many as the gradient rule would keep, drawn uniformly over all parameters (seeded by ftgd.seed
    # and the paradigm's training pairs): the control that asks whether FTGD's selection matters
    mask_selection: str = choice("gradient", ("gradient", "random"))
    mask_from: str = choice("train", ("train", "first_batch", "step"))  # "train": differential over the whole training split, fixed;
    #                           "first_batch": the first batch's, fixed; "step": recomputed every step
    mask_reduction: str = choice("mean", ("mean", "sum"))  # per-pair differentials averaged ("mean") or summed ("sum") for the mask
    objective: str = choice("logistic", ("logistic", "hinge", "differential"))  # "logistic": -log sigmoid(margin); "hinge": relu(hinge_margin - margin);
    #                              "differential": -margin (unbounded; bounded only by the step count)
    hinge_margin: float = positive(1.0)
    optimizer: str = choice("sgd", ("sgd", "adam", "adamw"))  # "sgd" (no momentum), "adam" or "adamw"
    lr: float = positive(5e-3)
    weight_decay: float = non_negative(0.0)  # adamw only
    steps: int = positive(20)
    batch_size: int = positive(32)  # training pairs per step
    seed: int = 0  # batch order
    # forward/backward of the fine-tuning steps: "fp32", "bf16" or "auto" (the mask is always
    # decided on float32 gradients)
    precision: str = choice("fp32", PRECISIONS)


@dataclass(frozen=True)
class SpaceConfig:
    """How transfers become a task space and how it is compared with the hypothesis space."""

    metric: str = choice("effect", ("accuracy", "margin", "effect"))  # transfer metric the similarity uses: "accuracy", "margin" or "effect"
    similarity: str = choice("profile", ("profile", "rows", "columns", "mutual", "centred"))  # see analysis/similarity.py
    bootstrap: int = non_negative(1000)  # resamples of test pairs for the transfer CIs
    permutations: int = non_negative(9999)  # label permutations of the Mantel tests
    seed: int = 0
    # how the per-paradigm jobs run: "serial"; "processes" (local worker processes); "dask"
    # (Dask distributed: a LocalCluster of ``workers`` processes, or the cluster at ``scheduler``)
    executor: str = choice("serial", ("serial", "processes", "dask"))
    workers: int = positive(2)
    scheduler: str = ""  # address of a running Dask scheduler (e.g. tcp://10.0.0.5:8786); "" = start a LocalCluster
    threads: int = non_negative(0)  # torch threads per job; 0 = the cores divided among the workers (1 thread each when serial)


@dataclass(frozen=True)
class BookConfig:
    """The book's experiment plan: which model size each chapter studies (``""``: the chapter's
    default, noted per field), what the critique sweeps, and which null baselines, replicates and
    sparse-mask spaces back the claims (all off by default).

    A preset sets these to fit its compute budget; the choice never changes a result, only which
    results the book shows (see :func:`chapter_size` and ``plan.requests.plan_of``).
    """

    rq1_size: str = ""  # RQ1's task space; "": the largest size
    baseline_size: str = ""  # RQ1's plain fine-tuning baseline (next to FTGD on the same size); "": rq1_size
    dynamics_size: str = ""  # RQ3 and the critique's profile over training; "": the largest size
    dynamics_checkpoints: tuple[float, ...] = ()  # the epochs RQ3 studies; (): every checkpoint
    sweep_size: str = ""  # the critique's threshold and seed sweeps; "": the smallest size
    sweep_thresholds: tuple[float, ...] = non_negative_each((1e-4, 1e-3, 1e-2))  # FTGD thresholds the critique sweeps (the paper's is 1e-3)
    sweep_top_fraction: float = fraction(0.05)  # the share-fixing mask rule the critique compares with the thresholds
    sweep_seeds: tuple[int, ...] = (0, 1, 2)  # FTGD batch-order seeds: the critique's and the claims' noise floor
    # the untrained (epoch-0) space of every size: the null a trained model's numbers are read against
    null_baselines: bool = False
    # pretraining-seed replicates: runs of these sizes with each of these extra ``pretrain.seed``
    # values, each with its space at these checkpoints ("final" and/or epochs, e.g. [final, 0])
    replicate_sizes: tuple[str, ...] = ()
    pretrain_seeds: tuple[int, ...] = ()
    replicate_checkpoints: tuple[str, ...] = ("final",)
    # claim 3's noise where it is read: the dynamics size's pretraining-seed replicates also at
    # these RQ3 checkpoints (epochs; the dynamics size must be one of ``replicate_sizes``)
    dynamics_replicate_checkpoints: tuple[float, ...] = ()
    # claim 4's bands where they are read: the FTGD masks alone (no fine-tuning, no eval2) of the
    # dynamics size's pretraining-seed replicates at every RQ3 checkpoint, under the preset's mask
    # rule and the sparse one (``sparse_fraction``); a fraction of a space's cost each
    mask_replicates: bool = False
    # data-split replicates: the final space of ``split_size`` ("": the sweep size) with each of
    # these extra ``data.split_seed`` values (other FTGD training pairs, so other masks)
    split_seeds: tuple[int, ...] = ()
    split_size: str = ""
    # > 0: every size's final space and every checkpoint of the dynamics size also with the
    # top-fraction mask rule at this share (the paper's "about 5%" as a fixed share); 0: off
    sparse_fraction: float = bounded(0.0, 0, 1, True)
    # the method control: these sizes' final spaces also with random masks of FTGD's per-paradigm
    # share (ftgd.mask_selection = random), to ask whether FTGD's choice of parameters matters
    random_mask_sizes: tuple[str, ...] = ()
    # the same control under the sparse rule too (``sparse_fraction``), read against that rule's own
    # space: random masks of a 5% share overlap FTGD's by 5% by chance, not by the threshold's share
    random_mask_sparse: bool = False
    # generality: the task space of each of these benchmark sets ("zorro"; "blimp+zorro" for the
    # cross-benchmark space; "blimp>clams" for the template check over the phenomena CLAMS tests)
    # at the final and untrained checkpoints of ``benchmark_sizes``, and at the final checkpoint
    # with every ``split_seeds`` split (the band it is read against)
    benchmark_spaces: tuple[str, ...] = ()
    benchmark_sizes: tuple[str, ...] = ()
    # the final weights of these sizes are committed with the results (with a model card), so that
    # the exercises compute new spaces on them without pretraining (lm/shipped.py, results/weights.py)
    shipped_sizes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    """Everything one preset fixes."""

    preset: str = "ci"
    work_dir: str = "runs"  # models, tokenizers and caches go under work_dir/<preset>/
    # committed reference results, looked up before anything is computed; a relative path is
    # relative to the repository root; "" turns the lookup off
    results_dir: str = "results"
    # where pretraining, scoring and fine-tuning run; never part of a result's identity (see
    # models.resolve_devices); "auto" picks cuda, then mps, then cpu
    device: str = device_field()
    data: DataConfig = field(default_factory=DataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    ftgd: FTGDConfig = field(default_factory=FTGDConfig)
    space: SpaceConfig = field(default_factory=SpaceConfig)
    book: BookConfig = field(default_factory=BookConfig)
    sizes: Mapping[str, ModelSpec] = field(default_factory=dict)

    def size(self, name: str) -> ModelSpec:
        if name not in self.sizes:
            raise ConfigError(
                f"unknown size '{name}' for preset '{self.preset}' (choose from {', '.join(self.sizes)})"
            )
        return self.sizes[name]

    def run_dir(self) -> Path:
        return Path(self.work_dir) / self.preset

    def reference_dir(self) -> Path | None:
        """``<results_dir>/<preset>``, where this preset's committed results live (None: lookup off)."""
        if not self.results_dir:
            return None
        root = Path(self.results_dir)
        return (root if root.is_absolute() else REPO_ROOT / root) / self.preset

    def chapter_size(self, chapter: str) -> str:
        """The size a chapter studies: ``rq1``, ``baseline``, ``dynamics``, ``sweep`` or ``split`` (see :class:`BookConfig`)."""
        names = list(self.sizes)
        chosen = getattr(self.book, f"{chapter}_size")
        if chosen:
            self.size(chosen)  # an unknown size fails here, naming the preset's sizes
            return chosen
        if chapter == "baseline":
            return self.chapter_size("rq1")
        if chapter == "split":
            return self.chapter_size("sweep")
        return names[0] if chapter == "sweep" else names[-1]

