"""Where a task space's time goes, engine variants side by side: eval1, and per source paradigm the
FTGD mask, the fine-tuning steps, eval2 (its decoder and its vocabulary projection apart) and
restoring the base weights.

    python benchmarks/space_profile.py --preset cpu --size large [--checkpoint 0] [--sources 4]
        [--threads 1] [--variant NAME:FIELD=VALUE,FIELD=VALUE ...] [--out FILE.json]

Each ``--variant`` is the preset's engine with some fields changed, e.g.
``"before:scoring.eval2=sentences"`` (the engine before margin-only eval2) or
``"bf16:scoring.precision=bf16,ftgd.precision=bf16"``. The variants are timed interleaved, source
by source in one process (every variant fine-tunes the same paradigm from the same base weights
in turn), so a drift in the machine's speed falls on all of them alike. Timing does not depend on
the weights (every fine-tune runs its fixed number of steps), so any checkpoint of the right
shape serves; ``--checkpoint 0`` (the initialisation) trains nothing. ``--threads 1`` times one
worker of the default two-worker layout (a space's wall time is then about its job time / 2).
Results: ``benchmarks/results/space_profile_<preset>.json``, one row per size, with provenance.
A whole space's job time is eval1 plus 67 times the per-source mean.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from taskspace_core.cli.args import parse_dotted_args
from taskspace_core.config import apply_overrides, load_preset, to_dict
from taskspace_core.engine.ftgd import differential_gradient, finetune, restore, snapshot
from taskspace_core.engine.probing import evaluate, prepare_probe_data
from taskspace_core.engine.scoring import supports_packing
from taskspace_core.lm.models import count_parameters, decoder_and_head, load_model, resolve_devices
from taskspace_core.lm.precision import autocast
from taskspace_core.lm.pretrain import ensure_checkpoint, pretrain
from taskspace_core.provenance import atomic_write_json, provenance

HERE = Path(__file__).resolve().parent
PHASES = ("mask_s", "steps_s", "eval2_s", "eval2_decoder_s", "restore_s")


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


def one_source(model, data, config, paradigm: str, base) -> dict:
    """One source job of ``config``'s engine, phase by phase (the model is restored at the end)."""
    margins = config.scoring.eval2 == "margins"
    params = [p for p in model.parameters() if p.requires_grad]
    train = data.train[paradigm]
    _, mask_s = timed(differential_gradient, model, params, train, config.ftgd, data.pad_id)
    _, finetune_s = timed(finetune, model, train, config.ftgd, data.pad_id)
    _, eval2_s = timed(evaluate, model, data, config, margins=margins)
    decoder_s = float("nan")
    if config.scoring.pack_pairs and supports_packing(model):
        with autocast(config.scoring.precision, config.device):
            _, decoder_s = timed(decoder_only, model, data.margin_packed if margins else data.test_packed, config.device)
    _, restore_s = timed(restore, model, base)
    return {"mask_s": mask_s, "steps_s": finetune_s - mask_s, "eval2_s": eval2_s, "eval2_decoder_s": decoder_s,
            "restore_s": restore_s}


def profile(configs: dict, model_path: Path, sources: int) -> dict:
    """Every variant's eval1 and per-source phases, interleaved source by source."""
    first = next(iter(configs.values()))
    model, tokenizer = load_model(model_path, device=first.device)
    data, prepare_s = timed(prepare_probe_data, first, tokenizer)
    for plan in ("test_plan", "test_packed", "margin_plan", "margin_packed"):
        getattr(data, plan)  # built once, before anything is timed
    base = snapshot(model)
    eval1 = {name: timed(evaluate, model, data, config)[1] for name, config in configs.items()}
    step = max(1, len(data.paradigms) // sources)
    chosen = data.paradigms[::step][:sources]
    rows = {name: [] for name in configs}
    for paradigm in chosen:
        for name, config in configs.items():
            rows[name].append(one_source(model, data, config, paradigm, base))
            print(json.dumps({"variant": name, "paradigm": paradigm, **rows[name][-1]}), flush=True)
    n = len(data.paradigms)
    result = {}
    for name, config in configs.items():
        mean = {phase: statistics.mean(r[phase] for r in rows[name]) for phase in PHASES}
        job_s = eval1[name] + n * (mean["mask_s"] + mean["steps_s"] + mean["eval2_s"] + mean["restore_s"])
        result[name] = {"scoring": to_dict(config.scoring), "ftgd_precision": config.ftgd.precision,
                        "eval1_s": eval1[name], "per_source_mean": mean, "sources": rows[name], "space_job_s": job_s,
                        "share": {"fine-tune": n * (mean["mask_s"] + mean["steps_s"]) / job_s,
                                  "eval2": n * mean["eval2_s"] / job_s}}
    return {"parameters": count_parameters(model), "threads": torch.get_num_threads(), "prepare_s": prepare_s,
            "paradigms": n, "profiled_sources": chosen, "variants": result}


def parse_variant(text: str) -> tuple[str, dict]:
    name, _, fields = text.partition(":")
    return name, dict(item.split("=", 1) for item in fields.split(",") if item)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--size", default=None, help="default: the largest size")
    parser.add_argument("--checkpoint", default="0", help="any checkpoint of the right shape (default 0)")
    parser.add_argument("--sources", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: one worker's view)")
    parser.add_argument("--variant", action="append", required=True, help="NAME:FIELD=VALUE,FIELD=VALUE")
    parser.add_argument("--out", type=Path, default=None)
    args, extra = parser.parse_known_args()
    torch.set_num_threads(args.threads)
    base = load_preset(args.preset, parse_dotted_args(extra))
    size = args.size or list(base.sizes)[-1]
    if args.checkpoint == "0":  # the initialisation: written at once, nothing trained
        model_path = pretrain(base, size, until_epoch=0.0, log=lambda *_: None)[0]
    else:
        model_path = ensure_checkpoint(base, size, args.checkpoint, train_if_missing=False)
    configs = {name: resolve_devices(apply_overrides(base, fields)) for name, fields in map(parse_variant, args.variant)}
    result = profile(configs, model_path, args.sources)
    out = args.out or HERE / "results" / f"space_profile_{args.preset}.json"
    sizes = json.loads(out.read_text())["sizes"] if out.exists() else {}
    sizes[size] = {"checkpoint": model_path.name, **result}
    atomic_write_json(out, provenance(kind="benchmark", benchmark="space_profile", preset=args.preset, sizes=sizes))
    for name, row in result["variants"].items():
        print(f"{size} {name}: space job time ~{row['space_job_s'] / 60:.1f} min "
              f"(fine-tune {row['share']['fine-tune']:.0%}, eval2 {row['share']['eval2']:.0%})")


if __name__ == "__main__":
    main()
