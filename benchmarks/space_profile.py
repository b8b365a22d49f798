"""Where a task space's time goes: eval1, and per source paradigm the FTGD mask, the fine-tuning
steps, eval2 (its decoder and its vocabulary projection apart) and restoring the base weights.

    python benchmarks/space_profile.py --preset cpu --size large --checkpoint 0 [--sources 8]
        [--label fp32-sentences] [--out FILE.json] [--section.field VALUE ...]

Timing does not depend on the weights (every fine-tune runs its fixed number of steps), so any
checkpoint of the right shape serves; ``--checkpoint 0`` (the initialisation) needs no
pretraining. The phases are timed one after another on ``--sources`` paradigms spread over the
67 (same order every run), with the engine's own functions and the preset's settings plus the
dotted overrides (e.g. ``--scoring.eval2 sentences`` for the engine before margin-only eval2,
``--scoring.precision bf16``). Each run appends one labelled row to the results file
(``benchmarks/results/space_profile_<preset>.json``), so configurations measured in one sitting
sit side by side. A whole space's time is the eval1 time plus 67 times the per-source mean.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from taskspace_core.cli.args import parse_dotted_args
from taskspace_core.config import load_preset, to_dict
from taskspace_core.engine.ftgd import differential_gradient, finetune, restore, snapshot
from taskspace_core.engine.probing import evaluate, prepare_probe_data
from taskspace_core.engine.scoring import supports_packing
from taskspace_core.lm.models import count_parameters, decoder_and_head, load_model, resolve_devices
from taskspace_core.lm.precision import autocast
from taskspace_core.lm.pretrain import ensure_checkpoint
from taskspace_core.provenance import atomic_write_json, provenance

HERE = Path(__file__).resolve().parent


def timed(fn, *args, **kwargs):
    """``(fn(*args, **kwargs), seconds it took)``."""
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - started


@torch.inference_mode()
def decoder_only(model, plan, device: str) -> None:
    """The decoder passes of a packed evaluation without the vocabulary projection."""
    decoder, _ = decoder_and_head(model)
    for batch in plan.batches:
        decoder(input_ids=batch.input_ids.to(device), position_ids=batch.position_ids.to(device),
                attention_mask=batch.mask.to(device))


def profile(config, model_path: Path, sources: int) -> dict:
    config = resolve_devices(config)  # precisions resolved, as in a worker
    model, tokenizer = load_model(model_path, device=config.device)
    data, prep_s = timed(prepare_probe_data, config, tokenizer)
    margins = config.scoring.eval2 == "margins"
    _, eval1_s = timed(evaluate, model, data, config)
    base = snapshot(model)
    ftgd = config.ftgd
    params = [p for p in model.parameters() if p.requires_grad]
    step = max(1, len(data.paradigms) // sources)
    rows = []
    for paradigm in data.paradigms[::step][:sources]:
        train = data.train[paradigm]
        _, mask_s = timed(differential_gradient, model, params, train, ftgd, data.pad_id)
        _, finetune_s = timed(finetune, model, train, ftgd, data.pad_id)
        _, eval2_s = timed(evaluate, model, data, config, margins=margins)
        decoder_s = float("nan")
        if config.scoring.pack_pairs and supports_packing(model):
            plan = data.margin_packed if margins else data.test_packed
            with autocast(config.scoring.precision, config.device):
                _, decoder_s = timed(decoder_only, model, plan, config.device)
        _, restore_s = timed(restore, model, base)
        rows.append({"paradigm": paradigm, "mask_s": mask_s, "steps_s": finetune_s - mask_s, "eval2_s": eval2_s,
                     "eval2_decoder_s": decoder_s, "restore_s": restore_s})
        print(json.dumps(rows[-1]), flush=True)
    mean = {k: statistics.mean(r[k] for r in rows) for k in rows[0] if k != "paradigm"}
    per_source = mean["mask_s"] + mean["steps_s"] + mean["eval2_s"] + mean["restore_s"]
    n = len(data.paradigms)
    return {"parameters": count_parameters(model), "threads": torch.get_num_threads(), "prepare_s": prep_s,
            "eval1_s": eval1_s, "per_source_mean": mean, "sources": rows, "paradigms": n,
            "space_s": eval1_s + n * per_source,
            "share": {"fine-tune": n * (mean["mask_s"] + mean["steps_s"]) / (eval1_s + n * per_source),
                      "eval2": n * mean["eval2_s"] / (eval1_s + n * per_source)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--size", default=None, help="default: the largest size")
    parser.add_argument("--checkpoint", default="0", help="any checkpoint of the right shape (default 0)")
    parser.add_argument("--sources", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    parser.add_argument("--label", required=True, help="names this configuration in the results file")
    parser.add_argument("--out", type=Path, default=None)
    args, extra = parser.parse_known_args()
    config = load_preset(args.preset, parse_dotted_args(extra))
    size = args.size or list(config.sizes)[-1]
    if args.threads:
        torch.set_num_threads(args.threads)
    model_path = ensure_checkpoint(config, size, args.checkpoint, train_if_missing=args.checkpoint == "0")
    result = profile(config, model_path, args.sources)
    out = args.out or HERE / "results" / f"space_profile_{args.preset}.json"
    runs = json.loads(out.read_text())["runs"] if out.exists() else []
    runs = [r for r in runs if (r["label"], r["size"]) != (args.label, size)]
    runs.append({"label": args.label, "size": size, "checkpoint": str(model_path.name),
                 "scoring": to_dict(config.scoring), "ftgd_precision": config.ftgd.precision, **result})
    atomic_write_json(out, provenance(kind="benchmark", benchmark="space_profile", preset=args.preset, runs=runs))
    print(f"{args.label} {size}: space ~{result['space_s'] / 60:.1f} min; fine-tune {result['share']['fine-tune']:.0%}, "
          f"eval2 {result['share']['eval2']:.0%} -> {out}")


if __name__ == "__main__":
    main()
