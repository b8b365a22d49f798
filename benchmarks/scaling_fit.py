"""A small scaling fit on validation loss: which model sizes and how many tokens the ladder gets.

    python benchmarks/scaling_fit.py run  [--preset cpu] [--pause-file F]   # the grid (hours; resumes)
    python benchmarks/scaling_fit.py fit  [--preset cpu]                    # fit, and price candidate ladders
    python benchmarks/scaling_fit.py run  --init scaled --lr-exponent 0.5 --points d192@0.25,d384@0.25

``run`` pretrains each point of ``GRID`` (a model shape and a token count) from scratch with the
preset's real training loop: its batch, sequence length, corpus, tokenizer, bf16 precision and
warm-up/cosine schedule ending at that token count. The peak learning rate follows the width rule
``lr = LR_ANCHOR * D_ANCHOR / d_model`` (the rate of the 192-wide model, scaled as 1/width, the
usual rule for AdamW under standard parametrisation); ``--lr-exponent k`` makes it
``LR_ANCHOR * (D_ANCHOR / d_model)^k``, and ``--init`` sets ``pretrain.init`` (``hf``, the
default, or ``scaled``). A grid of another rate rule or init is another grid: its points go to
``scaling_fit_<preset>_<init>-k<k>.json`` and are fitted on their own. ``--points`` runs a
subset (``shape@epochs``, comma-separated) instead of ``GRID``. Warm-up is 200 steps, or a tenth of a
shorter run. A point keeps a checkpoint every 1/16 epoch in ``--work-dir``, so a point cut off by
the end of a session resumes from the newest one (bit-identical) when ``run`` is started again.
Each point records the validation loss (the preset's held-out books, the loss every checkpoint
records), the parameter counts, tokens and wall time (``train_wall_s`` over all its sessions). Results go to
``benchmarks/results/scaling_fit_<preset>.json`` one point at a time, so an interrupted grid
resumes. While ``--pause-file`` exists, no new point starts (an idle machine for a benchmark).

``fit`` fits ``L(N, D) = E + A / N^alpha + B / D^beta`` (N: parameters without the embedding
matrix, D: training tokens) by least squares, the exponents on a grid and E, A, B exactly for
each, and prices candidate ladders: the predicted loss of each size at each token count, the
pretraining hours of every size at the measured bf16 rates (``pretrain_throughput_<preset>.json``,
or the FLOP rate of the nearest measured size) with three seeds each, and with three seeds of the
two smaller sizes and one of the largest (the ladders printed are those within ``--budget-hours``
that way), and how much the largest size would still gain from 50% more tokens. Validation loss
only: BLiMP is never looked at.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from recipe_sweep import progress, resume_points, run_variant

from taskspace_core.config import apply_overrides, load_preset, to_dict
from taskspace_core.config.build import LATER_FIELDS
from taskspace_core.lm.models import spec_parameters
from taskspace_core.provenance import atomic_write_json, provenance

HERE = Path(__file__).resolve().parent

# shapes: d_model, layers, heads (64 wide), MLP width (about 8/3 d, SwiGLU); 192, 320 and 512 are
# the current `cpu` sizes
SHAPES = {
    "d128": (128, 3, 2, 352),
    "d192": (192, 4, 3, 512),
    "d256": (256, 5, 4, 704),
    "d320": (320, 5, 5, 864),
    "d384": (384, 6, 6, 1024),
    "d448": (448, 6, 7, 1216),
    "d512": (512, 7, 8, 1344),
}
LR_ANCHOR, D_ANCHOR = 2e-3, 192  # the rate the 192-wide model's sweeps chose (recipe_sweep_cpu_lr_small.json)
# (shape, epochs of the preset's corpus): short runs at every width, longer ones at the small widths
GRID = [(s, 0.125) for s in ("d128", "d192", "d256", "d384")] + \
       [(s, 0.25) for s in ("d128", "d192", "d256", "d384")] + \
       [(s, 0.5) for s in ("d128", "d192", "d256")] + [("d128", 1.0)]
# checkpoints every this many epochs: a point interrupted (a session ends) resumes from the newest
# one instead of starting over. They do not change the run (its schedule is the whole run's, and
# a resumed run is bit-identical); their validation losses are kept as the point's curve.
RESUME_EVERY = 0.0625


def width_lr(d_model: int, exponent: float = 1.0) -> float:
    return LR_ANCHOR * (D_ANCHOR / d_model) ** exponent


def recipe_suffix(init: str = "hf", exponent: float = 1.0) -> str:
    """What names a grid's files: nothing for today's recipe (``hf`` init, 1/width), else both."""
    return "" if (init, exponent) == ("hf", 1.0) else f"_{init}-k{exponent:g}"


def results_path(preset: str, init: str = "hf", exponent: float = 1.0) -> Path:
    """One grid per recipe: today's keeps its original name."""
    return HERE / "results" / f"scaling_fit_{preset}{recipe_suffix(init, exponent)}.json"


def parse_points(text: str) -> list[tuple[str, float]]:
    points = []
    for item in filter(None, text.split(",")):
        shape, _, epochs = item.partition("@")
        if shape not in SHAPES or not epochs:
            raise SystemExit(f"--points: {item!r} is not SHAPE@EPOCHS with SHAPE one of {', '.join(SHAPES)}")
        points.append((shape, float(epochs)))
    return points


def point_config(preset: str, shape: str, epochs: float, work: Path, init: str = "hf", exponent: float = 1.0):
    """The preset with one size of ``shape``, trained for ``epochs`` under the width rule."""
    d, layers, heads, mlp = SHAPES[shape]
    base = load_preset(preset)
    if base.pretrain.lr_by_size:
        raise SystemExit(f"{preset}: pretrain.lr_by_size is set; the grid sets every rate by the width rule")
    size = list(base.sizes)[0]
    config = apply_overrides(base, {
        "work_dir": str(work), f"sizes.{size}.d_model": d, f"sizes.{size}.n_layers": layers,
        f"sizes.{size}.n_heads": heads, f"sizes.{size}.d_mlp": mlp, "pretrain.epochs": epochs,
        "pretrain.checkpoints": resume_points(epochs, RESUME_EVERY), "pretrain.lr": width_lr(d, exponent),
        "pretrain.init": init})
    steps = math.ceil(epochs * steps_per_epoch(config))
    return apply_overrides(config, {"pretrain.warmup_steps": min(200, round(0.1 * steps))}), size


def steps_per_epoch(config) -> int:
    from taskspace_core.corpora.books import prepare_corpus

    corpus = prepare_corpus(config, log=lambda *_: None)
    return (len(corpus.train_tokens) - 1) // config.pretrain.seq_len // config.pretrain.batch_size


def committed_point(config, size: str) -> dict | None:
    """A committed run of the preset that is this grid point (same shape, recipe and seed), read
    from its final checkpoint's record instead of training it again: pretraining reproduces
    bit for bit, so the validation loss would be the same."""
    from taskspace_core.paths import REPO_ROOT

    keys = ("seq_len", "batch_size", "lr", "warmup_steps", "min_lr_ratio", "weight_decay", "beta1", "beta2",
            "grad_clip", "epochs", "seed", "precision", "val_blocks", "init")
    want = to_dict(config)
    for record in sorted((REPO_ROOT / "results" / config.preset / "models").glob(f"*/epoch-{config.pretrain.epochs:g}.json")):
        meta = json.loads(record.read_text())
        got = meta["config"]
        if (got["sizes"].get(meta["size"]) == want["sizes"][size] and got["tokenizer"] == want["tokenizer"]
                # a record from before a later field holds that field's earlier behaviour
                and all(got["pretrain"].get(k, LATER_FIELDS.get(("pretrain", k))) == want["pretrain"][k] for k in keys)
                and not got["pretrain"].get("lr_by_size")):
            return {"val_loss": meta["val_loss"], "tokens_seen": meta["tokens_seen"],
                    "n_parameters": meta["n_parameters"], "train_wall_s": meta["wall_time_s"],
                    "tokens_per_s": meta["tokens_seen"] / meta["wall_time_s"],
                    "source": str(record.relative_to(REPO_ROOT))}
    return None


def embedding_parameters(config, size: str) -> int:
    return config.tokenizer.vocab_size * config.size(size).d_model  # tied input/output matrix


def run(args) -> None:
    out = results_path(args.preset, args.init, args.lr_exponent)
    rows = json.loads(out.read_text())["points"] if out.exists() else []
    work = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    for shape, epochs in args.points or GRID:
        if any(r["shape"] == shape and r["epochs"] == epochs for r in rows):
            continue
        while args.pause_file and args.pause_file.exists():
            time.sleep(30)
        config, size = point_config(args.preset, shape, epochs, work, args.init, args.lr_exponent)
        result = committed_point(config, size)
        # kept until the point is recorded: it resumes (named by the recipe where it is not today's)
        scratch = work / f"point-{shape}-epochs-{epochs:g}{recipe_suffix(args.init, args.lr_exponent)}"
        if result is None:
            result = run_variant(config, size, scratch, log=progress(f"{shape} @ {epochs:g} epoch"))
        n_embed = embedding_parameters(config, size)
        rows.append({"shape": shape, "epochs": epochs, "lr": config.pretrain.lr,
                     "warmup_steps": config.pretrain.warmup_steps, "non_embedding_parameters":
                     result["n_parameters"] - n_embed, **result, "config": to_dict(config)})
        print(f"{shape} @ {epochs:g} epoch: val loss {result['val_loss']:.4f}, {result['tokens_seen']:,} tokens, "
              f"{result['tokens_per_s']:,.0f} tok/s, {result['train_wall_s']:.0f}s", flush=True)
        atomic_write_json(out, provenance(kind="benchmark", benchmark="scaling_fit", preset=args.preset,
                                          lr_rule=f"{LR_ANCHOR:g} * ({D_ANCHOR} / d_model)^{args.lr_exponent:g}",
                                          init=args.init, points=rows,
                                          fit=json.loads(out.read_text()).get("fit") if out.exists() else None))
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"-> {out}")


# --------------------------------------------------------------------------- the fit


def fit_loss(n: np.ndarray, d: np.ndarray, loss: np.ndarray) -> dict:
    """``L = E + A n^-alpha + B d^-beta``: exponents on a grid, E, A, B by least squares for each."""
    best = None
    for alpha, beta in itertools.product(np.arange(0.02, 1.2, 0.01), repeat=2):
        design = np.stack([np.ones_like(n), n ** -alpha, d ** -beta], axis=1)
        coef, *_ = np.linalg.lstsq(design, loss, rcond=None)
        if coef[1] < 0 or coef[2] < 0:  # a loss that rises with size or data is no scaling law
            continue
        sse = float(((design @ coef - loss) ** 2).sum())
        if best is None or sse < best["sse"]:
            best = {"E": coef[0], "A": coef[1], "alpha": alpha, "B": coef[2], "beta": beta, "sse": sse}
    best["rmse"] = math.sqrt(best["sse"] / len(loss))
    return {k: float(v) for k, v in best.items()}


def predict(fit: dict, n: float, d: float) -> float:
    return fit["E"] + fit["A"] * n ** -fit["alpha"] + fit["B"] * d ** -fit["beta"]


def fit(args) -> None:
    out = results_path(args.preset, args.init, args.lr_exponent)
    record = json.loads(out.read_text())
    rows = record["points"]
    n = np.array([r["non_embedding_parameters"] for r in rows], float)
    d = np.array([r["tokens_seen"] for r in rows], float)
    loss = np.array([r["val_loss"] for r in rows], float)
    if len(rows) < 2 * 5:  # five free parameters: ask for twice as many points before trusting a fit
        raise SystemExit(f"{out}: {len(rows)} grid points recorded; the fit needs at least 10 (run `run` first)")
    law = fit_loss(n, d, loss)
    residuals = {f"{r['shape']}@{r['epochs']:g}": round(float(loss[i] - predict(law, n[i], d[i])), 4)
                 for i, r in enumerate(rows)}
    print(f"L = {law['E']:.3f} + {law['A']:.3g}/N^{law['alpha']:.2f} + {law['B']:.3g}/D^{law['beta']:.2f}"
          f"  (rmse {law['rmse']:.4f} over {len(rows)} points)")
    print("residuals:", residuals)
    config = load_preset(args.preset)
    ladders = price_ladders(law, config, flop_rates(args.preset))
    for ladder in sorted(ladders, key=lambda x: x["predicted_val_loss"][-1]):
        if ladder["hours_three_seeds_one_largest"] <= args.budget_hours:
            print(ladder)
    chosen = choose_ladder(ladders, args.budget_hours, args.max_run_hours)
    uncapped = choose_ladder(ladders, args.budget_hours)
    print("chosen by the rule (benchmarks/NOTES.md):", chosen or "none: no ladder within the budget meets the bars")
    if uncapped != chosen:
        print(f"(without the {args.max_run_hours:g} h cap on one run it would be: {uncapped})")
    record["fit"] = {"law": law, "residuals": residuals, "n": "parameters without the embedding matrix",
                     "budget_hours": args.budget_hours,
                     "max_run_hours": args.max_run_hours if math.isfinite(args.max_run_hours) else None,  # (JSON has no inf)
                     "ladders": ladders, "chosen": chosen, "chosen_without_run_cap": uncapped,
                     "rule": {"min_step": MIN_STEP, "min_gain": MIN_GAIN, "min_ratio": MIN_RATIO}}
    atomic_write_json(out, record)
    print(f"-> {out}")


# the ladder rule (benchmarks/NOTES.md, "The scaled-init grid, rule written before it runs")
MIN_RATIO = 2.5  # neighbouring sizes at least this many times apart in parameters (the paper's 2.6 and 2.9)
MIN_STEP = 0.04  # nats: every predicted step between neighbours more than twice the 0.02 seed band
MIN_GAIN = 0.02  # nats: the largest size still gains more than the seed band from 50% more tokens
# token counts priced, in epochs of the preset's corpus: quarter epochs, so the budget is not left
# unused between coarse steps; at most two, since repeated text is not the fresh tokens the fit's
# D term was measured on
LADDER_EPOCHS = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)


def price_ladders(law: dict, config, rates: list[tuple[float, float]]) -> list[dict]:
    """Every three-size ladder of ``SHAPES`` with neighbours ``MIN_RATIO`` apart, at every token
    count of ``LADDER_EPOCHS``: predicted losses and steps, pretraining hours (one seed of each
    size; three of each; three of the two smaller and one of the largest) and the largest size's
    gain from 50% more tokens."""
    per_epoch = steps_per_epoch(config) * config.pretrain.batch_size * config.pretrain.seq_len
    ladders = []
    for shapes in itertools.combinations(SHAPES, 3):
        params = [spec_params(s, config) for s in shapes]
        if any(b / a < MIN_RATIO for a, b in zip(params, params[1:])):
            continue
        for epochs in LADDER_EPOCHS:
            tokens = float(epochs * per_epoch)  # (plain floats: the record is JSON)
            losses = [float(predict(law, spec_params(s, config, embedding=False), tokens)) for s in shapes]
            hours = [tokens / tokens_per_s(s, config, rates) / 3600 for s in shapes]
            gain = losses[-1] - float(predict(law, spec_params(shapes[-1], config, embedding=False), 1.5 * tokens))
            ladders.append({"shapes": list(shapes), "parameters_m": [round(p / 1e6, 2) for p in params],
                            "epochs": float(epochs), "tokens_m": round(tokens / 1e6, 2),
                            "predicted_val_loss": [round(x, 3) for x in losses],
                            "steps": [round(a - b, 3) for a, b in zip(losses, losses[1:])],
                            "hours_one_seed": [round(h, 2) for h in hours],
                            "hours_three_seeds": round(3 * sum(hours), 2),
                            # the fallback: three seeds of the two smaller sizes, one of the largest
                            "hours_three_seeds_one_largest": round(3 * sum(hours[:-1]) + hours[-1], 2),
                            "largest_gain_from_50pct_more_tokens": round(gain, 3)})
    return ladders


def choose_ladder(ladders: list[dict], budget_hours: float, max_run_hours: float = math.inf) -> dict | None:
    """The rule: of the ladders whose pretraining fits ``budget_hours`` (three seeds of the two
    smaller sizes and one of the largest) and whose every single run fits ``max_run_hours``,
    those whose every predicted step is more than ``MIN_STEP`` and whose largest size gains more
    than ``MIN_GAIN`` from 50% more tokens; of these the one whose largest size has the lowest
    predicted loss (ties: the cheaper). Its seeds are three of every size where that fits too.
    None when no ladder qualifies. It reads the priced values as recorded (losses and gains to
    0.001 nats, hours to 0.01)."""
    qualified = [x for x in ladders if x["hours_three_seeds_one_largest"] <= budget_hours
                 and max(x["hours_one_seed"]) <= max_run_hours
                 and min(x["steps"]) > MIN_STEP and x["largest_gain_from_50pct_more_tokens"] > MIN_GAIN]
    if not qualified:
        return None
    best = min(qualified, key=lambda x: (x["predicted_val_loss"][-1], x["hours_three_seeds_one_largest"]))
    return {**best, "seeds": [3, 3, 3 if best["hours_three_seeds"] <= budget_hours else 1]}


def spec_params(shape: str, config, embedding: bool = True) -> float:
    from taskspace_core.config import ModelSpec

    d, layers, heads, mlp = SHAPES[shape]
    total = spec_parameters(ModelSpec(d_model=d, n_layers=layers, n_heads=heads, d_mlp=mlp, context=128),
                            config.tokenizer.vocab_size)
    return total if embedding else total - config.tokenizer.vocab_size * d


def flop_rates(preset: str) -> list[tuple[float, float]]:
    """(parameters, bf16 tokens/s) of every size the throughput benchmark measured."""
    measured = json.loads((HERE / "results" / f"pretrain_throughput_{preset}.json").read_text())
    return sorted((row["n_parameters"], row["tokens_per_s"]) for row in measured["results"]
                  if row["precision"] == "bf16")


def tokens_per_s(shape: str, config, rates: list[tuple[float, float]]) -> float:
    """bf16 tokens/s of ``shape``: the nearest measured size's (by parameters), scaled by the
    parameter ratio (the same FLOP rate); measured shapes get their own rate."""
    n = spec_params(shape, config)
    measured_n, measured_rate = min(rates, key=lambda r: abs(math.log(r[0] / n)))
    return measured_rate * measured_n / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("run", "fit"))
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "taskspace-scaling")
    parser.add_argument("--pause-file", type=Path, default=None)
    parser.add_argument("--budget-hours", type=float, default=12.0)
    # a machine is not promised to outlive one session (about 3 h, with setup, scoring and CI to fit
    # beside the run); only git is kept for certain, so a longer run finishes only by luck
    parser.add_argument("--max-run-hours", type=float, default=2.0,
                        help="the longest one pretraining run may take (inf: no cap)")
    parser.add_argument("--init", choices=("hf", "scaled"), default="hf", help="pretrain.init of every point")
    parser.add_argument("--lr-exponent", type=float, default=1.0, help="peak rate 2e-3 * (192 / d_model)^k")
    parser.add_argument("--points", type=parse_points, default=None, help="shape@epochs,... instead of the grid")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    run(args) if args.command == "run" else fit(args)


if __name__ == "__main__":
    main()
