"""What one task space costs per size before and after the engine's changes, and what the preset's
plan costs at those rates.

    python benchmarks/space_cost.py --preset cpu [--work_dir DIR]

Reads ``benchmarks/results/space_profile_<preset>.json`` (``space_profile.py`` with the variants
``before`` = full-sentence eval2 in fp32, ``after`` = margin-only eval2 in fp32 and ``bf16`` =
margin-only eval2 with bf16 fine-tuning and scoring, timed interleaved on an idle machine, one
thread per worker) and, per profiled size, measures here on the same checkpoint:

- the max |Δ margin| of the exact path (margin-only eval2, fp32) against full-sentence scoring
  on every test pair;
- eval2's achieved GFLOP/s (useful multiply-adds: decoder positions that hold a token, and the
  vocabulary projection of the positions scored) as a share of the one-thread fp32 and bf16
  matmul ceilings measured in the same process.

``after`` is the fastest variant the project has accepted for that size: ``bf16`` where
``precision_space_<preset>_<size>.json`` says ``bf16_accepted``, else fp32 margins. A space's
wall time on this machine is its job time over the two workers of the default layout. The plan
is priced as every planned space at its size's rate. Targets are issue 34's; each is reported
met or not, never adjusted.

Results: ``benchmarks/results/space_cost_<preset>.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from taskspace_core.cli.args import parse_dotted_args
from taskspace_core.config import apply_overrides, load_preset
from taskspace_core.engine.probing import evaluate, prepare_probe_data
from taskspace_core.lm.models import decoder_and_head, load_model
from taskspace_core.lm.pretrain import ensure_checkpoint
from taskspace_core.plan.requests import plan_of
from taskspace_core.provenance import atomic_write_json, provenance

HERE = Path(__file__).resolve().parent
WORKERS = 2  # the default layout: two worker processes of one thread each
TARGETS = {"largest_space_wall_min": 32.0, "speedup_every_size": 2.5, "plan_hours": 8.0}
# (m, k, n): square matrices, and a batch of positions through the medium and large models' MLPs
SHAPES = ((512, 512, 512), (1024, 1024, 1024), (2048, 320, 864), (2048, 512, 1344))


def one_thread_ceilings(repeats: int = 5) -> dict[str, float]:
    """Best observed matmul GFLOP/s per dtype over :data:`SHAPES`, at the profile's thread count."""
    rates = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        for m, k, n in SHAPES:
            a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
            a @ b  # warm-up
            best = float("inf")
            for _ in range(repeats):
                started = time.perf_counter()
                a @ b
                best = min(best, time.perf_counter() - started)
            rates[name] = max(rates.get(name, 0.0), 2 * m * k * n / best / 1e9)
    return rates


def eval2_gflop(model, plan) -> float:
    """Useful FLOP of one margin-only eval2 pass: 2 per weight per real position through the
    layers (plus attention over the positions each may attend to), 2 per projection weight per
    scored prediction."""
    config = model.config
    d, layers, vocab = config.hidden_size, config.num_hidden_layers, config.vocab_size
    decoder, _ = decoder_and_head(model)
    # the layers' matrix weights: every 2-D parameter of the decoder but the embedding table
    weights = sum(p.numel() for p in decoder.parameters() if p.dim() == 2) - vocab * d
    flop = 0.0
    for batch in plan.batches:
        attended = batch.mask.sum().item()  # (query, key) pairs that attend, over the batch
        real = int(batch.mask.diagonal(dim1=-2, dim2=-1).sum().item())  # positions holding a token
        # per real position 2 FLOP per weight; per attended pair q.k and p.v, 2 * d each, per layer;
        # per scored prediction the (vocab x d) projection
        flop += 2 * weights * real + layers * 2 * 2 * d * attended + 2 * vocab * d * len(batch.rows)
    return flop / 1e9


def exactness(config, model_path: Path) -> tuple[float, float, int]:
    """(max |Δ margin| of margin-only eval2 against full sentences in fp32, eval2 GFLOP, pairs)."""
    fp32 = apply_overrides(config, {"scoring.precision": "fp32", "ftgd.precision": "fp32"})
    model, tokenizer = load_model(model_path, device="cpu")
    data = prepare_probe_data(fp32, tokenizer)
    full = evaluate(model, data, fp32)
    margins = evaluate(model, data, fp32, margins=True)["margin"]
    delta = float(np.abs((full["logp_good"] - full["logp_bad"]) - margins).max())
    return delta, eval2_gflop(model, data.margin_packed), len(margins)


def accepted_precision(preset: str, size: str) -> tuple[str, str]:
    """("bf16" or "fp32", why) from the bf16 acceptance result of this size, if there is one."""
    path = HERE / "results" / f"precision_space_{preset}_{size}.json"
    if not path.is_file():
        return "fp32", "bf16 not judged at this size (no precision_space result)"
    accepted = json.loads(path.read_text())["bf16_accepted"]
    return ("bf16", f"{path.name}: accepted") if accepted else ("fp32", f"{path.name}: rejected")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu")
    args, extra = parser.parse_known_args()
    torch.set_num_threads(1)
    base = load_preset(args.preset, parse_dotted_args(extra))
    profile = json.loads((HERE / "results" / f"space_profile_{args.preset}.json").read_text())["sizes"]
    ceilings = one_thread_ceilings()
    sizes = {}
    for size, row in profile.items():
        variants = row["variants"]
        precision, why = accepted_precision(args.preset, size)
        chosen = "bf16" if precision == "bf16" else "after"
        epoch = row["checkpoint"].removeprefix("epoch-")
        path = ensure_checkpoint(base, size, epoch, train_if_missing=float(epoch) == 0.0)
        delta, gflop, pairs = exactness(base, path)
        # the margin-only variants' eval2 (the full-sentence one does more work than `gflop` counts)
        rates = {name: gflop / variants[name]["per_source_mean"]["eval2_s"] for name in ("after", "bf16")
                 if name in variants}
        mask_s = variants[chosen]["per_source_mean"]["mask_s"] * row["paradigms"] / WORKERS
        sizes[size] = {
            "checkpoint": row["checkpoint"], "parameters": row["parameters"],
            "before_s": variants["before"]["space_job_s"] / WORKERS,
            "after_s": variants[chosen]["space_job_s"] / WORKERS,
            "after_variant": chosen, "precision": precision, "precision_why": why,
            "speedup": variants["before"]["space_job_s"] / variants[chosen]["space_job_s"],
            "fp32_margins_s": variants["after"]["space_job_s"] / WORKERS,
            "bf16_margins_s": variants["bf16"]["space_job_s"] / WORKERS if "bf16" in variants else None,
            "mask_set_s": mask_s,
            "max_abs_margin_delta": delta, "test_pairs": pairs,
            "eval2_gflop": gflop,
            "eval2_gflops": rates,
            "eval2_share_of_ceiling": {name: rate / ceilings["bf16" if name == "bf16" else "fp32"]
                                       for name, rate in rates.items()},
        }
        print(f"{size}: {sizes[size]['before_s'] / 60:.1f} -> {sizes[size]['after_s'] / 60:.1f} min "
              f"({sizes[size]['speedup']:.2f}x, {precision}); max |d margin| {delta:.2e}", flush=True)
    counts = {}
    for request in plan_of(base).requests:
        counts[request.size] = counts.get(request.size, 0) + 1
    priced = {size: n for size, n in counts.items() if size in sizes}
    plan = {"spaces_per_size": counts, "priced_sizes": sorted(priced),
            "before_h": sum(n * sizes[s]["before_s"] for s, n in priced.items()) / 3600,
            "after_h": sum(n * sizes[s]["after_s"] for s, n in priced.items()) / 3600}
    largest = list(base.sizes)[-1]
    met = {"largest_space_wall_min": sizes[largest]["after_s"] / 60 <= TARGETS["largest_space_wall_min"]
           if largest in sizes else None,
           "speedup_every_size": all(r["speedup"] >= TARGETS["speedup_every_size"] for r in sizes.values()),
           "plan_hours": plan["after_h"] <= TARGETS["plan_hours"] if set(priced) == set(counts) else None}
    out = HERE / "results" / f"space_cost_{args.preset}.json"
    atomic_write_json(out, provenance(kind="benchmark", benchmark="space_cost", preset=args.preset,
                                      workers=WORKERS, one_thread_ceiling_gflops=ceilings, sizes=sizes, plan=plan,
                                      targets=TARGETS, targets_met=met))
    print(f"plan ({', '.join(plan['priced_sizes'])} priced): {plan['before_h']:.1f} h -> {plan['after_h']:.1f} h; "
          f"targets met: {met} -> {out}")


if __name__ == "__main__":
    main()
