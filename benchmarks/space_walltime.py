"""Wall time of one full task space (eval1 + 67 x [FTGD fine-tune + eval2]) from scratch.

    python benchmarks/space_walltime.py [--preset tiny] [--size large] [--checkpoint final]
                                        [--out FILE.json] [--section.field VALUE ...]

The checkpoint is taken from (or pretrained into) the preset's usual run directory; the task
space itself is computed into a fresh temporary store, so nothing is reused from a cache. It
reports the total, eval1, and the per-paradigm fine-tune and eval2 times (mean, min, max), and
how many pairs and tokens one evaluation pass scores. Results go to a JSON file with provenance.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

from taskspace_core.cli.args import parse_dotted_args
from taskspace_core.config import load_preset
from taskspace_core.engine.compute import compute_space
from taskspace_core.engine.probing import prepare_probe_data
from taskspace_core.lm.models import load_tokenizer
from taskspace_core.lm.pretrain import ensure_checkpoint
from taskspace_core.provenance import atomic_write_json, provenance

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--size", default=None, help="default: the largest size of the preset")
    parser.add_argument("--checkpoint", default="final")
    parser.add_argument("--out", default=None)
    args, extra = parser.parse_known_args()
    config = load_preset(args.preset, parse_dotted_args(extra))
    size = args.size or list(config.sizes)[-1]
    model_path = ensure_checkpoint(config, size, args.checkpoint)
    data = prepare_probe_data(config, load_tokenizer(model_path))
    n_tokens = sum(len(s) - 1 for s in data.test.good + data.test.bad)

    with tempfile.TemporaryDirectory() as tmp:
        fresh = dataclasses.replace(config, work_dir=tmp)
        started = time.perf_counter()
        space = compute_space(fresh, model_path, label="benchmark", progress=False)
        total = time.perf_counter() - started
    finetune = list(space.meta["finetune_time_s"].values())
    jobs = list(space.meta["job_time_s"].values())
    evals = [j - f for j, f in zip(jobs, finetune)]
    summary = lambda xs: {"mean": statistics.mean(xs), "min": min(xs), "max": max(xs)}  # noqa: E731
    result = provenance(
        kind="benchmark_space_walltime", preset=config.preset, size=size, checkpoint=str(model_path),
        paradigms=len(space.paradigms), test_pairs=len(data.test), scored_tokens_per_eval=n_tokens,
        ftgd=dataclasses.asdict(config.ftgd), total_s=round(total, 2), eval1_s=space.meta["eval1_time_s"],
        finetune_s=summary(finetune), eval2_s=summary(evals),
        eval_tokens_per_s=n_tokens / statistics.mean(evals),
    )
    out = Path(args.out) if args.out else HERE / "results" / f"space_walltime_{config.preset}_{size}.json"
    atomic_write_json(out, result)
    print(f"{config.preset}/{size}: {len(space.paradigms)}x{len(space.paradigms)} task space in {total:.0f}s "
          f"(eval1 {result['eval1_s']:.1f}s; per paradigm: fine-tune {result['finetune_s']['mean']:.1f}s, "
          f"eval2 {result['eval2_s']['mean']:.1f}s = {result['eval_tokens_per_s']:,.0f} tokens/s) -> {out}")


if __name__ == "__main__":
    main()
