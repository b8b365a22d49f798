"""Interleaved A/B of the scorer and of FTGD's forward path: an older commit's code against this one.

    python benchmarks/ab_scoring.py --model runs/cpu-v1/models/large/epoch-0.25 [--old 7afc86a]
                                    [--preset cpu-v1] [--every 3] [--repeats 3] [--finetunes 2]

Run-to-run noise on a shared machine is larger than some of the gains measured here, so the
two versions alternate in one process on the same sentences (every ``--every``-th sentence of
the preset's test pairs), and the best of ``--repeats`` rounds is reported:

- ``old``: ``score_token_ids`` of the old commit's ``scoring.py`` (read with ``git show``);
- ``one-length``: this commit, one sentence per row (``scoring.pack_pairs=false``);
- ``packed``: this commit, each pair's shared prefix run once;
- fine-tuning: this commit's ``finetune`` with the old or the new ``token_logprobs``.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def old_module(commit: str, path: str, name: str):
    """Import ``path`` as it was at ``commit`` under the module name ``name``."""
    source = subprocess.run(["git", "-C", str(REPO), "show", f"{commit}:{path}"], capture_output=True, text=True,
                            check=True).stdout
    file = Path(tempfile.mkdtemp()) / Path(path).name
    file.write_text(source)
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def best_rate(fn, work: float, repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        rates.append(work / (time.perf_counter() - started))
    return max(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--old", default="7afc86a")
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--every", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--finetunes", type=int, default=2)
    args = parser.parse_args()

    from taskspace_core.config import load_preset
    from taskspace_core.engine import ftgd, scoring
    from taskspace_core.engine.probing import prepare_probe_data
    from taskspace_core.lm.models import load_model

    old = old_module(args.old, "taskspace_core/engine/scoring.py", "taskspace_core._old_scoring")
    config = load_preset(args.preset)
    model, tokenizer = load_model(args.model)
    data = prepare_probe_data(config, tokenizer)
    good, bad = data.test.good[:: args.every], data.test.bad[:: args.every]
    tokens = sum(len(s) - 1 for s in good + bad)
    one_length = scoring.plan_batches(good + bad, config.scoring.batch_tokens)
    packed = scoring.plan_pairs(good, bad, config.scoring.batch_tokens)
    reference = old.score_token_ids(model, good + bad, data.pad_id, 64).total
    variants = {
        "old (padded, 64 sentences)": lambda: old.score_token_ids(model, good + bad, data.pad_id, 64).total,
        "one-length": lambda: scoring.score_plan(model, one_length).total,
    }
    if scoring.supports_packing(model):
        variants["packed"] = lambda: scoring.score_packed(model, packed).total
    rates = {name: [] for name in variants}
    for _ in range(args.repeats):  # alternate, so slow phases of the machine hit every variant
        for name, fn in variants.items():
            rates[name].append(best_rate(fn, tokens, 1))
    print(f"{args.model}: {len(good)} pairs, {tokens:,} scored tokens; best of {args.repeats}")
    for name, fn in variants.items():
        diff = np.abs(fn() - reference).max()
        print(f"  scoring {name:<28} {max(rates[name]):>9,.0f} tokens/s   max |diff| to old {diff:.1e}")

    base = ftgd.snapshot(model)
    paradigms = data.paradigms[:: max(1, len(data.paradigms) // args.finetunes)][: args.finetunes]
    timings = {"old token_logprobs": [], "new token_logprobs": []}
    for _ in range(args.repeats):
        for name, fn in (("old token_logprobs", old.token_logprobs), ("new token_logprobs", scoring.token_logprobs)):
            ftgd.token_logprobs = fn
            started = time.perf_counter()
            for p in paradigms:
                ftgd.finetune(model, data.train[p], config.ftgd, data.pad_id)
                ftgd.restore(model, base)
            timings[name].append((time.perf_counter() - started) / len(paradigms))
    ftgd.token_logprobs = scoring.token_logprobs
    for name, seconds in timings.items():
        print(f"  fine-tune with {name:<22} {min(seconds):.2f} s/paradigm")


if __name__ == "__main__":
    main()
