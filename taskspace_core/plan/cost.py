"""What a preset costs in FLOP: pretraining and every task space the book needs, from first principles.

The usual accounting for a decoder with ``N`` weights in its matrix products:

    forward   2 N FLOP per token          (one multiply-add per weight)
    backward  4 N FLOP per token          (gradients of activations and of weights)
    attention 2 * 2 * n_layers * d_model * t  per token forward, at average causal context t

``N`` is :func:`~taskspace_core.lm.models.spec_parameters`: with tied embeddings the embedding
lookup is free and the output head (vocab x d) is the same matrix, so the parameter count is
exactly the matmul weight count. Per task space:

    eval pass   forward over every scored test token            (eval1, and eval2 after each source)
    FTGD mask   forward + backward over every training pair      (mask_from="train": once per source)
    FTGD steps  forward + backward over steps * batch_size pairs (per source)

These are lower bounds on work, not predictions of wall time: small models on a GPU are bound
by kernel launches and memory traffic long before they reach the FLOP rate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Config
from ..corpora.benchmarks import selected_paradigms
from ..lm.checkpoints import find_checkpoint_meta
from ..lm.identity import checkpoint_identity, run_name
from ..lm.models import spec_parameters
from ..results.read import find_space
from .requests import plan_of, pretraining_runs
from .stages import space_costs


@dataclass(frozen=True)
class Workload:
    """The data-dependent numbers a budget needs (measured, see the reproducing chapter)."""

    tokens_per_epoch: float  # pretraining tokens in one pass over the corpus
    tokens_per_pair: float  # scored tokens of one minimal pair, both sentences, BOS included


def _per_token(config: Config, size: str, context: float) -> tuple[float, float]:
    """(forward, forward+backward) FLOP per token at average attended context ``context``."""
    spec = config.size(size)
    forward = 2 * spec_parameters(spec, config.tokenizer.vocab_size) + 4 * spec.n_layers * spec.d_model * context
    return forward, 3 * forward


def space_flops(config: Config, size: str, workload: Workload, n_paradigms: int = 67) -> dict[str, float]:
    """FLOP of one task space of ``size`` under ``config``: per stage, and ``total``."""
    sentence = workload.tokens_per_pair / 2
    forward, train = _per_token(config, size, sentence / 2)
    f, d = config.ftgd, config.data
    eval_pass = forward * workload.tokens_per_pair * d.n_test * n_paradigms
    mask = 0.0 if f.method == "plain" else train * workload.tokens_per_pair * d.n_train
    if f.method == "ftgd" and f.mask_from == "step":
        mask = train * workload.tokens_per_pair * f.batch_size * f.steps
    steps = train * workload.tokens_per_pair * f.batch_size * f.steps * (0.5 if f.method == "plain" else 1.0)
    stages = {"eval (eval1 + eval2)": eval_pass * (1 + n_paradigms), "FTGD mask": mask * n_paradigms,
              "fine-tuning steps": steps * n_paradigms}
    return {**stages, "total": sum(stages.values())}


def pretrain_flops(config: Config, size: str, workload: Workload) -> float:
    """FLOP of pretraining ``size`` for ``pretrain.epochs`` epochs."""
    _, train = _per_token(config, size, config.pretrain.seq_len / 2)
    return train * workload.tokens_per_epoch * config.pretrain.epochs


def preset_budget(config: Config, workload: Workload) -> pd.DataFrame:
    """One row per size: its pretraining runs (replicates included) and their PFLOP, and the
    number and PFLOP of every task space the book asks for of it."""
    requests = plan_of(config).unique()
    runs = pretraining_runs(config)
    rows = []
    for size in config.sizes:
        mine = [r for r in requests if r.size == size]
        spaces = sum(space_flops(r.config(config), size, workload)["total"] for r in mine)
        n_runs = sum(1 for _, s in runs if s == size)
        rows.append({"size": size, "parameters (M)": spec_parameters(config.size(size), config.tokenizer.vocab_size) / 1e6,
                     "pretraining runs": n_runs,
                     "pretraining PFLOP": n_runs * pretrain_flops(config, size, workload) / 1e15,
                     "task spaces": len(mine), "task spaces PFLOP": spaces / 1e15})
    table = pd.DataFrame(rows).set_index("size")
    table["total PFLOP"] = table["pretraining PFLOP"] + table["task spaces PFLOP"]
    return table


# --------------------------------------------------------------------------- against measurements


def measured_workload(measured: Config, speed_file: Path) -> Workload:
    """The workload measured on the shipped data: pretraining tokens per epoch from ``measured``'s
    committed small checkpoint, scored tokens per pair from a ``benchmarks/speed.py`` run."""
    meta = find_checkpoint_meta(measured, list(measured.sizes)[0], "final")
    scored = json.loads(Path(speed_file).read_text())["sizes"][0]["scoring"]
    return Workload(tokens_per_epoch=meta["tokens_seen"] / measured.pretrain.epochs,
                    tokens_per_pair=scored["tokens"] / scored["pairs"])


def achieved_rates(measured: Config, workload: Workload) -> pd.DataFrame:
    """The FLOP accounting held against ``measured``'s committed wall times: per size, pretraining and
    the default task space of the final checkpoint, with predicted TFLOP, measured minutes (job
    time over the workers that ran side by side) and the achieved GFLOP/s."""
    rows = []
    metas = {s: find_checkpoint_meta(measured, s, "final") for s in measured.sizes}
    for size, meta in metas.items():
        rows.append({"work": f"{measured.preset}: pretrain {size}", "TFLOP": pretrain_flops(measured, size, workload) / 1e12,
                     "measured minutes": meta["wall_time_s"] / 60, "workers": 1})
    costs = space_costs(measured).set_index("store")
    for size, meta in metas.items():
        found = find_space(measured, checkpoint_identity(meta))
        if found is not None and found.name in costs.index:
            row = costs.loc[found.name]
            rows.append({"work": f"{measured.preset}: task space {size} (FTGD)",
                         "TFLOP": space_flops(measured, size, workload)["total"] / 1e12,
                         "measured minutes": row["summed job time (min)"] / row["workers"], "workers": row["workers"]})
    table = pd.DataFrame(rows).set_index("work")
    table["achieved GFLOP/s"] = table["TFLOP"] * 1e3 / (table["measured minutes"] * 60)
    return table


def budget_in_time(config: Config, workload: Workload, gpu_tflops: float, cpu_gflops: float) -> pd.DataFrame:
    """:func:`preset_budget` with GPU hours at an assumed sustained rate and CPU days at a measured one."""
    budget = preset_budget(config, workload)
    budget["GPU hours at assumed rate"] = budget["total PFLOP"] * 1e15 / (gpu_tflops * 1e12) / 3600
    budget["CPU days at measured rate"] = budget["total PFLOP"] * 1e15 / (cpu_gflops * 1e9) / 86400
    return budget


def budget_on_card(config: Config, workload: Workload, card: dict) -> pd.DataFrame:
    """:func:`preset_budget` in hours on the GPU that ``benchmarks/gpu_check.py`` measured (``card``:
    its JSON). Pretraining runs at each size's measured training tokens/s, in float32 (the
    preset's precision) and in bfloat16, over the tokens per epoch measured there (the preset's
    own tokenizer on the shipped corpus). Every task space takes the measured time of one space of
    its size at float32; a size that was not timed takes the largest timed size's, an upper bound."""
    budget = preset_budget(config, workload)
    measured = card["parts"]["pretrain_rates"]["pretrain"]
    rates = {(row["size"], row["precision"]): row["tokens_per_s"] for row in measured["rows"]}
    tokens = measured["tokens_per_epoch"] * config.pretrain.epochs  # per pretraining run
    for precision in ("fp32", "bf16"):
        budget[f"card hours: pretraining {precision}"] = [
            budget.loc[size, "pretraining runs"] * tokens / rates[(size, precision)] / 3600 for size in budget.index]
    timed = card["parts"]["paper_jobs"]["by_size"]
    largest = [size for size in config.sizes if size in timed][-1]
    space_s = [timed.get(size, timed[largest])["projected_space_s"] for size in budget.index]
    budget["card hours: task spaces"] = budget["task spaces"] * np.array(space_s) / 3600
    budget["card hours: total (fp32)"] = budget["card hours: pretraining fp32"] + budget["card hours: task spaces"]
    return budget


def pretrain_rates(config: Config, workload: Workload) -> dict[str, float]:
    """Achieved GFLOP/s of each size's pretraining under ``config``: predicted FLOP over the wall
    time its final checkpoint recorded (sizes not trained yet are left out)."""
    rates = {}
    for size in config.sizes:
        meta = find_checkpoint_meta(config, size, "final")
        if meta and meta.get("wall_time_s"):
            rates[size] = pretrain_flops(config, size, workload) / meta["wall_time_s"] / 1e9
    return rates


def space_rates(config: Config, workload: Workload, fallback: float) -> dict[str, float]:
    """Achieved GFLOP/s of a task space of each size under ``config``: its own committed default
    final space where one is measured (:func:`achieved_rates`), else ``fallback`` (a rate measured
    on another preset)."""
    measured = achieved_rates(config, workload)
    rates = {}
    for size in config.sizes:
        row = f"{config.preset}: task space {size} (FTGD)"
        rates[size] = float(measured.loc[row, "achieved GFLOP/s"]) if row in measured.index else fallback
    return rates


def run_plan(config: Config, workload: Workload, space_gflops: float | dict[str, float],
             pretrain_gflops: dict[str, float]) -> pd.DataFrame:
    """The whole of ``taskspace reproduce`` under ``config``, in its order: one row per planned
    space (:func:`~.requests.plan_of`), each preceded by the pretraining of its run when
    that run is first needed (:func:`~.requests.pretraining_runs`), with its predicted TFLOP,
    its projected hours at the given rates (a size's pretraining rate; one space rate, or one
    per size) and the running total."""
    def space_rate(size: str) -> float:
        return space_gflops[size] if isinstance(space_gflops, dict) else space_gflops

    rows, pretrained = [], set()

    def pretraining(run: Config, size: str) -> None:
        if run_name(run, size) not in pretrained:
            pretrained.add(run_name(run, size))
            flops = pretrain_flops(run, size, workload)
            rows.append({"stage": f"pretrain {run_name(run, size)}", "purpose": "pretraining",
                         "TFLOP": flops / 1e12, "hours": flops / (pretrain_gflops[size] * 1e9) / 3600})

    for request in plan_of(config).unique():
        sub = request.config(config)
        pretraining(sub, request.size)
        flops = space_flops(sub, request.size, workload, len(selected_paradigms(sub.data)))["total"]
        rows.append({"stage": request.describe(), "purpose": request.purpose, "TFLOP": flops / 1e12,
                     "hours": flops / (space_rate(request.size) * 1e9) / 3600})
    for run, size in pretraining_runs(config):
        pretraining(run, size)
    table = pd.DataFrame(rows)
    table["cumulative hours"] = table["hours"].cumsum()
    return table


# --------------------------------------------------------------------------- at the engine's measured rates


def priced_plan(config: Config, profile: dict, workers: int = 2) -> pd.DataFrame:
    """The plan in the order ``reproduce`` runs it, each planned space and mask set priced at the
    engine's measured rates: ``profile`` is ``benchmarks/space_profile.py``'s per-size result for
    the preset's own engine (``{size: {"paradigms", "variants": {name: {"eval1_s",
    "per_source_mean"}}}}``, one variant). A space over ``n`` paradigms costs eval1 scaled by
    ``n / profiled`` plus ``n`` sources, each its mask and fine-tuning steps and an eval2 scaled by
    ``n / profiled`` (plain fine-tuning has no mask); a mask set costs ``n`` masks. Job time is
    spread over ``workers`` processes. Another benchmark's pairs are priced at BLiMP's length.
    Columns: stage, purpose, kind, hours, cumulative hours."""
    rows = []
    requests = [(r, "space") for r in plan_of(config).unique()] + [(r, "mask set") for r in plan_of(config).mask_sets]
    for request, kind in requests:
        measured = profile[request.size]
        (variant,) = measured["variants"].values()
        phases, sub = variant["per_source_mean"], request.config(config)
        n = len(selected_paradigms(sub.data))
        scale = n / measured["paradigms"]
        if kind == "mask set":
            job = n * phases["mask_s"]
        else:
            mask = 0.0 if sub.ftgd.method == "plain" else phases["mask_s"]
            job = variant["eval1_s"] * scale + n * (mask + phases["steps_s"] + phases["eval2_s"] * scale
                                                     + phases["restore_s"])
        rows.append({"stage": request.describe(), "purpose": request.purpose, "kind": kind,
                     "hours": job / workers / 3600})
    table = pd.DataFrame(rows)
    table["cumulative hours"] = table["hours"].cumsum()
    return table
