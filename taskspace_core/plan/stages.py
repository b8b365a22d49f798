"""What a preset's run has cost: the measured wall time of each stage, and the presets side by side.

    space_costs      the measured wall time of every stored space (committed and run store)
    run_stages       a preset's cost per stage: each pretraining run, each space
    preset_overview  one row per preset: sizes, epochs, checkpoints, paradigms, pairs
"""

from __future__ import annotations

import json

import pandas as pd

from ..config import PRESETS, Config, load_preset
from ..lm.checkpoints import find_checkpoint_meta
from ..lm.identity import run_name
from ..lm.models import spec_parameters
from .checks import committed_space
from .requests import plan_of, pretraining_runs


def space_costs(config: Config) -> pd.DataFrame:
    """Wall time of every stored task space of ``config.preset``: committed results and the run store.

    One row per space: where it is, its paradigms and method, fine-tune and eval2 seconds per
    paradigm, and the job time summed over all jobs (with ``space.workers`` worker processes
    running jobs side by side, the elapsed time is about that sum divided by the workers).
    """
    manifests = []
    root = config.reference_dir()
    if root is not None:
        manifests += [("committed", p) for p in sorted((root / "spaces").glob("*/manifest.json"))]
    manifests += [("run store", p) for p in sorted((config.run_dir() / "spaces").glob("*/summary.json"))]
    rows, seen = [], set()
    for where, path in manifests:
        record = json.loads(path.read_text())
        if path.parent.name in seen:  # the same key in both places: the committed copy is listed
            continue
        seen.add(path.parent.name)
        run = record.get("run", {})
        jobs, fine = run.get("job_time_s", {}), run.get("finetune_time_s", {})
        rows.append({
            "store": path.parent.name, "where": where, "paradigms": len(record["key"]["paradigms"]),
            "method": record["config"]["ftgd"]["method"],
            "fine-tune s/paradigm": sum(fine.values()) / max(len(fine), 1),
            "eval2 s/paradigm": (sum(jobs.values()) - sum(fine.values())) / max(len(jobs), 1),
            "summed job time (min)": (sum(jobs.values()) + run.get("eval1_time_s", 0)) / 60,
            "workers": record["config"]["space"]["workers"] if record["config"]["space"]["executor"] == "processes" else 1,
        })
    return pd.DataFrame(rows, columns=["store", "where", "paradigms", "method", "fine-tune s/paradigm", "eval2 s/paradigm",
                                       "summed job time (min)", "workers"])


def run_stages(config: Config) -> pd.DataFrame:
    """What ``config``'s run has cost so far, one row per stage: each pretraining run (from its
    final checkpoint's ``meta.json``; replicates included) and computing each stored space (:func:`space_costs`, its
    summed job time divided by the workers that ran side by side). Columns: stage, minutes, detail.
    A committed space of the plan is named as the plan names it (``small @ final (ftgd_seed=1)``)
    and listed in the plan's order; any other stored space by its store directory, after them."""
    stages = []
    for run, size in pretraining_runs(config):
        meta = find_checkpoint_meta(run, size, "final")
        if meta:
            stages.append({"stage": f"pretrain {run_name(run, size)}", "minutes": meta["wall_time_s"] / 60,
                           "detail": f"{meta['tokens_seen'] / 1e6:.2f}M tokens, validation perplexity {meta['val_ppl']:.1f}"})
    planned = {}  # store directory -> (position in the plan, description)
    for position, request in enumerate(plan_of(config).unique()):
        found = committed_space(config, request)
        if found is not None:
            planned.setdefault(found.name, (position, request.describe()))
    spaces = []
    for _, row in space_costs(config).iterrows():
        position, name = planned.get(row["store"], (len(planned), row["store"]))
        spaces.append((position, {"stage": name, "minutes": row["summed job time (min)"] / row["workers"],
                                  "detail": f"{row['method']}, {row['where']}; per paradigm: fine-tune "
                                            f"{row['fine-tune s/paradigm']:.1f} s, eval2 {row['eval2 s/paradigm']:.1f} s"}))
    stages += [stage for _, stage in sorted(spaces, key=lambda item: item[0])]
    return pd.DataFrame(stages, columns=["stage", "minutes", "detail"])


def preset_overview(names: tuple[str, ...] = PRESETS) -> pd.DataFrame:
    """One row per shipped preset: its sizes (millions of parameters), epochs, checkpoints, how many
    paradigms it covers and its test / train pairs per paradigm."""
    rows = []
    for name in names:
        pc = load_preset(name)
        rows.append({"preset": name, "sizes (M parameters)": ", ".join(
            f"{s} {spec_parameters(sp, pc.tokenizer.vocab_size) / 1e6:.2f}" for s, sp in pc.sizes.items()),
            "epochs": pc.pretrain.epochs, "checkpoints": ", ".join(f"{e:g}" for e in pc.pretrain.checkpoints),
            "paradigms": len(pc.data.paradigms) or 67, "test / train pairs": f"{pc.data.n_test} / {pc.data.n_train}"})
    return pd.DataFrame(rows).set_index("preset")
